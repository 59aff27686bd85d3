//! [`RawConfig`] → [`Config`]: every check, every error with its path.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use reqwest::Url;

use super::raw::{RawConfig, RawFederationIssuer, RawFederationRule, RawServiceAccount};
use super::{
    Config, ConfigError, DEFAULT_ADMIN_PAGE_SIZE, DEFAULT_JWKS_CACHE_SECONDS,
    DEFAULT_MAX_JWT_LIFETIME_SECONDS, DEFAULT_OAUTH_SCOPE, DEFAULT_TOKEN_LIFETIME_SECONDS,
    DEFAULT_WORKSPACE, DEFAULT_WORKSPACE_ID, FederationIssuer, FederationRule, FieldError,
    JwksSource, RuleWorkspaces, ServiceAccount, is_uuid, well_formed_id,
};
use crate::jwks::{check_dial_url, parse_jwks};
use crate::roles::WorkspaceRole;
use crate::scope::OAuthScope;

#[derive(Default)]
struct Errors(Vec<FieldError>);

impl Errors {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            path: path.into(),
            message: message.into(),
        });
    }
}

fn check_id(errors: &mut Errors, path: String, id: &str, prefix: &str) {
    if !well_formed_id(id, prefix) {
        errors.push(path, format!("must look like \"{prefix}…\", got {id:?}"));
    }
}

fn check_range(errors: &mut Errors, path: String, value: i64, min: i64, max: i64) {
    if !(min..=max).contains(&value) {
        errors.push(path, format!("must be in {min}..={max}, got {value}"));
    }
}

/// The organization's workspaces as the seed names them.
struct Workspaces<'a> {
    default: &'a str,
    others: &'a [String],
}

impl Workspaces<'_> {
    /// Checks a list of workspace references (`wrkspc_…` known here, or
    /// `default`) and returns it with `default` replaced by the tagged id.
    fn resolve(&self, errors: &mut Errors, path: &str, list: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (j, ws) in list.iter().enumerate() {
            let ws_path = format!("{path}[{j}]");
            let id = if ws == DEFAULT_WORKSPACE {
                self.default
            } else {
                ws
            };
            if id != self.default && !self.others.iter().any(|w| w == id) {
                errors.push(ws_path, format!("unknown workspace {ws:?}"));
            } else if out.iter().any(|w| w == id) {
                errors.push(ws_path, format!("duplicate workspace {ws:?}"));
            }
            out.push(id.to_owned());
        }
        out
    }
}

impl RawConfig {
    pub fn validate(self) -> Result<Config, ConfigError> {
        let mut errors = Errors::default();
        let listen = match self.listen.parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                errors.push("listen", format!("not a socket address: {:?}", self.listen));
                None
            }
        };
        if !is_uuid(&self.organization_id) {
            errors.push("organization_id", "must be a UUID");
        }
        let jwks_cache_seconds = self
            .jwks_cache_seconds
            .unwrap_or(DEFAULT_JWKS_CACHE_SECONDS);
        if jwks_cache_seconds > 86_400 {
            errors.push("jwks_cache_seconds", "must be in 0..=86400");
        }
        for (i, token) in self.admin_tokens.iter().enumerate() {
            if token.trim().is_empty() {
                errors.push(format!("admin_tokens[{i}]"), "must not be empty");
            }
        }
        let default_workspace = self
            .default_workspace_id
            .unwrap_or_else(|| DEFAULT_WORKSPACE_ID.to_owned());
        check_id(
            &mut errors,
            "default_workspace_id".to_owned(),
            &default_workspace,
            "wrkspc_",
        );
        let workspaces = collect_workspaces(&mut errors, &self.workspace, &default_workspace);
        let known = Workspaces {
            default: &default_workspace,
            others: &workspaces,
        };
        let service_accounts = validate_service_accounts(&mut errors, self.service_account, &known);
        let issuers = validate_issuers(&mut errors, self.federation_issuer);
        let rules = validate_rules(
            &mut errors,
            self.federation_rule,
            &issuers,
            &service_accounts,
            &known,
        );
        let role_text = self.developer_scope_role.as_deref();
        let developer_scope_role = match role_text.map(WorkspaceRole::parse) {
            None => WorkspaceRole::Developer,
            Some(Some(role)) => role,
            Some(None) => {
                let msg = format!("must be one of {}", WorkspaceRole::names());
                errors.push("developer_scope_role", msg);
                WorkspaceRole::Developer
            }
        };
        let admin_page_size = self.admin_page_size.unwrap_or(DEFAULT_ADMIN_PAGE_SIZE);
        if !(1..=100).contains(&admin_page_size) {
            errors.push("admin_page_size", "must be in 1..=100");
        }
        match listen {
            Some(listen) if errors.0.is_empty() => Ok(Config {
                listen,
                organization_id: self.organization_id,
                jwks_cache_seconds,
                admin_tokens: self
                    .admin_tokens
                    .into_iter()
                    .map(super::AdminToken::new)
                    .collect(),
                service_accounts,
                default_workspace,
                workspaces,
                developer_scope_role,
                admin_page_size,
                issuers,
                rules,
            }),
            _ => Err(ConfigError { errors: errors.0 }),
        }
    }
}

