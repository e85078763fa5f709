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

fn main() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: the handler only stores to an atomic.
        unsafe {
            libc::signal(sig, on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t);
        }
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
