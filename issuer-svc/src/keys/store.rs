//! Keys on disk: `<state_dir>/keys/<kid>.p8` (PKCS#8 DER) and
//! `<kid>.json` (its metadata), directory 0700, files 0600 from the moment
//! they exist. Serving never writes when a key exists, so replicas can share
//! one read-only directory (a Kubernetes Secret, say).

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Algorithm, KeyEntry, KeyError, KeyPolicy, KeySet, KeyState, PrivateKey, SigningKey};
use crate::clock::{Clock, unix};

const KEY_EXTENSION: &str = "p8";
const META_EXTENSION: &str = "json";

/// Per-key metadata, stored beside the key as `<kid>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyMeta {
    pub kid: String,
    pub alg: String,
    /// Unix seconds.
    pub created: u64,
    /// Unix seconds; the key signs from then on.
    pub activates_at: u64,
}

/// What `keys rotate` did.
#[derive(Debug)]
pub struct Rotation {
    pub kid: String,
    pub alg: Algorithm,
    pub activates_at: u64,
    /// Kids of expired keys whose files were deleted.
    pub removed: Vec<String>,
    /// Kids of keys written before metadata existed, now given some.
    pub adopted: Vec<String>,
    /// The keys after the rotation.
    pub keys: KeySet,
}

/// The directory holding the signing keys.
#[derive(Debug, Clone)]
pub struct KeyStore {
    dir: PathBuf,
    #[cfg(test)]
    pub(crate) pretend_read_only: bool,
    /// Tests only: the directory reads as not writable (as root, a real one
    /// on a writable filesystem cannot be staged).
    #[cfg(test)]
    pub(crate) pretend_unwritable: bool,
    /// Tests only: every file write fails with an I/O error.
    #[cfg(test)]
    pub(crate) pretend_write_error: bool,
}

