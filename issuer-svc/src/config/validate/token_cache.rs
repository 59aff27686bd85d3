//! Rules for `[token_cache]`.

use super::*;

impl Validator {
    pub(super) fn token_cache(
        &mut self,
        raw: Option<RawTokenCacheConfig>,
    ) -> Option<TokenCacheConfig> {
        let raw = raw.unwrap_or_default();
        let defaults = TokenCacheConfig::default();
        let mut duration = |path: &str, value: Option<&str>, default: Duration| match value {
            None => Some(default),
            Some(text) => parse_duration(text)
                .map_err(|err| self.error(path, err))
                .ok(),
        };
        let advisory = duration(
            "token_cache.advisory_refresh",
            raw.advisory_refresh.as_deref(),
            defaults.advisory_refresh,
        );
        let mandatory = duration(
            "token_cache.mandatory_refresh",
            raw.mandatory_refresh.as_deref(),
            defaults.mandatory_refresh,
        );
        let stale = match raw.stale_refresh_interval.as_deref() {
            None => Some(defaults.stale_refresh_interval),
            Some(text) => super::keys::duration_or_zero(text)
                .map_err(|err| self.error("token_cache.stale_refresh_interval", err))
                .ok(),
        };
        let (advisory, mandatory, stale) = (advisory?, mandatory?, stale?);
        if mandatory >= advisory {
            self.error(
                "token_cache.mandatory_refresh",
                format!(
                    "{} must be less than token_cache.advisory_refresh ({}): callers would wait \
                     before any background refresh could start",
                    humanize(mandatory),
                    humanize(advisory)
                ),
            );
            return None;
        }
        Some(TokenCacheConfig {
            advisory_refresh: advisory,
            mandatory_refresh: mandatory,
            stale_refresh_interval: stale,
        })
    }
}

fn humanize(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}
