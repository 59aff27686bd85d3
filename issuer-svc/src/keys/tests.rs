#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::clock::{Clock, ManualClock};

mod files;
mod ownership;

const T0: u64 = 1_700_000_000;

fn mode(path: &std::path::Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn at(unix: u64) -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix)
}

/// 15 min ahead, 1 h lifetime (retention 3630 s).
fn policy(alg: Algorithm) -> KeyPolicy {
    KeyPolicy::new(alg, Duration::from_secs(900), Duration::from_secs(3600))
}

/// A store with one generated key: its directory, the store and the kid.
fn stored_key() -> (tempfile::TempDir, KeyStore, String) {
    let temp = tempfile::tempdir().unwrap();
    let store = KeyStore::open(temp.path()).unwrap();
    let keys = store.load_or_generate().unwrap();
    let kid = keys.entries()[0].key.kid().to_owned();
    (temp, store, kid)
}

/// One RSA key per test binary: generation is slow in debug builds.
fn rsa_key() -> &'static (SigningKey, PrivateKey) {
    static KEY: OnceLock<(SigningKey, PrivateKey)> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate_rs256().unwrap())
}

#[test]
fn first_start_generates_a_key_with_private_modes() {
    let temp = tempfile::tempdir().unwrap();
    let state_dir = temp.path().join("state");
    let store = KeyStore::open(&state_dir).unwrap();
    let clock = ManualClock::at_unix(T0);
    let keys = store
        .load_or_generate_with(&policy(Algorithm::Es256), &clock)
        .unwrap();
    let kid = keys.active(clock.now()).unwrap().kid().to_owned();

    assert_eq!(mode(&state_dir), 0o700);
    assert_eq!(mode(&state_dir.join("keys")), 0o700);
    let file = state_dir.join("keys").join(format!("{kid}.p8"));
    let meta = state_dir.join("keys").join(format!("{kid}.json"));
    assert_eq!((mode(&file), mode(&meta)), (0o600, 0o600));
    assert_eq!(fs::read_dir(state_dir.join("keys")).unwrap().count(), 2);
    let meta: KeyMeta = serde_json::from_slice(&fs::read(meta).unwrap()).unwrap();
    assert_eq!(
        meta,
        KeyMeta {
            kid,
            alg: "ES256".into(),
            created: T0,
            activates_at: T0
        }
    );
}

#[test]
fn kid_is_stable_across_reload() {
    let temp = tempfile::tempdir().unwrap();
    let first = KeyStore::open(temp.path())
        .unwrap()
        .load_or_generate()
        .unwrap();
    let second = KeyStore::open(temp.path())
        .unwrap()
        .load_or_generate()
        .unwrap();
    let now = at(T0 * 2);
    let kid = first.active(now).unwrap().kid();
    assert_eq!(kid, second.active(now).unwrap().kid());
    assert_eq!(first.jwks(now), second.jwks(now));
    assert_eq!(second.entries().len(), 1);
}

#[test]
fn key_files_readable_by_others_are_refused_but_read_only_secret_modes_pass() {
    let temp = tempfile::tempdir().unwrap();
    let store = KeyStore::open(temp.path()).unwrap();
    let keys = store.load_or_generate().unwrap();
    let kid = keys.entries()[0].key.kid().to_owned();
    let file = store.dir().join(format!("{kid}.p8"));
    for refused in [0o640, 0o604, 0o660, 0o644] {
        fs::set_permissions(&file, fs::Permissions::from_mode(refused)).unwrap();
        let err = store.load(&KeyPolicy::default()).unwrap_err();
        assert!(matches!(err, KeyError::Insecure(_)), "{refused:o}: {err}");
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
    // Kubernetes Secret with defaultMode 0400 (and an fsGroup: 0440).
    for allowed in [0o600, 0o400, 0o440] {
        fs::set_permissions(&file, fs::Permissions::from_mode(allowed)).unwrap();
        assert!(store.load(&KeyPolicy::default()).is_ok(), "{allowed:o}");
    }
    let meta = store.dir().join(format!("{kid}.json"));
    fs::set_permissions(&meta, fs::Permissions::from_mode(0o644)).unwrap();
    assert!(matches!(
        store.load(&KeyPolicy::default()),
        Err(KeyError::Insecure(_))
    ));
}

#[test]
fn key_directory_open_to_group_is_refused() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("keys");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o750)).unwrap();
    let err = KeyStore::open(temp.path()).unwrap_err();
    assert!(err.to_string().contains("chmod 700"), "{err}");
}

#[test]
fn key_file_named_after_another_kid_is_refused() {
    let temp = tempfile::tempdir().unwrap();
    let store = KeyStore::open(temp.path()).unwrap();
    let (_, private) = SigningKey::generate_es256().unwrap();
    store.write("not-the-thumbprint", &private).unwrap();
    let err = store.load_or_generate().unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
}

