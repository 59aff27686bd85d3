//! Access tokens minted by the exchange, and the store that judges them.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;

use crate::scope::OAuthScope;

pub const TOKEN_PREFIX: &str = "sk-ant-oat01-";

/// An `sk-ant-oat01-…` token. `Debug` and `Display` show only the last 4 chars.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AccessToken(String);

impl AccessToken {
    /// A fresh token: the prefix plus 64 url-safe characters (48 random bytes).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 48];
        rand::thread_rng().fill_bytes(&mut bytes);
        Self(format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// The secret itself, for the response body only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn last4(&self) -> &str {
        last4(&self.0)
    }
}

/// The last 4 characters of a secret (what logs may show).
pub fn last4(secret: &str) -> &str {
    let start = secret
        .char_indices()
        .rev()
        .nth(3)
        .map_or(0, |(index, _)| index);
    secret.get(start..).unwrap_or("")
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccessToken(…{})", self.last4())
    }
}

impl fmt::Display for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "…{}", self.last4())
    }
}

/// What a token was minted for: it acts as `service_account` in `workspace`
/// with `scope`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    pub rule: String,
    pub service_account: String,
    /// `wrkspc_…` or `default`.
    pub workspace: String,
    pub scope: OAuthScope,
    pub subject: String,
    /// Unix seconds.
    pub expires_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("invalid bearer token")]
    Invalid,
    #[error("token expired")]
    Expired,
    #[error("token revoked")]
    Revoked,
}

#[derive(Debug)]
struct Minted {
    grant: TokenGrant,
    revoked: bool,
}

/// Every token minted since start (tokens are never forgotten; a test
/// simulator does not live long enough for that to matter).
#[derive(Debug, Default)]
pub struct TokenStore {
    grants: Mutex<HashMap<String, Minted>>,
}

impl TokenStore {
    /// Mints and records a new token.
    pub fn mint(&self, grant: TokenGrant) -> AccessToken {
        let token = AccessToken::generate();
        let mut grants = self.grants.lock().unwrap_or_else(|e| e.into_inner());
        let minted = Minted {
            grant,
            revoked: false,
        };
        grants.insert(token.0.clone(), minted);
        token
    }

    /// The grant behind `token`, if it was minted here, is not revoked and is
    /// unexpired at `now`.
    pub fn check(&self, token: &str, now: i64) -> Result<TokenGrant, TokenError> {
        let grants = self.grants.lock().unwrap_or_else(|e| e.into_inner());
        let minted = grants.get(token).ok_or(TokenError::Invalid)?;
        if minted.revoked {
            return Err(TokenError::Revoked);
        }
        if now >= minted.grant.expires_at {
            return Err(TokenError::Expired);
        }
        Ok(minted.grant.clone())
    }

    /// Revokes every token minted so far; returns how many. Later tokens are
    /// unaffected.
    pub fn revoke_all(&self) -> usize {
        let mut grants = self.grants.lock().unwrap_or_else(|e| e.into_inner());
        grants.values_mut().for_each(|minted| minted.revoked = true);
        grants.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(expires_at: i64) -> TokenGrant {
        TokenGrant {
            rule: "fdrl_a".into(),
            service_account: "svac_a".into(),
            workspace: "wrkspc_a".into(),
            scope: OAuthScope::Developer,
            subject: "spiffe://x".into(),
            expires_at,
        }
    }

    #[test]
    fn generated_tokens_have_the_prefix_enough_entropy_and_redacted_debug() {
        let a = AccessToken::generate();
        let b = AccessToken::generate();
        assert_ne!(a, b);
        let body = a.expose().strip_prefix(TOKEN_PREFIX).unwrap();
        assert!(body.len() >= 48);
        assert!(
            body.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        let shown = format!("{a:?} {a}");
        assert!(!shown.contains(body));
        assert!(shown.contains(a.last4()));
        assert_eq!(a.last4().len(), 4);
    }

    #[test]
    fn last4_handles_short_and_multibyte_strings() {
        assert_eq!(last4("abcdef"), "cdef");
        assert_eq!(last4("ab"), "ab");
        assert_eq!(last4("xéééé"), "éééé");
    }

    #[test]
    fn store_accepts_until_expiry_and_rejects_unknown_tokens() {
        let store = TokenStore::default();
        let token = store.mint(grant(100));
        assert_eq!(store.check(token.expose(), 99).unwrap().rule, "fdrl_a");
        assert_eq!(store.check(token.expose(), 100), Err(TokenError::Expired));
        assert_eq!(
            store.check("sk-ant-oat01-bogus", 0),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn revoking_invalidates_every_token_minted_so_far_only() {
        let store = TokenStore::default();
        let old = store.mint(grant(100));
        assert_eq!(store.revoke_all(), 1);
        assert_eq!(store.check(old.expose(), 0), Err(TokenError::Revoked));
        let new = store.mint(grant(100));
        assert!(store.check(new.expose(), 0).is_ok());
    }
}
