//! `grafana-emulator`: the loopback Grafana HTTP API emulator that monstack's tests use
//! (tests/support/grafana_emulator.rs), as a process for the demo. It is not Grafana: it
//! answers the API endpoints monstack calls (health, datasources, folders, dashboards,
//! search), keeps everything in memory and accepts the emulator's fixed test token.
//!
//! ```text
//! cargo build --release --example grafana-emulator
//! target/release/examples/grafana-emulator
//! ```
//!
//! It listens on 127.0.0.1 with a port from the OS and prints its base URL as the first
//! line on stdout. Lines on stdin are commands, each answered with one line on stdout:
//! `counters` (`requests=N writes=M`, POST/PUT/DELETE being writes) and `token` (the
//! Bearer token it accepts). It serves until stdin closes, SIGTERM or SIGINT, then
//! prints its counters on stderr.
//!
//! `grafana-emulator server --config=grafana.ini --homepath=DIR` is the stand-in for
//! Grafana's own `bin/grafana server` in the install tests' release tarballs: it reads
//! the rendered grafana.ini (`[server] http_addr`/`http_port`, `[security] admin_user`
//! and `admin_password = $__file{...}`), reports the version in `DIR/VERSION`, serves
//! the emulator on that address and stops on SIGTERM/SIGINT. It is not Grafana.
#[path = "grafana_emulator.rs"]
mod grafana_emulator;

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use grafana_emulator::{Emulator, TOKEN};

/// Set by the SIGTERM/SIGINT handler.
static SIGNALLED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    SIGNALLED.store(true, Ordering::SeqCst);
}

enum Command {
    Line(String),
    Eof,
}

fn counters(g: &Emulator) -> String {
    format!("requests={} writes={}", g.requests(), g.writes())
}

/// `[section] key = value` lines of an ini file.
fn ini_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut cur = String::new();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            cur = name.to_string();
        } else if let Some((k, v)) = line.split_once('=') {
            if cur == section && k.trim() == key {
                return Some(v.trim().to_string());
            }
        }
    }
    None
}

/// The stand-in `grafana server`: configured by grafana.ini only.
fn server(args: &[String]) -> ! {
    let flag = |name: &str| {
        args.iter().find_map(|a| a.strip_prefix(&format!("--{name}=")).map(str::to_string))
    };
    let config = flag("config").unwrap_or_else(|| fail("--config=PATH is required"));
    let home = flag("homepath").unwrap_or_else(|| fail("--homepath=PATH is required"));
    let ini = std::fs::read_to_string(&config)
        .unwrap_or_else(|e| fail(&format!("cannot read {config}: {e}")));
    let addr = ini_value(&ini, "server", "http_addr").unwrap_or_default();
    let port = ini_value(&ini, "server", "http_port").unwrap_or_else(|| "3000".into());
    let host = if addr.is_empty() || addr == "0.0.0.0" { "127.0.0.1".to_string() } else { addr };
    let user = ini_value(&ini, "security", "admin_user").unwrap_or_else(|| "admin".into());
    let pw_ref = ini_value(&ini, "security", "admin_password")
        .unwrap_or_else(|| fail("[security] admin_password is not set"));
    let pw_file = pw_ref
        .strip_prefix("$__file{")
        .and_then(|r| r.strip_suffix('}'))
        .unwrap_or_else(|| fail("admin_password must be $__file{...} (never inline)"));
    let password = std::fs::read_to_string(pw_file)
        .unwrap_or_else(|e| fail(&format!("cannot read {pw_file}: {e}")))
        .trim_end_matches(['\n', '\r'])
        .to_string();
    let version = std::fs::read_to_string(std::path::Path::new(&home).join("VERSION"))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|_| "11.2.0".into());
    let g = Emulator::start_at(&format!("{host}:{port}"), &user, &password, &version);
    eprintln!(
        "grafana-emulator server: stand-in for Grafana {version} on {} (not Grafana)",
        g.url()
    );
    while !SIGNALLED.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("grafana-emulator server: stopping: {}", counters(&g));
    drop(g);
    std::process::exit(0);
}

fn fail(msg: &str) -> ! {
    eprintln!("grafana-emulator server: {msg}");
    std::process::exit(1);
}

fn main() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: the handler only stores to an atomic.
        unsafe {
            libc::signal(sig, on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t);
        }
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("server") {
        server(&args[1..]);
    }
    let g = Emulator::start();
    let mut out = std::io::stdout().lock();
    // A closed stdout (the reader went away) is no reason to stop serving.
    let _ = writeln!(out, "{}", g.url());
    let _ = out.flush();
    eprintln!(
        "grafana-emulator: the Grafana API emulator of monstack's tests (not Grafana) on {}",
        g.url()
    );

    // stdin is read on its own thread so signals are noticed while it blocks.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(Command::Line(line)).is_err() {
                return;
            }
        }
        let _ = tx.send(Command::Eof);
    });

    let why = loop {
        if SIGNALLED.load(Ordering::SeqCst) {
            break "signal";
        }
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(Command::Line(line)) => {
                let answer = match line.trim() {
                    "" => continue,
                    "counters" => counters(&g),
                    "token" => TOKEN.to_string(),
                    other => format!("error: unknown command `{other}` (counters, token)"),
                };
                let _ = writeln!(out, "{answer}");
                let _ = out.flush();
            }
            Ok(Command::Eof) | Err(mpsc::RecvTimeoutError::Disconnected) => break "stdin closed",
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
    };
    eprintln!("grafana-emulator: stopping ({why}): {}", counters(&g));
    drop(g);
}