#[test]
fn metadata_naming_another_kid_is_refused() {
    let temp = tempfile::tempdir().unwrap();
    let store = KeyStore::open(temp.path()).unwrap();
    let keys = store.load_or_generate().unwrap();
    let kid = keys.entries()[0].key.kid().to_owned();
    let meta = store.dir().join(format!("{kid}.json"));
    let text = fs::read_to_string(&meta).unwrap().replace(&kid, "other");
    fs::write(&meta, text).unwrap();
    let err = store.load(&KeyPolicy::default()).unwrap_err();
    assert!(
        err.to_string().contains("metadata names kid other"),
        "{err}"
    );
}

#[test]
fn empty_read_only_directory_says_where_to_rotate() {
    let temp = tempfile::tempdir().unwrap();
    let mut store = KeyStore::open(temp.path()).unwrap();
    store.pretend_read_only = true;
    let err = store
        .load_or_generate_with(&KeyPolicy::default(), &ManualClock::at_unix(T0))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "no signing key in {} and it is not writable: run `issuer-svc keys rotate` where it is writable",
            store.dir().display()
        )
    );
    assert_eq!(fs::read_dir(store.dir()).unwrap().count(), 0);
}

#[test]
fn a_failed_first_write_reads_as_read_only_only_when_the_directory_is_not_writable() {
    let temp = tempfile::tempdir().unwrap();
    let mut store = KeyStore::open(temp.path()).unwrap();
    store.pretend_write_error = true;
    let generate = |store: &KeyStore| {
        store
            .load_or_generate_with(&KeyPolicy::default(), &ManualClock::at_unix(T0))
            .unwrap_err()
    };
    // A writable directory: the I/O error itself, not "not writable".
    let err = generate(&store);
    assert!(matches!(err, KeyError::Io(_)), "{err}");
    store.pretend_unwritable = true;
    let err = generate(&store);
    assert!(matches!(err, KeyError::EmptyReadOnly(_)), "{err}");
    assert!(err.to_string().contains("issuer-svc keys rotate"), "{err}");
}

#[test]
fn serving_never_writes_when_a_key_exists() {
    let temp = tempfile::tempdir().unwrap();
    let store = KeyStore::open(temp.path()).unwrap();
    store.load_or_generate().unwrap();
    let mut read_only = KeyStore::open(temp.path()).unwrap();
    read_only.pretend_read_only = true;
    let before = read_only.fingerprint().unwrap();
    let keys = read_only
        .load_or_generate_with(&KeyPolicy::default(), &ManualClock::at_unix(T0 * 2))
        .unwrap();
    assert_eq!(keys.entries().len(), 1);
    assert_eq!(read_only.fingerprint().unwrap(), before);
}

#[test]
fn kid_is_the_jwk_thumbprint() {
    let (key, _) = SigningKey::generate_es256().unwrap();
    let jwk = key.jwk();
    assert_eq!(
        key.kid(),
        ec_p256_thumbprint(jwk.x.as_deref().unwrap(), jwk.y.as_deref().unwrap())
    );
    assert_eq!((jwk.alg.as_str(), key.alg().as_str()), ("ES256", "ES256"));
    let (rsa, _) = rsa_key();
    let jwk = rsa.jwk();
    assert_eq!(
        rsa.kid(),
        rsa_thumbprint(jwk.n.as_deref().unwrap(), jwk.e.as_deref().unwrap())
    );
    assert_eq!((jwk.kty.as_str(), jwk.alg.as_str()), ("RSA", "RS256"));
    assert_eq!(jwk.e.as_deref(), Some("AQAB"));
}

#[test]
fn rsa_key_round_trips_through_pkcs8_and_signs_256_bytes() {
    let (key, private) = rsa_key();
    let loaded = SigningKey::from_pkcs8(private).unwrap();
    assert_eq!((loaded.kid(), loaded.alg()), (key.kid(), Algorithm::Rs256));
    assert_eq!(loaded.sign(b"message").unwrap().len(), 256);
    assert!(SigningKey::from_pkcs8_as(private, Algorithm::Es256).is_err());
    assert!(SigningKey::from_pkcs8(&PrivateKey::from_pkcs8(vec![0x30, 0])).is_err());
}

#[test]
fn private_material_is_redacted_in_debug() {
    let (key, private) = SigningKey::generate_es256().unwrap();
    assert_eq!(format!("{private:?}"), "PrivateKey([redacted])");
    let debug = format!("{key:?}");
    assert!(
        debug.contains(key.kid()) && !debug.contains("pair"),
        "{debug}"
    );
}

