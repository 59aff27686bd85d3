//! Keys on disk: `<state_dir>/keys/<kid>.p8` (PKCS#8 DER), directories 0700,
//! files 0600 from the moment they exist.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use super::{KeyError, KeySet, KeyState, PrivateKey, PublishedKey, SigningKey};

const KEY_EXTENSION: &str = "p8";

/// The directory holding the signing keys.
#[derive(Debug, Clone)]
pub struct KeyStore {
    dir: PathBuf,
}

impl KeyStore {
    /// Creates `state_dir` and `state_dir/keys` (mode 0700) when missing.
    pub fn open(state_dir: &Path) -> Result<KeyStore, KeyError> {
        let dir = state_dir.join("keys");
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|err| io_error("cannot create", &dir, &err))?;
        check_private(&dir)?;
        Ok(KeyStore { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Loads every stored key, generating and storing one on first start.
    /// Until rotation state exists, the most recently written key is active
    /// and the others stay published.
    pub fn load_or_generate(&self) -> Result<KeySet, KeyError> {
        let mut stored = self.load_all()?;
        if stored.is_empty() {
            let (key, private) = SigningKey::generate_es256()?;
            self.write(key.kid(), &private)?;
            tracing::info!(kid = key.kid(), dir = %self.dir.display(), "generated a new ES256 signing key");
            stored.push((key, SystemTime::UNIX_EPOCH));
        }
        stored.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.kid().cmp(b.0.kid())));
        let newest = stored.len().saturating_sub(1);
        let keys = stored
            .into_iter()
            .enumerate()
            .map(|(index, (key, _))| PublishedKey {
                key: Arc::new(key),
                state: if index == newest {
                    KeyState::Active
                } else {
                    KeyState::Retired
                },
            })
            .collect();
        KeySet::new(keys)
    }

    fn load_all(&self) -> Result<Vec<(SigningKey, SystemTime)>, KeyError> {
        let entries =
            fs::read_dir(&self.dir).map_err(|err| io_error("cannot list", &self.dir, &err))?;
        let mut keys = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|err| io_error("cannot list", &self.dir, &err))?
                .path();
            let is_key = path.extension().is_some_and(|ext| ext == KEY_EXTENSION)
                && !path
                    .file_name()
                    .is_some_and(|name| name.to_string_lossy().starts_with('.'));
            if is_key {
                keys.push(load_key(&path)?);
            }
        }
        Ok(keys)
    }

    /// Writes a key atomically: a 0600 temporary file, then a rename.
    pub fn write(&self, kid: &str, private: &PrivateKey) -> Result<PathBuf, KeyError> {
        let path = self.dir.join(format!("{kid}.{KEY_EXTENSION}"));
        let temp = self.dir.join(format!(".{kid}.{KEY_EXTENSION}.tmp"));
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
        file.write_all(private.pkcs8())
            .and_then(|()| file.sync_all())
            .map_err(|err| io_error("cannot write", &temp, &err))?;
        fs::rename(&temp, &path).map_err(|err| io_error("cannot rename", &temp, &err))?;
        if let Ok(dir) = fs::File::open(&self.dir) {
            // Best effort: make the rename durable.
            let _ = dir.sync_all();
        }
        Ok(path)
    }
}

fn load_key(path: &Path) -> Result<(SigningKey, SystemTime), KeyError> {
    check_private(path)?;
    let metadata = fs::metadata(path).map_err(|err| io_error("cannot stat", path, &err))?;
    let der = fs::read(path).map_err(|err| io_error("cannot read", path, &err))?;
    let key = SigningKey::from_pkcs8(&PrivateKey::from_pkcs8(der))
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
    let written = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    Ok((key, written))
}

/// Refuses a key file or key directory that group or others can access.
fn check_private(path: &Path) -> Result<(), KeyError> {
    let metadata = fs::metadata(path).map_err(|err| io_error("cannot stat", path, &err))?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        let wanted = if metadata.is_dir() { "700" } else { "600" };
        return Err(KeyError::Insecure(format!(
            "{} has mode {mode:03o}; group and others must have no access (chmod {wanted} {})",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

fn io_error(action: &str, path: &Path, err: &std::io::Error) -> KeyError {
    KeyError::Io(format!("{action} {}: {err}", path.display()))
}
