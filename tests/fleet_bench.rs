//! `make bench` (tests/bench/fleet.sh): the same job on N fresh real hosts over SSH
//! (N from FLEET_BENCH_HOSTS, default 3; forks = N), timed side by side:
//! (a) tests/bench/fleet/monstack.yml — one `monstack.stack.apply` task, the collection
//!     installed from its tarball (this build's monstack binary inside);
//! (b) tests/bench/fleet/reference.yml — plain Ansible: user, get_url with checksum,
//!     unarchive, template with validate (promtool / amtool), systemd.
//! Each side gets its own freshly booted hosts (the same kind: systemd as PID 1, the
//! release mirror on each host's loopback, same versions), one first converge and
//! NOOP_RUNS no-op re-runs (median). Every run must succeed, and every no-op re-run
//! must report changed=0, or the figures are not printed.
#[path = "support/ansible.rs"]
mod ansible;
#[path = "support/bin.rs"]
mod bin;
#[path = "support/fleet.rs"]
mod fleet;
#[path = "support/mirror.rs"]
mod mirror;
#[path = "support/realhost.rs"]
mod realhost;
#[path = "support/stack.rs"]
mod stack;

use std::path::Path;
use std::time::{Duration, Instant};

use fleet::Fleet;

const NOOP_RUNS: usize = 3;

struct Side {
    first: Duration,
    noop: Duration,
}

fn run_side(label: &str, playbook: &str, n: usize) -> Option<Side> {
    let mut f = Fleet::boot(n, "bench")?;
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bench/fleet");
    // The playbook and its templates, beside the inventory.
    let dir = f.ansible.dir.path().to_path_buf();
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    for e in std::fs::read_dir(src.join("templates")).unwrap().flatten() {
        std::fs::copy(e.path(), dir.join("templates").join(e.file_name())).unwrap();
    }
    let pb = dir.join(playbook);
    std::fs::copy(src.join(playbook), &pb).unwrap();
    let inv = f.inventory(&|_| {
        format!(
            "      prometheus_version: \"{}\"\n      alertmanager_version: \"{}\"\n      node_exporter_version: \"{}\"\n      ansible_python_interpreter: /usr/bin/python3\n",
            stack::PROM,
            stack::AM,
            stack::NODE
        )
    });
    let inv = inv.to_str().unwrap().to_string();
    let forks = format!("--forks={n}");
    let names = f.names();
    let timed = |f: &Fleet| {
        let t = Instant::now();
        let play = f.ansible.play(&pb, &["-i", &inv, &forks]);
        (t.elapsed(), play)
    };
    let (first, play) = timed(&f);
    assert_eq!(play.code, 0, "{label}: first converge failed:\n{}", play.output);
    for h in &names {
        assert!(play.count(h, "changed") > 0, "{label}: {h} did not change:\n{}", play.output);
    }
    for h in &f.hosts {
        h.ok("systemctl is-active prometheus.service alertmanager.service node_exporter.service");
    }
    let mut noops = Vec::new();
    for _ in 0..NOOP_RUNS {
        let (t, play) = timed(&f);
        assert_eq!(play.code, 0, "{label}: no-op run failed:\n{}", play.output);
        for h in &names {
            assert_eq!(play.count(h, "changed"), 0, "{label}: {h} changed again:\n{}", play.output);
        }
        noops.push(t);
    }
    noops.sort();
    let side = Side { first, noop: noops[noops.len() / 2] };
    // Stop the mirrors before the hosts go.
    for i in 0..n {
        f.stop_mirror(i);
    }
    Some(side)
}

#[test]
#[ignore = "benchmark: make bench"]
fn fleet_bench() {
    let n: usize =
        std::env::var("FLEET_BENCH_HOSTS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let _ = stack::mirror_dir();
    let Some(a) = run_side("monstack", "monstack.yml", n) else { return };
    let Some(b) = run_side("reference", "reference.yml", n) else { return };
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let per_min = |d: Duration| n as f64 * 60.0 / d.as_secs_f64();
    println!("fleet: {n} hosts over SSH, forks={n}, ansible-core {}", ansible_version());
    println!(
        "{:<34} {:>14} {:>16} {:>22}",
        "playbook", "first converge", "no-op (median 3)", "hosts/min (first/no-op)"
    );
    for (name, s) in [("(a) monstack.stack.apply", &a), ("(b) reference plain Ansible", &b)] {
        println!(
            "{name:<34} {:>11.0} ms {:>13.0} ms {:>11.1} / {:.1}",
            ms(s.first),
            ms(s.noop),
            per_min(s.first),
            per_min(s.noop)
        );
    }
    println!(
        "ratio monstack/reference: first converge {:.2} (goal <= 0.33), no-op {:.2} (goal <= 0.20)",
        ms(a.first) / ms(b.first),
        ms(a.noop) / ms(b.noop)
    );
}

fn ansible_version() -> String {
    let out = std::process::Command::new(ansible::venv_bin().join("ansible"))
        .arg("--version")
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    s.lines().next().unwrap_or("").trim_start_matches("ansible ").to_string()
}