#[test]
fn key_set_requires_exactly_one_active_key() {
    let (a, _) = SigningKey::generate_es256().unwrap();
    let (b, _) = SigningKey::generate_es256().unwrap();
    let published = |key: SigningKey, state| PublishedKey {
        key: Arc::new(key),
        state,
    };
    assert!(KeySet::new(vec![]).is_err());
    let set = KeySet::new(vec![
        published(b, KeyState::Active),
        published(a, KeyState::Retired),
    ])
    .unwrap();
    let now = at(T0);
    assert_eq!(set.jwks(now).keys.len(), 2);
    assert_eq!(set.active(now).unwrap().kid(), set.jwks(now).keys[1].kid);
    let states: Vec<KeyState> = set.key_states(now).into_iter().map(|k| k.2).collect();
    assert_eq!(states, [KeyState::Retired, KeyState::Active]);
}

#[test]
fn rotation_publishes_ahead_then_activates_retires_and_expires_by_time() {
    let temp = tempfile::tempdir().unwrap();
    let store = KeyStore::open(temp.path()).unwrap();
    let clock = ManualClock::at_unix(T0);
    let policy = policy(Algorithm::Es256);
    let first = store.load_or_generate_with(&policy, &clock).unwrap();
    let old = first.active(clock.now()).unwrap().kid().to_owned();

    clock.advance(Duration::from_secs(100));
    let rotation = store.rotate(&policy, &clock).unwrap();
    let new = rotation.kid.clone();
    assert_eq!(rotation.activates_at, T0 + 100 + 900);
    let keys = rotation.keys;
    let states = |now: u64| -> Vec<(String, KeyState)> {
        keys.key_states(at(now))
            .into_iter()
            .map(|(kid, _, state)| (kid, state))
            .collect()
    };
    let jwks_kids =
        |now: u64| -> Vec<String> { keys.jwks(at(now)).keys.into_iter().map(|k| k.kid).collect() };
    // Published at once, still signing with the old key.
    assert_eq!(
        states(T0 + 100),
        [
            (old.clone(), KeyState::Active),
            (new.clone(), KeyState::Pending)
        ]
    );
    assert_eq!(jwks_kids(T0 + 100), [old.clone(), new.clone()]);
    assert_eq!(keys.active(at(T0 + 999)).unwrap().kid(), old);
    // Activation on its own, by time.
    assert_eq!(keys.active(at(T0 + 1000)).unwrap().kid(), new);
    assert_eq!(
        states(T0 + 1000),
        [
            (old.clone(), KeyState::Retired),
            (new.clone(), KeyState::Active)
        ]
    );
    // Retired key stays published for lifetime + 30 s, then leaves.
    let status = &keys.statuses(at(T0 + 1000))[0];
    assert_eq!(
        (status.retired_at, status.published_until),
        (Some(T0 + 1000), Some(T0 + 1000 + 3630))
    );
    assert_eq!(jwks_kids(T0 + 1000 + 3629), [old.clone(), new.clone()]);
    assert_eq!(jwks_kids(T0 + 1000 + 3630), std::slice::from_ref(&new));
    assert_eq!(states(T0 + 1000 + 3630)[0].1, KeyState::Expired);

    // The next rotation deletes the expired key's files.
    clock.set(at(T0 + 1000 + 3630));
    let next = store.rotate(&policy, &clock).unwrap();
    assert_eq!(next.removed, std::slice::from_ref(&old));
    assert!(!store.dir().join(format!("{old}.p8")).exists());
    assert!(!store.dir().join(format!("{old}.json")).exists());
    assert_eq!(next.keys.entries().len(), 2);
}

#[test]
fn rotate_on_an_empty_directory_activates_at_once() {
    let temp = tempfile::tempdir().unwrap();
    let store = KeyStore::open(temp.path()).unwrap();
    let clock = ManualClock::at_unix(T0);
    let rotation = store.rotate(&policy(Algorithm::Es256), &clock).unwrap();
    assert_eq!(rotation.activates_at, T0);
    assert_eq!(
        rotation.keys.active(clock.now()).unwrap().kid(),
        rotation.kid
    );
}

#[test]
fn rotate_to_rs256_keeps_es256_published_and_lists_both_algs() {
    let temp = tempfile::tempdir().unwrap();
    let store = KeyStore::open(temp.path()).unwrap();
    let clock = ManualClock::at_unix(T0);
    store
        .load_or_generate_with(&policy(Algorithm::Es256), &clock)
        .unwrap();
    let rotation = store.rotate(&policy(Algorithm::Rs256), &clock).unwrap();
    assert_eq!(rotation.alg, Algorithm::Rs256);
    assert_eq!(rotation.keys.algorithms(clock.now()), ["ES256", "RS256"]);
    // The JWKS never carries a private member, RSA included.
    let jwks = serde_json::to_value(rotation.keys.jwks(clock.now())).unwrap();
    for key in jwks["keys"].as_array().unwrap() {
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(key.get(private).is_none(), "{private} in {key}");
        }
    }
    // A fresh store on the same directory loads the RSA key with its alg.
    let again = KeyStore::open(temp.path())
        .unwrap()
        .load(&policy(Algorithm::Es256))
        .unwrap()
        .unwrap();
    assert_eq!(again.jwks(clock.now()), rotation.keys.jwks(clock.now()));
}

