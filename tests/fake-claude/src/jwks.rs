//! Finding an issuer's signing keys the way Claude does, for each JWKS
//! source: `discovery` (discovery document, then JWKS), `explicit_url` (the
//! JWKS directly) or `inline` (keys from the configuration, never fetched).
//!
//! The two documents are parsed by pure functions ([`parse_discovery`],
//! [`parse_jwks`]); [`JwksFetcher`] does the HTTP (with the issuer's optional
//! private CA) and [`JwksCache`] the caching. A fetched key set is used for
//! `jwks_cache_seconds` (default 60) and only then polled again, even when a
//! `kid` is missing: like Claude, a key published too late is unknown until
//! the next poll.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonwebtoken::jwk::Jwk;
use reqwest::Url;
use serde::Deserialize;

use crate::clock::Clock;
use crate::config::{FederationIssuer, JwksSource};

/// Claude gives up on a key fetch after this long.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest discovery or JWKS document accepted.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    #[error("URL not allowed: {0}")]
    UrlNotAllowed(String),
    #[error("fetching {url}: {message}")]
    Http { url: String, message: String },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: document larger than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge { url: String },
    #[error("invalid document: {0}")]
    Document(String),
    #[error("HTTP client: {0}")]
    Client(String),
}

/// Claude dials only `https` on port 443 with a DNS name. fake-claude also
/// allows any scheme/port combination of `http`/`https` on loopback hosts
/// (127.0.0.0/8, ::1, localhost), so tests need neither TLS nor port 443.
pub fn check_dial_url(url: &Url) -> Result<(), JwksError> {
    let scheme = url.scheme();
    if scheme != "https" && scheme != "http" {
        return Err(JwksError::UrlNotAllowed(format!("scheme {scheme:?}")));
    }
    let Some(host) = url.host_str() else {
        return Err(JwksError::UrlNotAllowed("no host".to_owned()));
    };
    if is_loopback_host(host) {
        return Ok(());
    }
    if scheme != "https" {
        let msg = "plain http is only allowed on loopback hosts";
        return Err(JwksError::UrlNotAllowed(msg.to_owned()));
    }
    if url.port_or_known_default() != Some(443) {
        return Err(JwksError::UrlNotAllowed("port must be 443".to_owned()));
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok() || !host.contains('.') {
        let msg = format!("host {host:?} must be a DNS name");
        return Err(JwksError::UrlNotAllowed(msg));
    }
    Ok(())
}

fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    }
}

/// `<issuer_url>/.well-known/openid-configuration`.
pub fn discovery_url(issuer_url: &str) -> Result<Url, JwksError> {
    let text = format!(
        "{}/.well-known/openid-configuration",
        issuer_url.trim_end_matches('/')
    );
    let url = Url::parse(&text).map_err(|e| JwksError::UrlNotAllowed(e.to_string()))?;
    check_dial_url(&url)?;
    Ok(url)
}

/// What fake-claude reads from a discovery document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryDocument {
    pub issuer: Option<String>,
    pub jwks_uri: Url,
}

/// Parses a discovery document (lenient: only `jwks_uri` is required).
pub fn parse_discovery(body: &[u8]) -> Result<DiscoveryDocument, JwksError> {
    #[derive(Deserialize)]
    struct Wire {
        issuer: Option<String>,
        jwks_uri: Option<String>,
    }
    let wire: Wire = serde_json::from_slice(body)
        .map_err(|e| JwksError::Document(format!("discovery is not a JSON object: {e}")))?;
    let Some(jwks_uri) = wire.jwks_uri else {
        return Err(JwksError::Document("discovery has no jwks_uri".to_owned()));
    };
    let jwks_uri = Url::parse(&jwks_uri)
        .map_err(|e| JwksError::Document(format!("jwks_uri is not a URL: {e}")))?;
    check_dial_url(&jwks_uri)?;
    Ok(DiscoveryDocument {
        issuer: wire.issuer,
        jwks_uri,
    })
}

