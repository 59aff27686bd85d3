//! One test per validation rule of `[server]` and `[claude]`.

use super::*;

#[test]
fn public_base_url_is_https_unless_loopback() {
    let path = "server.public_base_url";
    assert!(has_error(
        &replace("http://127.0.0.1:8081/", "http://issuer.example.com"),
        path
    ));
    assert!(has_error(
        &replace("http://127.0.0.1:8081/", "issuer.example.com"),
        path
    ));
    assert!(has_error(
        &replace("http://127.0.0.1:8081/", "https://issuer.example.com/?x=1"),
        path
    ));
    let loaded = load(&replace(
        "http://127.0.0.1:8081/",
        "https://issuer.example.com/oidc/",
    ));
    assert_eq!(
        loaded.config.providers[0].issuer_url,
        "https://issuer.example.com/oidc/providers/claude-demo"
    );
    assert!(Config::from_toml(&replace("http://127.0.0.1:8081/", "http://localhost:8081")).is_ok());
    assert!(Config::from_toml(&replace("http://127.0.0.1:8081/", "http://[::1]:8081")).is_ok());
}

#[test]
fn claude_base_url_is_https_unless_loopback() {
    let text = config_text("[claude]\nbase_url = \"http://claude.example.com\"\n");
    assert!(has_error(&text, "claude.base_url"));
    let loaded = load(&config_text(
        "[claude]\nbase_url = \"http://127.0.0.1:8088/\"\n",
    ));
    assert_eq!(
        loaded.config.claude.token_url(),
        "http://127.0.0.1:8088/v1/oauth/token"
    );
}

#[test]
fn claude_timeout_is_a_duration_string() {
    let loaded = load(&config_text("[claude]\ntimeout = \"500ms\"\n"));
    assert_eq!(loaded.config.claude.timeout, Duration::from_millis(500));
    assert!(has_error(
        &config_text("[claude]\ntimeout = \"30\"\n"),
        "claude.timeout"
    ));
    assert!(has_error(
        &config_text("[claude]\ntimeout = 30\n"),
        "claude.timeout"
    ));
}

#[test]
fn listens_must_be_socket_addrs() {
    assert!(has_error(
        &replace(
            "public_listen = \"127.0.0.1:0\"",
            "public_listen = \"localhost\""
        ),
        "server.public_listen"
    ));
    assert!(has_error(
        &replace(
            "internal_listen = \"127.0.0.1:0\"",
            "internal_listen = \":9090\""
        ),
        "server.internal_listen"
    ));
}

#[test]
fn internal_listen_off_loopback_without_key_warns() {
    let loaded = load(&replace(
        "internal_listen = \"127.0.0.1:0\"",
        "internal_listen = \"0.0.0.0:9090\"",
    ));
    assert_eq!(loaded.warnings[0].path, "server.internal_listen");
}

#[test]
fn internal_api_key_file_is_read_trimmed_and_non_empty() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "  s3cret\n").unwrap();
    let line = format!(
        "state_dir = \"/nonexistent/state\"\ninternal_api_key_file = \"{}\"",
        key.display()
    );
    let loaded = load(&replace("state_dir = \"/nonexistent/state\"", &line));
    let api_key = loaded.config.server.internal_api_key.unwrap();
    assert!(api_key.matches("s3cret"));
    assert!(!api_key.matches("s3cret\n") && !api_key.matches("s3cre") && !api_key.matches(""));
    assert_eq!(format!("{api_key:?}"), "InternalApiKey([redacted])");

    std::fs::write(&key, " \n").unwrap();
    assert!(has_error(
        &replace("state_dir = \"/nonexistent/state\"", &line),
        "server.internal_api_key_file"
    ));
    let missing = line.replace("/key\"", "/missing\"");
    assert!(has_error(
        &replace("state_dir = \"/nonexistent/state\"", &missing),
        "server.internal_api_key_file"
    ));
}

#[test]
fn tls_files_come_in_pairs_and_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&cert, "x").unwrap();
    std::fs::write(&key, "x").unwrap();
    let with = |lines: &str| {
        replace(
            "state_dir = \"/nonexistent/state\"",
            &format!("state_dir = \"/s\"\n{lines}"),
        )
    };
    let both = format!(
        "tls_cert_file = \"{}\"\ntls_key_file = \"{}\"",
        cert.display(),
        key.display()
    );
    let tls = load(&with(&both)).config.server.tls.unwrap();
    assert_eq!((tls.cert_file, tls.key_file), (cert.clone(), key.clone()));
    assert!(load(&with("")).config.server.tls.is_none());
    let only_cert = format!("tls_cert_file = \"{}\"", cert.display());
    assert_eq!(
        errors(&with(&only_cert)),
        ["server.tls_key_file: required when tls_cert_file is set"]
    );
    let missing = both.replace("k.pem", "missing.pem");
    assert!(has_error(&with(&missing), "server.tls_key_file"));
}

#[test]
fn keys_section_defaults_and_rules() {
    let keys = load(&config_text("")).config.keys;
    assert_eq!(keys.algorithm, crate::keys::Algorithm::Es256);
    assert_eq!(keys.publish_ahead, Duration::from_secs(900));
    let loaded = load(&config_text(
        "[keys]\nalgorithm = \"RS256\"\npublish_ahead = \"0s\"\n",
    ));
    assert_eq!(loaded.config.keys.algorithm, crate::keys::Algorithm::Rs256);
    assert_eq!(loaded.config.keys.publish_ahead, Duration::ZERO);
    assert_eq!(loaded.warnings[0].path, "keys.publish_ahead");
    assert!(has_error(
        &config_text("[keys]\nalgorithm = \"HS256\"\n"),
        "keys.algorithm"
    ));
    assert!(has_error(
        &config_text("[keys]\npublish_ahead = \"15\"\n"),
        "keys.publish_ahead"
    ));
    let unknown = errors(&config_text("[keys]\nrotate = true\n"));
    assert!(
        unknown[0].starts_with("keys") && unknown[0].contains("rotate"),
        "{unknown:?}"
    );
    let policy = load(&config_text("")).config.key_policy();
    assert_eq!(policy.retention, Duration::from_secs(3630));
}

#[test]
fn state_dir_is_required() {
    assert!(has_error(
        &replace("state_dir = \"/nonexistent/state\"\n", ""),
        "server.state_dir"
    ));
}

#[test]
fn internal_hosts_are_host_names_kept_lowercase() {
    let config = load(&config_text("")).config;
    assert!(config.server.internal_hosts.is_empty());
    let text = replace(
        "state_dir = \"/nonexistent/state\"",
        "state_dir = \"/nonexistent/state\"\ninternal_hosts = [\"Issuer.Example.Internal\", \"issuer-svc.example.com\"]",
    );
    assert_eq!(
        load(&text).config.server.internal_hosts,
        ["issuer.example.internal", "issuer-svc.example.com"]
    );
    for bad in [
        "",
        "issuer:9090",
        "http://issuer",
        "a..b",
        ".a",
        "a b",
        "ïssuer",
    ] {
        let text = replace(
            "state_dir = \"/nonexistent/state\"",
            &format!("state_dir = \"/nonexistent/state\"\ninternal_hosts = [\"ok\", \"{bad}\"]"),
        );
        assert!(has_error(&text, "server.internal_hosts[1]"), "{bad}");
    }
}
