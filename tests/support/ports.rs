//! Ports for the servers a test has monstack start (Prometheus, Alertmanager, ...).
//!
//! A port from `bind(127.0.0.1:0)` is only free while the test holds it, and the test
//! must let go before the service binds it. In that gap the kernel may hand the same
//! ephemeral port to an outgoing connection (a scrape, a probe) or to another test's
//! `bind(0)`, and the service then fails with "address already in use". So the port
//! comes from below the kernel's ephemeral range, where outgoing connections never get
//! a port; the OS confirms it is free by a bind; and a lock file held for the life of
//! the test process claims it, so parallel test binaries never hand out the same one
//! (a killed process lets go of its locks with its file descriptors).

#![allow(dead_code)]

use std::fs::{File, OpenOptions};
use std::sync::Mutex;

/// Claimed ports' lock files, kept open (locked) until the test process ends.
static HELD: Mutex<Vec<File>> = Mutex::new(Vec::new());

/// The lowest port handed out.
const LOW: u16 = 20000;

/// A free port on 127.0.0.1 that no other test (in any process) has been given.
pub fn free_port() -> u16 {
    let high = ephemeral_low().clamp(LOW + 1000, 32768);
    let span = u32::from(high - LOW);
    let dir = std::env::temp_dir().join("monstack-test-ports");
    std::fs::create_dir_all(&dir).expect("create the test port lock directory");
    // Start somewhere different in each process so parallel binaries rarely meet.
    let seed = std::process::id().wrapping_mul(2_654_435_761)
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
    for i in 0..span {
        let port = LOW + ((seed.wrapping_add(i)) % span) as u16;
        let Ok(lock) =
            OpenOptions::new().create(true).append(true).open(dir.join(port.to_string()))
        else {
            continue;
        };
        if !try_lock(&lock) {
            continue; // another test (this process or another) has it
        }
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
            continue; // something outside the tests listens there; the lock goes with `lock`
        }
        HELD.lock().unwrap_or_else(|e| e.into_inner()).push(lock);
        return port;
    }
    panic!("no free port in {LOW}..{high} on 127.0.0.1");
}

/// An exclusive, non-blocking flock on `file` (per open file: a second open of the same
/// path in this process conflicts too).
fn try_lock(file: &File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor we own; no memory is passed.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// The first port of the kernel's ephemeral range (Linux default 32768).
fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(32768)
}