/// Parses a JWKS. Keys that do not parse as a JWK are skipped, not fatal.
pub fn parse_jwks(body: &[u8]) -> Result<Vec<Jwk>, JwksError> {
    #[derive(Deserialize)]
    struct Wire {
        keys: Vec<serde_json::Value>,
    }
    let wire: Wire = serde_json::from_slice(body)
        .map_err(|e| JwksError::Document(format!("JWKS has no \"keys\" array: {e}")))?;
    Ok(wire
        .keys
        .into_iter()
        .filter_map(|key| serde_json::from_value::<Jwk>(key).ok())
        .collect())
}

/// The HTTP side: GET with a timeout, no redirects, a size cap.
#[derive(Debug, Clone)]
pub struct JwksFetcher {
    client: reqwest::Client,
}

impl JwksFetcher {
    /// A client trusting the public roots plus, when given, the CA
    /// certificate(s) in `ca_cert_pem`.
    pub fn new(ca_cert_pem: Option<&str>) -> Result<Self, JwksError> {
        let client_error = |e: reqwest::Error| JwksError::Client(e.to_string());
        let mut builder = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("fake-claude");
        if let Some(pem) = ca_cert_pem {
            let certs =
                reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(client_error)?;
            if certs.is_empty() {
                return Err(JwksError::Client(
                    "no CERTIFICATE in the PEM text".to_owned(),
                ));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        Ok(Self {
            client: builder.build().map_err(client_error)?,
        })
    }

    /// The issuer's keys from its configured source.
    pub async fn fetch_for(&self, issuer: &FederationIssuer) -> Result<Vec<Jwk>, JwksError> {
        match &issuer.jwks_source {
            JwksSource::Discovery => self.fetch_keys(&issuer.issuer_url).await,
            JwksSource::ExplicitUrl(url) => {
                check_dial_url(url)?;
                parse_jwks(&self.get(url.clone()).await?)
            }
            JwksSource::Inline(keys) => Ok(keys.clone()),
        }
    }

    /// Discovery, then JWKS.
    pub async fn fetch_keys(&self, issuer_url: &str) -> Result<Vec<Jwk>, JwksError> {
        let discovery = parse_discovery(&self.get(discovery_url(issuer_url)?).await?)?;
        if discovery.issuer.as_deref() != Some(issuer_url) {
            tracing::warn!(
                issuer_url,
                discovery_issuer = ?discovery.issuer,
                "discovery document's issuer differs from the configured issuer_url"
            );
        }
        parse_jwks(&self.get(discovery.jwks_uri).await?)
    }

    async fn get(&self, url: Url) -> Result<Vec<u8>, JwksError> {
        let shown = url.to_string();
        let http = |e: reqwest::Error| JwksError::Http {
            url: shown.clone(),
            message: e.to_string(),
        };
        let mut response = self.client.get(url.clone()).send().await.map_err(http)?;
        if !response.status().is_success() {
            let status = response.status().as_u16();
            return Err(JwksError::Status { url: shown, status });
        }
        let too_large = || JwksError::TooLarge { url: shown.clone() };
        if response
            .content_length()
            .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(http)? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// Why no key came back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyLookupError {
    #[error("JWKS unavailable: {0}")]
    Unavailable(JwksError),
    #[error("kid not in the issuer's JWKS")]
    UnknownKid,
}

#[derive(Debug, Clone)]
struct CachedKeys {
    keys: Vec<Jwk>,
    fetched_at: i64,
}

impl CachedKeys {
    fn find(&self, kid: &str) -> Option<&Jwk> {
        find(&self.keys, kid)
    }
}

/// One issuer's cache slot and HTTP client.
#[derive(Debug)]
struct IssuerEntry {
    fetcher: JwksFetcher,
    slot: tokio::sync::Mutex<Option<CachedKeys>>,
}

impl IssuerEntry {
    fn new(issuer: &FederationIssuer) -> Result<Self, JwksError> {
        Ok(Self {
            fetcher: JwksFetcher::new(issuer.ca_cert_pem.as_deref())?,
            slot: tokio::sync::Mutex::new(None),
        })
    }
}

/// Per-issuer JWKS cache. One lock per issuer, held across a fetch, so
/// concurrent exchanges for one issuer share a single fetch. Issuers
/// registered later (Admin API) get their entry on first use.
#[derive(Debug)]
pub struct JwksCache {
    clock: Clock,
    cache_seconds: i64,
    entries: Mutex<HashMap<String, Arc<IssuerEntry>>>,
    fetches: AtomicU64,
}

impl JwksCache {
    /// A cache for `issuers`; fails when an issuer's CA certificate is unusable.
    pub fn new<'a>(
        clock: Clock,
        cache_seconds: u64,
        issuers: impl IntoIterator<Item = &'a FederationIssuer>,
    ) -> Result<Self, JwksError> {
        let mut entries = HashMap::new();
        for issuer in issuers {
            entries.insert(issuer.id.clone(), Arc::new(IssuerEntry::new(issuer)?));
        }
        Ok(Self {
            clock,
            cache_seconds: i64::try_from(cache_seconds).unwrap_or(i64::MAX),
            entries: Mutex::new(entries),
            fetches: AtomicU64::new(0),
        })
    }

    /// Drops what is cached for `issuer_id` (its URL, keys or CA changed).
    pub fn forget(&self, issuer_id: &str) {
        self.lock_entries().remove(issuer_id);
    }

    fn lock_entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<IssuerEntry>>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cache entry of `issuer`, created on first use.
    fn entry(&self, issuer: &FederationIssuer) -> Result<Arc<IssuerEntry>, JwksError> {
        let mut entries = self.lock_entries();
        if let Some(entry) = entries.get(&issuer.id) {
            return Ok(Arc::clone(entry));
        }
        let entry = Arc::new(IssuerEntry::new(issuer)?);
        entries.insert(issuer.id.clone(), Arc::clone(&entry));
        Ok(entry)
    }

    /// Successful and failed network fetches so far (inline sources never fetch).
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::SeqCst)
    }