impl KeyStore {
    /// Uses `state_dir/keys`, creating it (and `state_dir`) with mode 0700
    /// only when missing.
    pub fn open(state_dir: &Path) -> Result<KeyStore, KeyError> {
        let dir = state_dir.join("keys");
        if !dir.is_dir() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(|err| io_error("cannot create", &dir, &err))?;
        }
        check_dir(&dir)?;
        Ok(KeyStore {
            dir,
            #[cfg(test)]
            pretend_read_only: false,
            #[cfg(test)]
            pretend_unwritable: false,
            #[cfg(test)]
            pretend_write_error: false,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Loads the stored keys (never writes); `None` when there is none.
    pub fn load(&self, policy: &KeyPolicy) -> Result<Option<KeySet>, KeyError> {
        let entries = self.load_entries()?;
        if entries.is_empty() {
            return Ok(None);
        }
        KeySet::from_entries(
            entries.into_iter().map(|(entry, _)| entry).collect(),
            *policy,
        )
        .map(Some)
    }

    /// Loads every stored key with the default policy, generating one on
    /// first start.
    pub fn load_or_generate(&self) -> Result<KeySet, KeyError> {
        self.load_or_generate_with(&KeyPolicy::default(), &crate::clock::SystemClock)
    }

    /// Loads every stored key; on first start (empty directory) generates a
    /// key of `policy.algorithm` that is active at once. An empty directory
    /// that cannot be written is an error that says where to rotate.
    pub fn load_or_generate_with(
        &self,
        policy: &KeyPolicy,
        clock: &dyn Clock,
    ) -> Result<KeySet, KeyError> {
        if let Some(keys) = self.load(policy)? {
            return Ok(keys);
        }
        if self.is_read_only() {
            return Err(KeyError::EmptyReadOnly(self.dir.display().to_string()));
        }
        let (key, private) = SigningKey::generate(policy.algorithm)?;
        let now = clock.unix_seconds();
        self.write_key(&key, &private, now, now)
            .map_err(|err| match err {
                KeyError::Io(_) if !self.is_writable() => {
                    KeyError::EmptyReadOnly(self.dir.display().to_string())
                }
                other => other,
            })?;
        tracing::info!(kid = key.kid(), alg = key.alg().as_str(), dir = %self.dir.display(), "generated the first signing key");
        self.load(policy)?.ok_or(KeyError::NoActiveKey)
    }

    /// Adds a key that is published at once and signs after
    /// `policy.publish_ahead` (at once when the directory holds no key).
    /// Deletes the files of expired keys and writes metadata for keys that
    /// have none.
    pub fn rotate(&self, policy: &KeyPolicy, clock: &dyn Clock) -> Result<Rotation, KeyError> {
        // Generate first (RSA can take a while); the key list and the times
        // are read afterwards, just before writing.
        let (key, private) = SigningKey::generate(policy.algorithm)?;
        let now_time = clock.now();
        let now = unix(now_time);
        let stored = self.load_entries()?;
        let mut adopted = Vec::new();
        for (entry, has_meta) in &stored {
            if !has_meta {
                self.write_meta(&entry.key, entry.created, entry.activates_at)?;
                adopted.push(entry.key.kid().to_owned());
            }
        }
        let mut removed = Vec::new();
        if !stored.is_empty() {
            let set = KeySet::from_entries(
                stored.iter().map(|(entry, _)| entry.clone()).collect(),
                *policy,
            )?;
            for status in set.statuses(now_time) {
                if status.state == KeyState::Expired {
                    self.remove(&status.kid)?;
                    removed.push(status.kid);
                }
            }
        }
        // Strictly after every existing key, so that order by activation
        // is never decided by a tie (times are whole seconds).
        let latest = stored.iter().map(|(entry, _)| entry.activates_at).max();
        let activates_at = match latest {
            None => now,
            Some(latest) => now
                .saturating_add(policy.publish_ahead.as_secs())
                .max(latest.saturating_add(1)),
        };
        self.write_key(&key, &private, now, activates_at)?;
        tracing::info!(
            kid = key.kid(),
            alg = key.alg().as_str(),
            activates_at,
            "rotated: new signing key published"
        );
        let keys = self.load(policy)?.ok_or(KeyError::NoActiveKey)?;
        Ok(Rotation {
            kid: key.kid().to_owned(),
            alg: key.alg(),
            activates_at,
            removed,
            adopted,
            keys,
        })
    }

    /// A digest of every key and metadata file: changes when a key is
    /// added, removed or replaced (a Kubernetes Secret update included).
    pub fn fingerprint(&self) -> Result<[u8; 32], KeyError> {
        let mut hasher = Sha256::new();
        for path in self.files()? {
            let bytes = fs::read(&path).map_err(|err| io_error("cannot read", &path, &err))?;
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            hasher.update(name.unwrap_or_default().as_bytes());
            hasher.update((bytes.len() as u64).to_be_bytes());
            hasher.update(&bytes);
        }
        Ok(hasher.finalize().into())
    }

    /// Key and metadata files (not hidden; symlinks followed), sorted.
    fn files(&self) -> Result<Vec<PathBuf>, KeyError> {
        let entries =
            fs::read_dir(&self.dir).map_err(|err| io_error("cannot list", &self.dir, &err))?;
        let mut files = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|err| io_error("cannot list", &self.dir, &err))?
                .path();
            let hidden = path
                .file_name()
                .is_none_or(|name| name.to_string_lossy().starts_with('.'));
            let ours = path
                .extension()
                .is_some_and(|ext| ext == KEY_EXTENSION || ext == META_EXTENSION);
            if !hidden && ours && path.is_file() {
                files.push(path);
            }
        }
        files.sort();
        Ok(files)
    }

    /// Every key, and whether it has a metadata file.
    fn load_entries(&self) -> Result<Vec<(KeyEntry, bool)>, KeyError> {
        let mut entries = Vec::new();
        for path in self.files()? {
            if path.extension().is_some_and(|ext| ext == KEY_EXTENSION) {
                entries.push(load_entry(&path)?);
            }
        }
        Ok(entries)
    }

