#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::*;

fn mode(path: &std::path::Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn first_start_generates_a_key_with_private_modes() {
    let temp = tempfile::tempdir().unwrap();
    let state_dir = temp.path().join("state");
    let store = KeyStore::open(&state_dir).unwrap();
    let keys = store.load_or_generate().unwrap();
    let kid = keys.active().unwrap().kid().to_owned();

    assert_eq!(mode(&state_dir), 0o700);
    assert_eq!(mode(&state_dir.join("keys")), 0o700);
    let file = state_dir.join("keys").join(format!("{kid}.p8"));
    assert_eq!(mode(&file), 0o600);
    assert_eq!(fs::read_dir(state_dir.join("keys")).unwrap().count(), 1);
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
    let kid = first.active().unwrap().kid();
    assert_eq!(kid, second.active().unwrap().kid());
    assert_eq!(first.jwks(), second.jwks());
    assert_eq!(second.keys().len(), 1);
}

#[test]
fn group_readable_key_file_is_refused() {
    let temp = tempfile::tempdir().unwrap();
    let store = KeyStore::open(temp.path()).unwrap();
    let kid = store
        .load_or_generate()
        .unwrap()
        .active()
        .unwrap()
        .kid()
        .to_owned();
    let file = store.dir().join(format!("{kid}.p8"));
    fs::set_permissions(&file, fs::Permissions::from_mode(0o640)).unwrap();
    let err = store.load_or_generate().unwrap_err();
    assert!(matches!(err, KeyError::Insecure(_)), "{err}");
    assert!(err.to_string().contains("chmod 600"), "{err}");
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
fn kid_is_the_jwk_thumbprint() {
    let (key, _) = SigningKey::generate_es256().unwrap();
    let jwk = key.jwk();
    assert_eq!(key.kid(), ec_p256_thumbprint(&jwk.x, &jwk.y));
    assert_eq!(jwk.alg, "ES256");
    assert_eq!(key.alg().as_str(), "ES256");
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
        published(a, KeyState::Retired),
        published(b, KeyState::Active),
    ])
    .unwrap();
    assert_eq!(set.jwks().keys.len(), 2);
    assert_eq!(set.active().unwrap().kid(), set.jwks().keys[1].kid);
}