fn collect_workspaces(
    errors: &mut Errors,
    raw: &[super::raw::RawWorkspace],
    default_workspace: &str,
) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for (i, ws) in raw.iter().enumerate() {
        let path = format!("workspace[{i}].id");
        check_id(errors, path.clone(), &ws.id, "wrkspc_");
        if ws.id == default_workspace {
            errors.push(path, "is the default workspace's id (default_workspace_id)");
        } else if seen.contains(&ws.id) {
            errors.push(path, format!("duplicate id {:?}", ws.id));
        }
        seen.push(ws.id.clone());
    }
    seen
}

fn validate_service_accounts(
    errors: &mut Errors,
    raw: Vec<RawServiceAccount>,
    workspaces: &Workspaces<'_>,
) -> BTreeMap<String, ServiceAccount> {
    let mut accounts = BTreeMap::new();
    for (i, account) in raw.into_iter().enumerate() {
        let path = format!("service_account[{i}]");
        check_id(errors, format!("{path}.id"), &account.id, "svac_");
        let listed = account
            .workspaces
            .map(|list| workspaces.resolve(errors, &format!("{path}.workspaces"), &list));
        let id = account.id.clone();
        let validated = ServiceAccount {
            id: account.id,
            workspaces: listed,
        };
        if accounts.insert(id.clone(), validated).is_some() {
            errors.push(format!("{path}.id"), format!("duplicate id {id:?}"));
        }
    }
    accounts
}

fn validate_issuers(
    errors: &mut Errors,
    raw: Vec<RawFederationIssuer>,
) -> BTreeMap<String, FederationIssuer> {
    let mut issuers = BTreeMap::new();
    for (i, issuer) in raw.into_iter().enumerate() {
        let path = |field: &str| format!("federation_issuer[{i}].{field}");
        check_id(errors, path("id"), &issuer.id, "fdis_");
        match Url::parse(&issuer.issuer_url) {
            Ok(url) => {
                if let Err(e) = check_dial_url(&url) {
                    errors.push(path("issuer_url"), e.to_string());
                }
            }
            Err(e) => errors.push(path("issuer_url"), format!("not a URL: {e}")),
        }
        let jwks_source = jwks_source(errors, &path, &issuer);
        if let Some(pem) = &issuer.ca_cert_pem {
            if matches!(jwks_source, JwksSource::Inline(_)) {
                errors.push(path("ca_cert_pem"), "only for discovery and explicit_url");
            } else if let Err(e) = crate::jwks::JwksFetcher::new(Some(pem)) {
                errors.push(path("ca_cert_pem"), format!("not a PEM certificate: {e}"));
            }
        }
        let max_lifetime = issuer
            .max_jwt_lifetime_seconds
            .unwrap_or(DEFAULT_MAX_JWT_LIFETIME_SECONDS);
        check_range(
            errors,
            path("max_jwt_lifetime_seconds"),
            max_lifetime,
            1,
            176_400,
        );
        let validated = FederationIssuer {
            id: issuer.id.clone(),
            issuer_url: issuer.issuer_url,
            jwks_source,
            ca_cert_pem: issuer.ca_cert_pem,
            check_jti: issuer.check_jti.unwrap_or(true),
            max_jwt_lifetime_seconds: max_lifetime,
        };
        if issuers.insert(issuer.id.clone(), validated).is_some() {
            errors.push(path("id"), format!("duplicate id {:?}", issuer.id));
        }
    }
    issuers
}

fn jwks_source(
    errors: &mut Errors,
    path: &dyn Fn(&str) -> String,
    issuer: &RawFederationIssuer,
) -> JwksSource {
    let source = issuer.jwks_source.as_deref().unwrap_or("discovery");
    if issuer.jwks_url.is_some() && source != "explicit_url" {
        errors.push(path("jwks_url"), "only for jwks_source = \"explicit_url\"");
    }
    if issuer.jwks.is_some() && source != "inline" {
        errors.push(path("jwks"), "only for jwks_source = \"inline\"");
    }
    match source {
        "discovery" => JwksSource::Discovery,
        "explicit_url" => {
            let Some(text) = &issuer.jwks_url else {
                errors.push(path("jwks_url"), "required for explicit_url");
                return JwksSource::Discovery;
            };
            match Url::parse(text) {
                Ok(url) => {
                    if let Err(e) = check_dial_url(&url) {
                        errors.push(path("jwks_url"), e.to_string());
                    }
                    JwksSource::ExplicitUrl(url)
                }
                Err(e) => {
                    errors.push(path("jwks_url"), format!("not a URL: {e}"));
                    JwksSource::Discovery
                }
            }
        }
        "inline" => {
            let Some(text) = &issuer.jwks else {
                errors.push(path("jwks"), "required for inline");
                return JwksSource::Inline(Vec::new());
            };
            match parse_jwks(text.as_bytes()) {
                Ok(keys) if !keys.is_empty() => JwksSource::Inline(keys),
                Ok(_) => {
                    errors.push(path("jwks"), "has no usable key");
                    JwksSource::Inline(Vec::new())
                }
                Err(e) => {
                    errors.push(path("jwks"), e.to_string());
                    JwksSource::Inline(Vec::new())
                }
            }
        }
        other => {
            let msg =
                format!("must be \"discovery\", \"explicit_url\" or \"inline\", got {other:?}");
            errors.push(path("jwks_source"), msg);
            JwksSource::Discovery
        }
    }
}

