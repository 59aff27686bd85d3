//! Key directories and files owned by another user are refused, whatever
//! their modes. Needs root to give files away (`chown`); as another user the
//! tests say so and stop.

use std::os::unix::fs::chown;

use super::*;

/// A uid that is neither the test's nor root's.
const STRANGER: u32 = 4_242_424;

/// Gives `path` to [`STRANGER`]; `false` (and a note) when not allowed.
fn give_away(path: &std::path::Path) -> bool {
    match chown(path, Some(STRANGER), None) {
        Ok(()) => true,
        Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
            eprintln!("not run: chown needs root ({err})");
            false
        }
        Err(err) => panic!("chown {}: {err}", path.display()),
    }
}

#[test]
fn a_key_file_owned_by_another_user_is_refused() {
    let (_temp, store, kid) = stored_key();
    for ext in ["p8", "json"] {
        let (_temp, store, kid) = stored_key();
        let file = store.dir().join(format!("{kid}.{ext}"));
        if !give_away(&file) {
            return;
        }
        let err = store.load(&KeyPolicy::default()).unwrap_err();
        assert!(matches!(err, KeyError::Insecure(_)), "{err}");
        let text = err.to_string();
        assert!(text.contains(&file.display().to_string()), "{text}");
        assert!(text.contains(&format!("owned by uid {STRANGER}")), "{text}");
        assert!(text.contains("chown"), "{text}");
    }
    assert!(
        store.load(&KeyPolicy::default()).is_ok(),
        "{kid}: own files pass"
    );
}

#[test]
fn a_key_directory_owned_by_another_user_is_refused() {
    let (temp, store, _kid) = stored_key();
    if !give_away(store.dir()) {
        return;
    }
    let err = KeyStore::open(temp.path()).unwrap_err();
    assert!(matches!(err, KeyError::Insecure(_)), "{err}");
    let text = err.to_string();
    assert!(text.contains(&store.dir().display().to_string()), "{text}");
    assert!(text.contains(&format!("owned by uid {STRANGER}")), "{text}");
}

#[test]
fn files_owned_by_root_pass() {
    // A Kubernetes Secret mount: root-owned files (0400/0440).
    let (_temp, store, kid) = stored_key();
    let file = store.dir().join(format!("{kid}.p8"));
    match chown(&file, Some(0), None) {
        Ok(()) => assert!(store.load(&KeyPolicy::default()).is_ok()),
        Err(err) => eprintln!("not run: chown needs root ({err})"),
    }
}