    fn write_key(
        &self,
        key: &SigningKey,
        private: &PrivateKey,
        created: u64,
        activates_at: u64,
    ) -> Result<(), KeyError> {
        // Metadata first: a watcher that sees the key also sees its times.
        self.write_meta(key, created, activates_at)?;
        self.write(key.kid(), private)?;
        Ok(())
    }

    fn write_meta(
        &self,
        key: &SigningKey,
        created: u64,
        activates_at: u64,
    ) -> Result<(), KeyError> {
        let meta = KeyMeta {
            kid: key.kid().to_owned(),
            alg: key.alg().as_str().to_owned(),
            created,
            activates_at,
        };
        let mut json = serde_json::to_vec_pretty(&meta)
            .map_err(|err| KeyError::Invalid(format!("cannot encode metadata: {err}")))?;
        json.push(b'\n');
        self.write_file(&format!("{}.{META_EXTENSION}", key.kid()), &json)?;
        Ok(())
    }

    /// Writes a key atomically: a 0600 temporary file, then a rename.
    pub fn write(&self, kid: &str, private: &PrivateKey) -> Result<PathBuf, KeyError> {
        self.write_file(&format!("{kid}.{KEY_EXTENSION}"), private.pkcs8())
    }

    fn write_file(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, KeyError> {
        let path = self.dir.join(name);
        let temp = self.dir.join(format!(".{name}.tmp"));
        #[cfg(test)]
        if self.pretend_write_error {
            return Err(KeyError::Io(format!(
                "cannot write {}: test",
                temp.display()
            )));
        }
        match fs::remove_file(&temp) {
            Ok(()) => {}
            Err(err) if err.kind() == ErrorKind::NotFound => {}
            Err(err) => return Err(io_error("cannot remove", &temp, &err)),
        }
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
            .map_err(|err| io_error("cannot create", &temp, &err))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(|err| io_error("cannot write", &temp, &err))?;
        fs::rename(&temp, &path).map_err(|err| io_error("cannot rename", &temp, &err))?;
        if let Ok(dir) = fs::File::open(&self.dir) {
            // Best effort: make the rename durable.
            let _ = dir.sync_all();
        }
        Ok(path)
    }

    /// Deletes a key's files (key first, so no key is left without times).
    pub(super) fn remove(&self, kid: &str) -> Result<(), KeyError> {
        for ext in [KEY_EXTENSION, META_EXTENSION] {
            let path = self.dir.join(format!("{kid}.{ext}"));
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(err) if err.kind() == ErrorKind::NotFound => {}
                Err(err) => return Err(io_error("cannot remove", &path, &err)),
            }
        }
        Ok(())
    }

    fn is_read_only(&self) -> bool {
        #[cfg(test)]
        if self.pretend_read_only {
            return true;
        }
        on_read_only_fs(&self.dir)
    }

    /// Whether this process may create files in the directory: `access(2)`
    /// answers `EROFS` on a read-only filesystem and `EACCES` without write
    /// permission.
    fn is_writable(&self) -> bool {
        #[cfg(test)]
        if self.pretend_unwritable {
            return false;
        }
        rustix::fs::access(&self.dir, rustix::fs::Access::WRITE_OK).is_ok()
    }
}

