//! Rules for `[[credential_provider]]`.

use super::*;

impl Validator {
    pub(super) fn providers(
        &mut self,
        raw: &[RawProviderConfig],
        base_url: &str,
    ) -> Vec<ProviderConfig> {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut providers = Vec::new();
        for (index, provider) in raw.iter().enumerate() {
            let path = format!("credential_provider[{index}]");
            if let Some(id) = provider.id.as_deref()
                && let Some(first) = seen.insert(id, index)
            {
                self.error(
                    format!("{path}.id"),
                    format!("duplicate id `{id}` (also credential_provider[{first}])"),
                );
            }
            if let Some(provider) = self.provider(&path, provider, base_url) {
                providers.push(provider);
            }
        }
        providers
    }

    fn provider(
        &mut self,
        path: &str,
        raw: &RawProviderConfig,
        base_url: &str,
    ) -> Option<ProviderConfig> {
        let id = self.slug(&format!("{path}.id"), raw.id.as_ref());
        let wif_path = format!("{path}.claude_wif");
        let claude_wif = match raw.claude_wif.as_ref() {
            Some(wif) => self.claude_wif(&wif_path, wif),
            None => {
                self.error(wif_path, "required");
                None
            }
        };
        let id = id?.to_owned();
        if let Some(name) = raw.name.as_deref()
            && name.trim().is_empty()
        {
            self.error(format!("{path}.name"), "must not be empty when set");
        }
        Some(ProviderConfig {
            name: raw.name.clone().unwrap_or_else(|| id.clone()),
            description: raw.description.clone(),
            is_active: raw.is_active.unwrap_or(true),
            issuer_url: format!("{base_url}/providers/{id}"),
            id,
            claude_wif: claude_wif?,
        })
    }

    fn slug<'a>(&mut self, path: &str, value: Option<&'a String>) -> Option<&'a str> {
        let text = self.required(path, value)?;
        let valid = text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid {
            Some(text)
        } else {
            self.error(
                path,
                format!("`{text}` must match [a-z0-9-]+ (it appears in the issuer URL)"),
            );
            None
        }
    }

    /// A Claude object id: `prefix` then one or more of `[A-Za-z0-9_-]`.
    fn prefixed_id(&mut self, path: &str, value: Option<&String>, prefix: &str) -> Option<String> {
        let text = self.required(path, value)?;
        let rest = text.strip_prefix(prefix).unwrap_or("");
        let valid = !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if valid {
            Some(text.to_owned())
        } else {
            self.error(
                path,
                format!("must start with `{prefix}` followed by the id, got `{text}`"),
            );
            None
        }
    }

    fn claude_wif(&mut self, path: &str, raw: &RawClaudeWifConfig) -> Option<ClaudeWifConfig> {
        let federation_rule_id = self.prefixed_id(
            &format!("{path}.federation_rule_id"),
            raw.federation_rule_id.as_ref(),
            "fdrl_",
        );
        let organization_id = self.organization_id(path, raw.organization_id.as_ref());
        let service_account_id = self.prefixed_id(
            &format!("{path}.service_account_id"),
            raw.service_account_id.as_ref(),
            "svac_",
        );
        let audience = match raw.audience.as_deref() {
            None => Some(DEFAULT_AUDIENCE.to_owned()),
            Some(aud) if aud.trim().is_empty() => {
                self.error(
                    format!("{path}.audience"),
                    "must not be empty; remove it to use https://api.anthropic.com",
                );
                None
            }
            Some(aud) => Some(aud.to_owned()),
        };
        let scope = self.scope(path, raw.scope.as_deref());
        let workspace_id = self.workspace_id(path, raw.workspace_id.as_ref());
        let lifetime = self.lifetime(path, raw.lifetime);
        Some(ClaudeWifConfig {
            federation_rule_id: federation_rule_id?,
            organization_id: organization_id?,
            service_account_id: service_account_id?,
            audience: audience?,
            scope: scope?,
            workspace_id: workspace_id?,
            lifetime: lifetime?,
        })
    }

    fn organization_id(&mut self, path: &str, value: Option<&String>) -> Option<String> {
        let path = format!("{path}.organization_id");
        let text = self.required(&path, value)?;
        if text.len() == 36 && uuid::Uuid::try_parse(text).is_ok() {
            Some(text.to_owned())
        } else {
            self.error(
                path,
                format!("must be a UUID (8-4-4-4-12 hex digits), got `{text}`"),
            );
            None
        }
    }

    fn scope(&mut self, path: &str, value: Option<&str>) -> Option<Scope> {
        let Some(text) = value else {
            return Some(Scope::default());
        };
        let scope = Scope::parse(text);
        if scope.is_none() {
            let allowed: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
            self.error(
                format!("{path}.scope"),
                format!("`{text}` is not one of {}", allowed.join(", ")),
            );
        }
        scope
    }

    /// `Some(None)` when unset; `None` on error.
    fn workspace_id(&mut self, path: &str, value: Option<&String>) -> Option<Option<String>> {
        let Some(text) = value else {
            return Some(None);
        };
        let path = format!("{path}.workspace_id");
        if text.is_empty() {
            self.error(
                path,
                "must not be empty; remove the field to omit workspace_id",
            );
            return None;
        }
        if text == "default" {
            return Some(Some(text.clone()));
        }
        self.prefixed_id(&path, Some(text), "wrkspc_").map(Some)
    }

    fn lifetime(&mut self, path: &str, value: Option<i64>) -> Option<Duration> {
        let path = format!("{path}.lifetime");
        let Some(seconds) = value else {
            return Some(Duration::from_secs(LIFETIME_DEFAULT));
        };
        if !(LIFETIME_MIN..=LIFETIME_MAX).contains(&seconds) {
            self.error(
                path,
                format!("{seconds} is outside {LIFETIME_MIN}..={LIFETIME_MAX} seconds"),
            );
            return None;
        }
        if seconds > CLAUDE_DEFAULT_MAX_JWT_LIFETIME {
            self.warn(
                path,
                format!(
                    "{seconds} s is above 3600 s: Claude rejects the assertion unless the \
                     federation issuer's max_jwt_lifetime_seconds is raised to at least {seconds}"
                ),
            );
        }
        u64::try_from(seconds).ok().map(Duration::from_secs)
    }
}
