//! The OpenID Provider configuration document of one credential provider.

use serde::{Deserialize, Serialize};

use crate::config::ProviderConfig;

/// Claims every assertion carries.
pub const CLAIMS_SUPPORTED: [&str; 7] = ["sub", "aud", "exp", "iat", "iss", "jti", "nbf"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveryDocument {
    pub issuer: String,
    pub jwks_uri: String,
    pub id_token_signing_alg_values_supported: Vec<String>,
    pub response_types_supported: Vec<String>,
    pub subject_types_supported: Vec<String>,
    pub claims_supported: Vec<String>,
}

impl DiscoveryDocument {
    /// `algs`: the algorithms of the published keys.
    pub fn new(provider: &ProviderConfig, algs: &[&str]) -> Self {
        DiscoveryDocument {
            issuer: provider.issuer_url.clone(),
            jwks_uri: jwks_uri(provider),
            id_token_signing_alg_values_supported: algs.iter().map(|a| (*a).to_owned()).collect(),
            response_types_supported: vec!["id_token".into()],
            subject_types_supported: vec!["public".into()],
            claims_supported: CLAIMS_SUPPORTED.iter().map(|c| (*c).to_owned()).collect(),
        }
    }
}

/// `<issuer>/jwks.json`.
pub fn jwks_uri(provider: &ProviderConfig) -> String {
    format!("{}/jwks.json", provider.issuer_url)
}
