//! Spawning the real binaries and reading what they print.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running child whose stderr (or stdout) lines arrive on a channel; killed on drop.
pub struct Running {
    pub child: Child,
    pub lines: mpsc::Receiver<String>,
    pub log: Vec<String>,
}

impl Running {
    pub fn spawn(mut command: Command, from_stdout: bool) -> Running {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let (tx, lines) = mpsc::channel::<String>();
        let out: Box<dyn Read + Send> = if from_stdout {
            Box::new(child.stdout.take().unwrap())
        } else {
            Box::new(child.stderr.take().unwrap())
        };
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Running {
            child,
            lines,
            log: Vec::new(),
        }
    }

    /// Waits for a line containing `needle` and returns the text after it.
    pub fn wait_for(&mut self, needle: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| {
                    panic!("no line with `{needle}`; saw:\n{}", self.log.join("\n"))
                });
            self.log.push(line.clone());
            if let Some(rest) = line.split(needle).nth(1) {
                return rest.trim().to_owned();
            }
        }
    }

    /// Everything printed so far.
    pub fn drain(&mut self) -> String {
        self.log.extend(self.lines.try_iter());
        self.log.join("\n")
    }

    pub fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `issuer-svc serve --config FILE`; returns it once both listeners are up,
/// with their addresses.
pub fn serve_issuer(config: &std::path::Path) -> (Running, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_issuer-svc"));
    command
        .args(["serve", "--config"])
        .arg(config)
        .env("RUST_LOG", "info");
    let mut running = Running::spawn(command, false);
    let public = running.wait_for("public listener on ");
    let internal = running.wait_for("internal listener on ");
    (running, public, internal)
}

/// The release `fake-claude` of this checkout: cargo builds it (or finds it
/// up to date) before the first use in a test process, so a plain
/// `cargo nextest run` tests the simulator as it is, never a stale binary
/// left by an earlier `make build`.
pub fn fake_claude_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
            // The same command as `make native` from a shell: the same
            // packages (cargo resolves features per invocation, so building
            // fake-claude alone would relink what `make build` just built),
            // through rustup's `cargo` (which reads rust-toolchain.toml),
            // without the toolchain variables this test process inherited
            // from cargo/nextest: with them cargo reaches the toolchain by
            // another path, and the two builds rebuild each other's output.
            let mut command = Command::new("cargo");
            for (name, _) in std::env::vars_os() {
                let name = name.to_string_lossy().into_owned();
                let keep = name == "CARGO_HOME" || name == "CARGO_TARGET_DIR";
                if !keep && (name.starts_with("CARGO") || name.starts_with("RUSTUP_TOOLCHAIN") || name == "RUSTC") {
                    command.env_remove(&name);
                }
            }
            let output = command
                .args(["build", "--release", "--locked", "-p", "issuer-svc", "-p", "fake-claude"])
                .current_dir(&root)
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "`cargo build --release -p issuer-svc -p fake-claude` failed (or run `make build`):\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| root.join("target"), PathBuf::from);
            target.join("release/fake-claude")
        })
        .clone()
}

/// A loopback port nothing listens on right now, for a child process to bind.
///
/// Not from `bind(0)`: that port lies in the kernel's ephemeral range, where any
/// outgoing connection on the machine may take it as its source port before the
/// child binds it ("Address already in use"). Ports below that range compete only
/// with listeners; the start is spread by process id (nextest runs each test in
/// its own process) and no port is handed out twice in one process.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let (low, high) = listen_range();
    let span = high - low;
    let _ = NEXT.compare_exchange(
        u32::MAX,
        std::process::id().wrapping_mul(7919) % span,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..span {
        let offset = NEXT.fetch_add(1, Ordering::SeqCst) % span;
        let port = u16::try_from(low + offset).unwrap();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {low}-{high}");
}

/// Ports under (or above) the kernel's ephemeral range, as `[low, high)`; from
/// 20000 up, clear of the demo's fixed ports.
fn listen_range() -> (u32, u32) {
    let ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| {
            let mut parts = text.split_whitespace().map(str::parse::<u32>);
            Some((parts.next()?.ok()?, parts.next()?.ok()?))
        })
        .unwrap_or((32768, 60999));
    if ephemeral.0 >= 22000 {
        (20000, ephemeral.0)
    } else {
        (ephemeral.1 + 1, 65536)
    }
}
