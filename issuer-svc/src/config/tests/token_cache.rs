//! `[token_cache]` rules.

use super::*;

#[test]
fn token_cache_defaults_to_120s_and_30s() {
    let config = load(&config_text("")).config;
    assert_eq!(config.token_cache, TokenCacheConfig::default());
    assert_eq!(
        config.token_cache.advisory_refresh,
        Duration::from_secs(120)
    );
    assert_eq!(
        config.token_cache.mandatory_refresh,
        Duration::from_secs(30)
    );
}

#[test]
fn token_cache_durations_are_read() {
    let text =
        config_text("[token_cache]\nadvisory_refresh = \"10m\"\nmandatory_refresh = \"90s\"\n");
    let config = load(&text).config;
    assert_eq!(
        config.token_cache.advisory_refresh,
        Duration::from_secs(600)
    );
    assert_eq!(
        config.token_cache.mandatory_refresh,
        Duration::from_secs(90)
    );
}

#[test]
fn mandatory_must_be_below_advisory() {
    for extra in [
        "[token_cache]\nadvisory_refresh = \"30s\"\nmandatory_refresh = \"30s\"\n",
        "[token_cache]\nmandatory_refresh = \"5m\"\n",
    ] {
        let errors = errors(&config_text(extra));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("token_cache.mandatory_refresh: "),
            "{errors:?}"
        );
        assert!(
            errors[0].contains("less than token_cache.advisory_refresh"),
            "{errors:?}"
        );
    }
}

#[test]
fn token_cache_fields_are_durations_and_known() {
    assert!(has_error(
        &config_text("[token_cache]\nadvisory_refresh = \"120\"\n"),
        "token_cache.advisory_refresh"
    ));
    assert!(has_error(
        &config_text("[token_cache]\nmandatory_refresh = \"0s\"\n"),
        "token_cache.mandatory_refresh"
    ));
    let unknown = errors(&config_text("[token_cache]\nrefresh = \"1s\"\n"));
    assert!(unknown[0].starts_with("token_cache"), "{unknown:?}");
    assert!(unknown[0].contains("refresh"), "{unknown:?}");
}

#[test]
fn stale_refresh_interval_defaults_to_30s_and_may_be_zero() {
    let config = load(&config_text("")).config;
    assert_eq!(
        config.token_cache.stale_refresh_interval,
        Duration::from_secs(30)
    );
    let text = config_text("[token_cache]\nstale_refresh_interval = \"0s\"\n");
    assert_eq!(
        load(&text).config.token_cache.stale_refresh_interval,
        Duration::ZERO
    );
    let text = config_text("[token_cache]\nstale_refresh_interval = \"soon\"\n");
    assert!(has_error(&text, "token_cache.stale_refresh_interval"));
}