fn validate_rules(
    errors: &mut Errors,
    raw: Vec<RawFederationRule>,
    issuers: &BTreeMap<String, FederationIssuer>,
    service_accounts: &BTreeMap<String, ServiceAccount>,
    workspaces: &Workspaces<'_>,
) -> BTreeMap<String, FederationRule> {
    let mut rules = BTreeMap::new();
    for (i, rule) in raw.into_iter().enumerate() {
        let path = |field: &str| format!("federation_rule[{i}].{field}");
        check_id(errors, path("id"), &rule.id, "fdrl_");
        if !issuers.contains_key(&rule.issuer) {
            let msg = format!("unknown federation issuer {:?}", rule.issuer);
            errors.push(path("issuer"), msg);
        }
        check_matchers(errors, &path, &rule);
        if rule.audience.as_deref() == Some("") {
            errors.push(path("audience"), "must not be empty (omit it instead)");
        }
        let account = service_accounts.get(&rule.service_account);
        if account.is_none() {
            let msg = format!("unknown service account {:?}", rule.service_account);
            errors.push(path("service_account"), msg);
        }
        let rule_workspaces = rule_workspaces(errors, &path, &rule, workspaces);
        if let (Some(account), RuleWorkspaces::Listed(list)) = (account, &rule_workspaces) {
            let members = account.memberships();
            let outside = |ws: &&String| members.role_in(ws, workspaces.default).is_none();
            for ws in list.iter().filter(outside) {
                let msg = format!("{:?} is not a member of workspace {ws:?}", account.id);
                errors.push(path("service_account"), msg);
            }
        }
        let oauth_scope = match rule.oauth_scope.as_deref() {
            None => DEFAULT_OAUTH_SCOPE,
            Some(text) => OAuthScope::parse(text).unwrap_or_else(|| {
                let names: Vec<&str> = OAuthScope::ALL.iter().map(|s| s.as_str()).collect();
                errors.push(
                    path("oauth_scope"),
                    format!("must be one of {}", names.join(", ")),
                );
                DEFAULT_OAUTH_SCOPE
            }),
        };
        let lifetime = rule
            .token_lifetime_seconds
            .unwrap_or(DEFAULT_TOKEN_LIFETIME_SECONDS);
        check_range(errors, path("token_lifetime_seconds"), lifetime, 60, 86_400);
        let validated = FederationRule {
            id: rule.id.clone(),
            issuer: rule.issuer,
            subject_prefix: rule.subject_prefix,
            audience: rule.audience,
            claims: rule.claims.unwrap_or_default(),
            service_account: rule.service_account,
            workspaces: rule_workspaces,
            oauth_scope,
            token_lifetime_seconds: lifetime,
        };
        if rules.insert(rule.id.clone(), validated).is_some() {
            errors.push(path("id"), format!("duplicate id {:?}", rule.id));
        }
    }
    rules
}

/// At least one of `subject_prefix` and `claims`; `condition` is not simulated.
fn check_matchers(errors: &mut Errors, path: &dyn Fn(&str) -> String, rule: &RawFederationRule) {
    if rule.condition.is_some() {
        errors.push(path("condition"), "CEL conditions are not simulated");
    }
    let has_claims = rule.claims.as_ref().is_some_and(|c| !c.is_empty());
    match rule.subject_prefix.as_deref() {
        Some("" | "*") => errors.push(
            path("subject_prefix"),
            "must be a subject or a prefix ending in *",
        ),
        None if !has_claims => errors.push(
            path("subject_prefix"),
            "a rule needs subject_prefix or claims",
        ),
        _ => {}
    }
    if let Some(claims) = &rule.claims
        && claims.keys().any(String::is_empty)
    {
        errors.push(path("claims"), "claim names must not be empty");
    }
}

fn rule_workspaces(
    errors: &mut Errors,
    path: &dyn Fn(&str) -> String,
    rule: &RawFederationRule,
    workspaces: &Workspaces<'_>,
) -> RuleWorkspaces {
    match (&rule.workspace_ids, rule.applies_to_all_workspaces) {
        (Some(_), Some(true)) => {
            let msg = "give workspace_ids or applies_to_all_workspaces = true, not both";
            errors.push(path("workspace_ids"), msg);
            RuleWorkspaces::All
        }
        (None, Some(true)) => RuleWorkspaces::All,
        (None, _) => {
            let msg = "required (or applies_to_all_workspaces = true)";
            errors.push(path("workspace_ids"), msg);
            RuleWorkspaces::Listed(Vec::new())
        }
        (Some(list), _) => {
            if list.is_empty() {
                errors.push(path("workspace_ids"), "must list at least one workspace");
            }
            RuleWorkspaces::Listed(workspaces.resolve(errors, &path("workspace_ids"), list))
        }
    }
}
