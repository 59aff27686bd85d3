//! The key owner check as it runs in production, under an unprivileged user:
//! keys owned by issuer-svc's own user load, keys owned by another user are
//! refused. The real binary runs `keys list` under two made-up uids. Needs
//! root to start a process as another user; otherwise the test says so and
//! stops (the unit tests in `keys/tests/ownership.rs` cover root's side).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::fs;
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_issuer-svc");
/// issuer-svc's user in this test, and a stranger; neither is root.
const OWNER: u32 = 4_242_424;
const STRANGER: u32 = 4_242_425;

fn run(bin: &Path, args: &[&str], config: &Path, uid: Option<u32>) -> Output {
    let mut command = Command::new(bin);
    command.args(args).arg("--config").arg(config);
    if let Some(uid) = uid {
        command.uid(uid).gid(uid);
    }
    command.output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\n{}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn keys_owned_by_issuer_svcs_own_user_load_and_a_strangers_are_refused() {
    if rustix::process::geteuid().as_raw() != 0 {
        eprintln!("not run: starting a process as another user needs root");
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    fs::set_permissions(temp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    // The binary where both users can run it (a checkout may sit under a
    // private home directory).
    let bin = temp.path().join("issuer-svc");
    fs::copy(BIN, &bin).unwrap();
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    let state = temp.path().join("state");
    let config = temp.path().join("issuer.toml");
    fs::write(
        &config,
        common::config_text("http://127.0.0.1:9", &state, "", ""),
    )
    .unwrap();
    fs::set_permissions(&config, fs::Permissions::from_mode(0o644)).unwrap();

    let rotated = run(&bin, &["keys", "rotate"], &config, None);
    assert!(rotated.status.success(), "{}", text(&rotated));
    let stdout = String::from_utf8(rotated.stdout).unwrap();
    let kid = stdout
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("new signing key "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no kid in: {stdout}"))
        .to_owned();

    // Hand the state to OWNER, as an image running as a non-root user has it.
    let keys = state.join("keys");
    for path in [state.clone(), keys.clone()]
        .into_iter()
        .chain(fs::read_dir(&keys).unwrap().map(|e| e.unwrap().path()))
    {
        chown(&path, Some(OWNER), Some(OWNER)).unwrap();
    }
    // The stranger may look into the state directory, so that what stops it
    // is the owner check on the keys, not a missing search permission.
    fs::set_permissions(&state, fs::Permissions::from_mode(0o755)).unwrap();

    let listed = run(&bin, &["keys", "list"], &config, Some(OWNER));
    assert!(listed.status.success(), "{}", text(&listed));
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains(&kid),
        "{}",
        text(&listed)
    );

    let refused = run(&bin, &["keys", "list"], &config, Some(STRANGER));
    assert!(!refused.status.success(), "{}", text(&refused));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&format!("owned by uid {OWNER}")),
        "{}",
        text(&refused)
    );
    assert!(
        stderr.contains(&format!("(uid {STRANGER})")),
        "{}",
        text(&refused)
    );
}
