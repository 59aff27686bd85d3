//! Single use of `jti` per issuer.

use std::collections::HashMap;
use std::sync::Mutex;

/// Remembers each `(issuer, jti)` until its assertion could no longer be
/// accepted anyway (its `exp` plus leeway), then forgets it.
#[derive(Debug, Default)]
pub struct JtiStore {
    seen: Mutex<HashMap<(String, String), i64>>,
}

impl JtiStore {
    /// Records `jti` for `issuer`; `false` when it was already used.
    pub fn consume(&self, issuer: &str, jti: &str, remember_until: i64, now: i64) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.retain(|_, until| *until >= now);
        let key = (issuer.to_owned(), jti.to_owned());
        if seen.contains_key(&key) {
            return false;
        }
        seen.insert(key, remember_until);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jti_is_single_use_per_issuer() {
        let store = JtiStore::default();
        assert!(store.consume("fdis_a", "j1", 200, 100));
        assert!(!store.consume("fdis_a", "j1", 200, 150));
        assert!(store.consume("fdis_b", "j1", 200, 150));
        assert!(store.consume("fdis_a", "j2", 200, 150));
    }

    #[test]
    fn a_jti_is_forgotten_once_its_assertion_is_past_accepting() {
        let store = JtiStore::default();
        assert!(store.consume("fdis_a", "j1", 200, 100));
        assert!(store.consume("fdis_a", "j1", 400, 201));
    }
}