#[test]
fn keys_written_before_metadata_existed_are_adopted_by_rotate() {
    let temp = tempfile::tempdir().unwrap();
    let store = KeyStore::open(temp.path()).unwrap();
    let (key, private) = SigningKey::generate_es256().unwrap();
    store.write(key.kid(), &private).unwrap();
    let clock = crate::clock::SystemClock;
    let loaded = store.load(&KeyPolicy::default()).unwrap().unwrap();
    assert_eq!(loaded.active(clock.now()).unwrap().kid(), key.kid());
    let rotation = store.rotate(&KeyPolicy::default(), &clock).unwrap();
    assert_eq!(rotation.adopted, [key.kid().to_owned()]);
    assert!(store.dir().join(format!("{}.json", key.kid())).exists());
    assert_eq!(rotation.keys.active(clock.now()).unwrap().kid(), key.kid());
}

#[test]
fn two_stores_on_one_directory_publish_identical_jwks() {
    let temp = tempfile::tempdir().unwrap();
    let clock = ManualClock::at_unix(T0);
    let writer = KeyStore::open(temp.path()).unwrap();
    writer
        .load_or_generate_with(&policy(Algorithm::Es256), &clock)
        .unwrap();
    writer.rotate(&policy(Algorithm::Es256), &clock).unwrap();
    let a = KeyStore::open(temp.path())
        .unwrap()
        .load(&policy(Algorithm::Es256));
    let b = KeyStore::open(temp.path())
        .unwrap()
        .load(&policy(Algorithm::Es256));
    let (a, b) = (a.unwrap().unwrap(), b.unwrap().unwrap());
    for now in [T0, T0 + 900, T0 + 900 + 3630] {
        assert_eq!(a.jwks(at(now)), b.jwks(at(now)));
        assert_eq!(
            a.active(at(now)).unwrap().kid(),
            b.active(at(now)).unwrap().kid()
        );
    }
}

#[test]
fn watcher_picks_up_a_rotation_without_restart() {
    let temp = tempfile::tempdir().unwrap();
    let store = KeyStore::open(temp.path()).unwrap();
    let clock = Arc::new(ManualClock::at_unix(T0));
    let policy = policy(Algorithm::Es256);
    let keys = store
        .load_or_generate_with(&policy, clock.as_ref())
        .unwrap();
    let ring = Arc::new(KeyRing::new(keys));
    let mut watcher = watch::KeyWatcher::new(
        store.clone(),
        Arc::clone(&ring),
        Box::new(move || policy),
        clock.clone(),
    );
    assert!(!watcher.check());
    let rotation = store.rotate(&policy, clock.as_ref()).unwrap();
    assert!(watcher.check());
    assert_eq!(ring.current().jwks(clock.now()).keys.len(), 2);
    assert!(!watcher.check());
    clock.advance(Duration::from_secs(900));
    assert_eq!(
        ring.current().active(clock.now()).unwrap().kid(),
        rotation.kid
    );
    // A broken file keeps the loaded keys serving.
    fs::write(store.dir().join("broken.p8"), b"junk").unwrap();
    fs::set_permissions(
        store.dir().join("broken.p8"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    assert!(!watcher.check());
    assert_eq!(ring.current().jwks(clock.now()).keys.len(), 2);
}

#[test]
fn cache_max_age_is_a_third_of_publish_ahead_capped_at_5_min() {
    assert_eq!(
        KeyPolicy::default().cache_max_age(),
        Duration::from_secs(300)
    );
    let short = KeyPolicy::new(Algorithm::Es256, Duration::from_secs(3), Duration::ZERO);
    assert_eq!(short.cache_max_age(), Duration::from_secs(1));
    assert_eq!(short.retention, EXPIRY_LEEWAY);
}

#[test]
fn a_zero_publish_ahead_rotation_in_the_same_second_still_comes_after() {
    let temp = tempfile::tempdir().unwrap();
    let store = KeyStore::open(temp.path()).unwrap();
    let clock = ManualClock::at_unix(T0);
    let zero = KeyPolicy::new(Algorithm::Es256, Duration::ZERO, Duration::from_secs(3600));
    store.load_or_generate_with(&zero, &clock).unwrap();
    let rotation = store.rotate(&zero, &clock).unwrap();
    assert_eq!(rotation.activates_at, T0 + 1);
    assert_eq!(
        rotation.keys.active(at(T0 + 1)).unwrap().kid(),
        rotation.kid
    );
}
