//! What the store counts as its files, and how it treats files it finds in
//! the way: strays, hidden and temporary files, directories, files already
//! gone.

use super::*;

#[test]
fn only_visible_key_and_metadata_files_count() {
    let (_temp, store, kid) = stored_key();
    let dir = store.dir().to_owned();
    let before = store.fingerprint().unwrap();
    // Not ours: another extension, hidden files (an editor's copy, a write
    // in progress), a directory with a key's extension.
    fs::write(dir.join("notes.txt"), b"not a key\n").unwrap();
    fs::write(dir.join(".copy.p8"), b"not a key either").unwrap();
    fs::write(dir.join(".half.json"), b"{").unwrap();
    fs::write(dir.join(format!(".{kid}.p8.tmp")), b"partial").unwrap();
    fs::create_dir(dir.join("archive.p8")).unwrap();
    assert_eq!(store.fingerprint().unwrap(), before);
    let keys = store.load(&KeyPolicy::default()).unwrap().unwrap();
    assert_eq!(keys.entries().len(), 1);
    assert_eq!(keys.entries()[0].key.kid(), kid);

    // Ours: an edit to a key's metadata changes the fingerprint (a watcher
    // reloads new activation times without a new key).
    let meta = dir.join(format!("{kid}.json"));
    let mut text = fs::read(&meta).unwrap();
    text.extend_from_slice(b" \n");
    fs::write(&meta, text).unwrap();
    assert_ne!(store.fingerprint().unwrap(), before);
}

#[test]
fn removing_a_key_tolerates_files_already_gone_and_reports_any_other_failure() {
    let (_temp, store, kid) = stored_key();
    // Another replica rotated first: nothing left to remove is not an error.
    store.remove(&kid).unwrap();
    store.remove(&kid).unwrap();
    assert!(store.load(&KeyPolicy::default()).unwrap().is_none());
    // Something that cannot be unlinked (here a directory) is an error that
    // names the path.
    fs::create_dir(store.dir().join(format!("{kid}.p8"))).unwrap();
    let err = store.remove(&kid).unwrap_err().to_string();
    assert!(err.starts_with("cannot remove "), "{err}");
    assert!(err.contains(&format!("{kid}.p8")), "{err}");
}

#[test]
fn a_write_replaces_a_stale_temporary_file_and_reports_one_it_cannot_remove() {
    let (_temp, store, kid) = stored_key();
    let (key, private) = SigningKey::generate_es256().unwrap();
    let stale = store.dir().join(format!(".{}.p8.tmp", key.kid()));
    // Left by a write that was interrupted: removed, then written afresh.
    fs::write(&stale, b"partial").unwrap();
    let path = store.write(key.kid(), &private).unwrap();
    assert_eq!(fs::read(&path).unwrap(), private.pkcs8());
    assert!(!stale.exists());
    assert_eq!(mode(&path), 0o600);
    // A temporary path that cannot be removed stops the write at that step.
    let blocked = store.dir().join(format!(".{kid}.p8.tmp"));
    fs::create_dir(&blocked).unwrap();
    let err = store.write(&kid, &private).unwrap_err().to_string();
    assert!(err.starts_with("cannot remove "), "{err}");
    assert!(err.contains(&format!(".{kid}.p8.tmp")), "{err}");
}
