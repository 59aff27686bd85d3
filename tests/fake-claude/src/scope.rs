//! OAuth scopes a federation rule grants, and which API endpoints each allows.
//!
//! | scope | `POST /v1/messages` | `POST /v1/messages/count_tokens` | `GET /v1/models` |
//! |---|---|---|---|
//! | `workspace:developer` (default) | yes | yes | yes |
//! | `workspace:inference` | yes | yes | yes |
//! | `workspace:manage_tunnels` | 403 | 403 | 403 |
//! | `org:admin` | 403 | 403 | 403 |
//!
//! A token outside its scope gets 403 `permission_error`.

use std::fmt;

/// `oauth_scope` of a federation rule, carried by every token it mints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthScope {
    Developer,
    Inference,
    ManageTunnels,
    OrgAdmin,
}

/// The API endpoints fake-claude serves to token holders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiEndpoint {
    Messages,
    CountTokens,
    Models,
}

impl ApiEndpoint {
    /// `METHOD /path`, for messages and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Messages => "POST /v1/messages",
            Self::CountTokens => "POST /v1/messages/count_tokens",
            Self::Models => "GET /v1/models",
        }
    }
}

impl OAuthScope {
    pub const ALL: [OAuthScope; 4] = [
        Self::Developer,
        Self::Inference,
        Self::ManageTunnels,
        Self::OrgAdmin,
    ];

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Developer => "workspace:developer",
            Self::Inference => "workspace:inference",
            Self::ManageTunnels => "workspace:manage_tunnels",
            Self::OrgAdmin => "org:admin",
        }
    }

    /// The table in this module's documentation.
    pub fn allows(self, endpoint: ApiEndpoint) -> bool {
        match self {
            Self::Developer | Self::Inference => matches!(
                endpoint,
                ApiEndpoint::Messages | ApiEndpoint::CountTokens | ApiEndpoint::Models
            ),
            Self::ManageTunnels | Self::OrgAdmin => false,
        }
    }
}

impl fmt::Display for OAuthScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_scopes_are_refused() {
        for scope in OAuthScope::ALL {
            assert_eq!(OAuthScope::parse(scope.as_str()), Some(scope));
        }
        assert_eq!(OAuthScope::parse("workspace:everything"), None);
        assert_eq!(OAuthScope::parse("Workspace:Developer"), None);
    }

    #[test]
    fn only_developer_and_inference_reach_the_inference_api() {
        let endpoints = [
            ApiEndpoint::Messages,
            ApiEndpoint::CountTokens,
            ApiEndpoint::Models,
        ];
        for endpoint in endpoints {
            assert!(OAuthScope::Developer.allows(endpoint));
            assert!(OAuthScope::Inference.allows(endpoint));
            assert!(!OAuthScope::ManageTunnels.allows(endpoint));
            assert!(!OAuthScope::OrgAdmin.allows(endpoint));
        }
    }
}
