//! What Claude should hold for one credential provider, derived from the
//! configuration alone (pure).

use crate::config::{Config, IdentityPattern, ProviderConfig};

/// Claude's default `token_lifetime_seconds` for a rule; the configuration
/// has no field for it.
pub const RULE_TOKEN_LIFETIME: i64 = 3600;
/// The token-exchange shorthand for the default workspace; never sent to
/// the Admin API, which takes only tagged ids.
pub const DEFAULT_WORKSPACE: &str = "default";
/// The role the service account gets, explicitly, in the rule's workspace.
pub const WORKSPACE_ROLE: &str = "workspace_developer";

/// The rule's workspace as the configuration says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkspaceChoice {
    /// `workspace_id = "wrkspc_…"`.
    Tagged(String),
    /// No `workspace_id`, or `"default"`: the organization's default
    /// workspace, whose tagged id register looks up.
    Default,
}

/// The desired Claude-side objects of one provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// Provider id: the name of the issuer, service account and rule.
    pub name: String,
    pub organization_id: String,
    pub issuer_url: String,
    /// The provider's assertion lifetime: the issuer's minimum
    /// `max_jwt_lifetime_seconds`.
    pub lifetime: i64,
    /// Configured ids (absent: found by name or created).
    pub federation_rule_id: Option<String>,
    pub service_account_id: Option<String>,
    pub subject_prefix: String,
    /// How many client workloads `subject_prefix` stands for.
    pub workloads: usize,
    /// `match.audience`: only when the provider sets one.
    pub audience: Option<String>,
    pub oauth_scope: String,
    pub workspace: WorkspaceChoice,
    /// The provider's index in the configuration file (for field paths).
    pub provider_index: usize,
    pub token_lifetime_seconds: i64,
}

/// Configured ids of the provider, as written (`None` when omitted).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfiguredIds {
    pub federation_rule_id: Option<String>,
    pub service_account_id: Option<String>,
    /// Whether `audience` is written (the rule only matches it then).
    pub audience_set: bool,
}

pub fn derive(
    config: &Config,
    provider: &ProviderConfig,
    ids: &ConfiguredIds,
) -> Result<Desired, String> {
    let patterns: Vec<&IdentityPattern> = config
        .access_policies
        .iter()
        .filter(|policy| policy.credential_provider == provider.id)
        .filter_map(|policy| {
            config
                .client_workloads
                .iter()
                .find(|w| w.id == policy.client_workload)
        })
        .map(|w| &w.identity)
        .collect();
    let subject_prefix = subject_prefix(&patterns).map_err(|why| {
        format!(
            "cannot derive the federation rule's match.subject_prefix for `{}`: {why}",
            provider.id
        )
    })?;
    let wif = &provider.claude_wif;
    Ok(Desired {
        name: provider.id.clone(),
        organization_id: wif.organization_id.clone(),
        issuer_url: provider.issuer_url.clone(),
        lifetime: i64::try_from(wif.lifetime.as_secs()).unwrap_or(i64::MAX),
        federation_rule_id: ids.federation_rule_id.clone(),
        service_account_id: ids.service_account_id.clone(),
        subject_prefix,
        workloads: patterns.len(),
        audience: ids.audience_set.then(|| wif.audience.clone()),
        oauth_scope: wif.scope.as_str().to_owned(),
        workspace: match wif.workspace_id.as_deref() {
            None | Some(DEFAULT_WORKSPACE) => WorkspaceChoice::Default,
            Some(tagged) => WorkspaceChoice::Tagged(tagged.to_owned()),
        },
        provider_index: config
            .providers
            .iter()
            .position(|p| p.id == provider.id)
            .unwrap_or_default(),
        token_lifetime_seconds: RULE_TOKEN_LIFETIME,
    })
}

impl Desired {
    /// `credential_provider[<i>].claude_wif.<key>`.
    pub fn field(&self, key: &str) -> String {
        format!(
            "credential_provider[{}].claude_wif.{key}",
            self.provider_index
        )
    }

    /// `credential_provider[<i>].claude_wif.workspace_id`.
    pub fn workspace_field(&self) -> String {
        self.field("workspace_id")
    }
}

/// The rule's `subject_prefix` for the identities granted the provider:
/// the identity itself for one exact identity, `<prefix>*` for one prefix,
/// and for several the longest common prefix cut back to a `/` or `:`,
/// plus `*`. A wildcard-only (or scheme-only) result is refused: it would
/// let every subject of the issuer through.
pub fn subject_prefix(patterns: &[&IdentityPattern]) -> Result<String, String> {
    let texts: Vec<(&str, bool)> = patterns
        .iter()
        .map(|p| match p {
            IdentityPattern::Exact(s) => (s.as_str(), false),
            IdentityPattern::Prefix(s) => (s.as_str(), true),
        })
        .collect();
    let prefix = match texts.as_slice() {
        [] => {
            return Err(
                "no access policy uses this provider; add the [[access_policy]] entries first"
                    .to_owned(),
            );
        }
        [(exact, false)] => return Ok((*exact).to_owned()),
        [(prefix, true)] => (*prefix).to_owned(),
        many => {
            let first = many.first().map_or("", |(t, _)| *t);
            let mut common = first.len();
            for (text, _) in many {
                common = common.min(
                    first
                        .char_indices()
                        .zip(text.chars())
                        .find(|((_, a), b)| a != b)
                        .map_or(first.len().min(text.len()), |((i, _), _)| i),
                );
            }
            let common = first.get(..common).unwrap_or("");
            match common.rfind(['/', ':']) {
                Some(cut) => common.get(..=cut).unwrap_or("").to_owned(),
                None => String::new(),
            }
        }
    };
    let meaningful = prefix.trim_end_matches(['/', ':']);
    let scheme_only = prefix.contains(':') && !meaningful.contains(['/', ':']);
    if scheme_only || !meaningful.contains(|c: char| c.is_ascii_alphanumeric()) {
        return Err(format!(
            "the client workload identities ({}) share no meaningful prefix, and a wildcard-only \
             match would accept every subject of the issuer; give them a common prefix or split \
             them over several credential providers",
            texts.iter().map(|(t, _)| *t).collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(format!("{prefix}*"))
}