    pub fn reset_fetches(&self) {
        self.fetches.store(0, Ordering::SeqCst);
    }

    /// The key `kid` of `issuer`, from the cache or a poll when the cached
    /// set is `jwks_cache_seconds` old.
    pub async fn find_key(
        &self,
        issuer: &FederationIssuer,
        kid: &str,
    ) -> Result<Jwk, KeyLookupError> {
        if let JwksSource::Inline(keys) = &issuer.jwks_source {
            return find(keys, kid).cloned().ok_or(KeyLookupError::UnknownKid);
        }
        let entry = self.entry(issuer).map_err(KeyLookupError::Unavailable)?;
        let mut slot = entry.slot.lock().await;
        let now = self.clock.now();
        if let Some(cached) = slot.as_ref()
            && now.saturating_sub(cached.fetched_at) < self.cache_seconds
        {
            return cached.find(kid).cloned().ok_or(KeyLookupError::UnknownKid);
        }
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let keys = entry
            .fetcher
            .fetch_for(issuer)
            .await
            .map_err(KeyLookupError::Unavailable)?;
        tracing::info!(issuer = %issuer.id, keys = keys.len(), "fetched JWKS");
        let fresh = CachedKeys {
            keys,
            fetched_at: self.clock.now(),
        };
        let found = fresh.find(kid).cloned();
        *slot = Some(fresh);
        found.ok_or(KeyLookupError::UnknownKid)
    }
}

fn find<'a>(keys: &'a [Jwk], kid: &str) -> Option<&'a Jwk> {
    keys.iter()
        .find(|k| k.common.key_id.as_deref() == Some(kid))
}

#[cfg(test)]
mod tests;