fn load_entry(path: &Path) -> Result<(KeyEntry, bool), KeyError> {
    check_private_file(path)?;
    let der = fs::read(path).map_err(|err| io_error("cannot read", path, &err))?;
    let private = PrivateKey::from_pkcs8(der);
    let meta = load_meta(&path.with_extension(META_EXTENSION))?;
    let key = match &meta {
        Some(meta) => {
            let alg = Algorithm::parse(&meta.alg).ok_or_else(|| {
                KeyError::Invalid(format!("{}: unknown alg `{}`", path.display(), meta.alg))
            })?;
            SigningKey::from_pkcs8_as(&private, alg)
        }
        None => SigningKey::from_pkcs8(&private),
    }
    .map_err(|err| KeyError::Invalid(format!("{}: {err}", path.display())))?;
    let expected = format!("{}.{KEY_EXTENSION}", key.kid());
    if path
        .file_name()
        .is_none_or(|name| name.to_string_lossy() != expected)
    {
        return Err(KeyError::Invalid(format!(
            "{}: file name does not match the key's kid (expected {expected})",
            path.display()
        )));
    }
    let (created, activates_at) = match &meta {
        Some(meta) if meta.kid != key.kid() => {
            return Err(KeyError::Invalid(format!(
                "{}: metadata names kid {} but the key is {}",
                path.with_extension(META_EXTENSION).display(),
                meta.kid,
                key.kid()
            )));
        }
        Some(meta) => (meta.created, meta.activates_at),
        None => {
            // Written before metadata existed: active since it was written.
            let written = fs::metadata(path)
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            (unix(written), unix(written))
        }
    };
    let entry = KeyEntry {
        key: Arc::new(key),
        created,
        activates_at,
    };
    Ok((entry, meta.is_some()))
}

fn load_meta(path: &Path) -> Result<Option<KeyMeta>, KeyError> {
    if !path.exists() {
        return Ok(None);
    }
    check_private_file(path)?;
    let text = fs::read(path).map_err(|err| io_error("cannot read", path, &err))?;
    serde_json::from_slice(&text)
        .map(Some)
        .map_err(|err| KeyError::Invalid(format!("{}: {err}", path.display())))
}

/// Refuses a key directory owned by another user ([`check_owner`]), or that
/// group or others can access, unless it is on a read-only file system (a
/// Kubernetes Secret mount is 1777 but read-only: nobody can plant a key there).
fn check_dir(dir: &Path) -> Result<(), KeyError> {
    let metadata = fs::metadata(dir).map_err(|err| io_error("cannot stat", dir, &err))?;
    check_owner(dir, &metadata)?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 && !on_read_only_fs(dir) {
        return Err(KeyError::Insecure(format!(
            "{} has mode {mode:03o}; group and others must have no access (chmod 700 {})",
            dir.display(),
            dir.display()
        )));
    }
    Ok(())
}

/// Refuses a key or metadata file owned by another user ([`check_owner`]),
/// that others can access, or that group can access beyond reading a
/// read-only file: 0600 and 0400 pass, and so does 0440 (a Kubernetes
/// Secret with `defaultMode: 0400` and an `fsGroup`).
fn check_private_file(path: &Path) -> Result<(), KeyError> {
    let metadata = fs::metadata(path).map_err(|err| io_error("cannot stat", path, &err))?;
    check_owner(path, &metadata)?;
    let mode = metadata.permissions().mode() & 0o777;
    let group = mode & 0o070;
    let read_only_group_read = group == 0o040 && mode & 0o222 == 0;
    if mode & 0o007 != 0 || (group != 0 && !read_only_group_read) {
        return Err(KeyError::Insecure(format!(
            "{} has mode {mode:03o}; others must have no access and group at most read on a read-only file (chmod 600 {})",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

/// Refuses a key directory or file that is not owned by issuer-svc's
/// effective user or by root: its owner could plant a key that signs, even
/// with modes that look private. Root passes because it can do that anyway
/// (and owns the files of a Kubernetes Secret mount).
fn check_owner(path: &Path, metadata: &fs::Metadata) -> Result<(), KeyError> {
    let owner = metadata.uid();
    let euid = rustix::process::geteuid().as_raw();
    if owner == euid || owner == 0 {
        return Ok(());
    }
    Err(KeyError::Insecure(format!(
        "{} is owned by uid {owner}, not by issuer-svc's user (uid {euid}) or root: its owner \
         could plant a signing key (chown {euid} {})",
        path.display(),
        path.display()
    )))
}

fn on_read_only_fs(path: &Path) -> bool {
    rustix::fs::statvfs(path)
        .is_ok_and(|stat| stat.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY))
}

fn io_error(action: &str, path: &Path, err: &std::io::Error) -> KeyError {
    KeyError::Io(format!("{action} {}: {err}", path.display()))
}
