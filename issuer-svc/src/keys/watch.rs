//! Picks up `keys rotate` in a running service: the key directory is read
//! again every few seconds and on SIGHUP; the new [`KeySet`] replaces the old
//! when the files changed. Which key signs is decided by time at each use, so
//! activation needs no event of its own.

use std::sync::Arc;
use std::time::Duration;

use super::{KeyPolicy, KeyRing, KeyStore};
use crate::clock::Clock;

/// How often the key directory is checked.
pub const POLL_INTERVAL: Duration = Duration::from_secs(5);

/// Reloads `store` into `ring` when its files change.
pub struct KeyWatcher {
    store: KeyStore,
    ring: Arc<KeyRing>,
    policy: Box<dyn Fn() -> KeyPolicy + Send + Sync>,
    last_policy: KeyPolicy,
    clock: Arc<dyn Clock>,
    fingerprint: Option<[u8; 32]>,
    active_kid: Option<String>,
}

impl std::fmt::Debug for KeyWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyWatcher")
            .field("dir", &self.store.dir())
            .field("active_kid", &self.active_kid)
            .finish_non_exhaustive()
    }
}

impl KeyWatcher {
    /// `policy` is asked at each check; a change rebuilds the key set.
    pub fn new(
        store: KeyStore,
        ring: Arc<KeyRing>,
        policy: Box<dyn Fn() -> KeyPolicy + Send + Sync>,
        clock: Arc<dyn Clock>,
    ) -> KeyWatcher {
        let fingerprint = store.fingerprint().ok();
        let active_kid = ring
            .current()
            .active(clock.now())
            .map(|key| key.kid().to_owned());
        let last_policy = *ring.current().policy();
        KeyWatcher {
            store,
            ring,
            policy,
            last_policy,
            clock,
            fingerprint,
            active_kid,
        }
    }

    /// Reloads when the files changed; logs when the active key changed.
    /// Returns whether the key set was replaced. A broken directory is
    /// logged once per change and the current keys keep serving.
    pub fn check(&mut self) -> bool {
        let mut replaced = false;
        let policy = (self.policy)();
        let policy_changed = policy != self.last_policy;
        self.last_policy = policy;
        match self.store.fingerprint() {
            Ok(fingerprint) if Some(fingerprint) == self.fingerprint && !policy_changed => {}
            Ok(fingerprint) => {
                self.fingerprint = Some(fingerprint);
                match self.store.load(&policy) {
                    Ok(Some(keys)) => {
                        let now = self.clock.now();
                        let kids: Vec<String> =
                            keys.jwks(now).keys.into_iter().map(|jwk| jwk.kid).collect();
                        tracing::info!(published = ?kids, "signing keys reloaded");
                        self.ring.replace(keys);
                        replaced = true;
                    }
                    Ok(None) => {
                        tracing::error!(dir = %self.store.dir().display(), "the key directory is now empty; keeping the keys already loaded")
                    }
                    Err(err) => {
                        tracing::error!(error = %err, "cannot reload the signing keys; keeping the keys already loaded")
                    }
                }
            }
            Err(err) => tracing::error!(error = %err, "cannot read the key directory"),
        }
        let active = self
            .ring
            .current()
            .active(self.clock.now())
            .map(|key| key.kid().to_owned());
        if active != self.active_kid {
            tracing::info!(
                kid = active.as_deref().unwrap_or("none"),
                previous = self.active_kid.as_deref().unwrap_or("none"),
                "active signing key changed"
            );
            self.active_kid = active;
        }
        replaced
    }

    /// Checks every `interval` and on SIGHUP, forever.
    pub async fn run(mut self, interval: Duration) {
        let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        {
            Ok(signal) => Some(signal),
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGHUP; key directory polled only");
                None
            }
        };
        loop {
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                Some(()) = async {
                    match hangup.as_mut() {
                        Some(signal) => signal.recv().await,
                        None => std::future::pending().await,
                    }
                } => {
                    tracing::info!("SIGHUP: checking the key directory");
                }
            }
            // A few small files: read inline.
            self.check();
        }
    }
}
