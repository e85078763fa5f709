//! Benchmark driver for tests/bench/grafana.sh (ignored in `cargo test`): push 200
//! dashboards to the emulator, first apply and a no-op re-apply, against a reference
//! that re-posts every dashboard each run as the old setup script did; then the same
//! first and no-op applies against a Grafana 12 emulator (`/apis` dashboards) with
//! dashboards it rewrites on save (padded title, refresh below the minimum).
#[path = "support/grafana_emulator.rs"]
mod grafana_emulator;

use std::time::{Duration, Instant};

use grafana_emulator::{Emulator, ADMIN_PASSWORD, ADMIN_USER, TOKEN};
use monstack::report::Action;
use serde_json::{json, Value};

const DASHBOARDS: usize = 200;

fn model(i: usize) -> Value {
    let panels: Vec<Value> = (0..8)
        .map(|p| {
            json!({
                "id": p + 1, "type": "timeseries", "title": format!("panel {p}"),
                "gridPos": {"h": 8, "w": 12, "x": (p % 2) * 12, "y": (p / 2) * 8},
                "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"},
                "targets": [{"expr": format!("rate(metric_{i}_{p}_total[5m])"), "refId": "A"}],
            })
        })
        .collect();
    json!({"uid": format!("bench-{i:03}"), "title": format!("Bench {i:03}"), "schemaVersion": 39, "panels": panels})
}

/// The same dashboard as Grafana would rewrite it on save.
fn normalised(i: usize) -> Value {
    let mut m = model(i);
    m["title"] = json!(format!(" Bench {i:03} "));
    m["refresh"] = json!("1s");
    m["schemaVersion"] = json!(30);
    m
}

struct Run {
    name: &'static str,
    wall: Duration,
    requests: usize,
    writes: usize,
}

#[test]
#[ignore = "benchmark: run by tests/bench/grafana.sh with --release"]
fn bench_push_200_dashboards() {
    let dir = tempfile::tempdir().unwrap();
    let dash = dir.path().join("dash");
    std::fs::create_dir_all(&dash).unwrap();
    for i in 0..DASHBOARDS {
        std::fs::write(dash.join(format!("bench-{i:03}.json")), model(i).to_string()).unwrap();
    }
    std::fs::write(dir.path().join("token"), TOKEN).unwrap();
    let g = Emulator::start();
    let cfg = dir.path().join("monstack.yaml");
    std::fs::write(
        &cfg,
        format!(
            "state_dir: {}\ngrafana:\n  url: {}\n  builtin_dashboard: false\n  dashboards: [dash]\n  auth:\n    token_file: token\n  datasource:\n    url: {}\n",
            dir.path().join("state").display(),
            g.url(),
            g.prometheus_url()
        ),
    )
    .unwrap();
    let l = monstack::config::load(&cfg).unwrap();
    let state = dir.path().join("state");

    let mut runs = Vec::new();
    let mut measure = |name: &'static str, f: &mut dyn FnMut()| {
        g.reset_counters();
        let t = Instant::now();
        f();
        runs.push(Run { name, wall: t.elapsed(), requests: g.requests(), writes: g.writes() });
    };
    measure("monstack first apply", &mut || {
        let out = monstack::grafana::apply(&l, &state).unwrap();
        assert_eq!(out.iter().filter(|c| c.action == Action::Create).count(), DASHBOARDS + 2);
    });
    for _ in 0..3 {
        measure("monstack no-op re-apply", &mut || {
            let out = monstack::grafana::apply(&l, &state).unwrap();
            assert!(out.iter().all(|c| c.action == Action::Unchanged));
        });
    }
    // Reference: the old script's approach, one unconditional POST per dashboard.
    let http = reqwest::blocking::Client::new();
    measure("reference re-post all", &mut || {
        for i in 0..DASHBOARDS {
            let r = http
                .post(format!("{}/api/dashboards/db", g.url()))
                .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
                .json(&json!({"dashboard": model(i), "folderUid": "monstack", "overwrite": true}))
                .send()
                .unwrap();
            assert!(r.status().is_success());
        }
    });

    println!("\n{DASHBOARDS} dashboards, emulator on loopback, concurrency 4");
    println!("{:<26} {:>10} {:>10} {:>8}", "run", "wall", "requests", "writes");
    for r in &runs {
        println!(
            "{:<26} {:>8.0}ms {:>10} {:>8}",
            r.name,
            r.wall.as_secs_f64() * 1000.0,
            r.requests,
            r.writes
        );
    }
    let noop: Vec<&Run> = runs.iter().filter(|r| r.name.contains("no-op")).collect();
    let best = noop.iter().map(|r| r.wall).min().unwrap();
    let reference = runs.last().unwrap();
    println!(
        "no-op re-apply vs reference: {:.2}x wall, {} vs {} writes",
        best.as_secs_f64() / reference.wall.as_secs_f64(),
        noop[0].writes,
        reference.writes
    );
    assert!(noop.iter().all(|r| r.writes == 0), "a no-op re-apply must not write");
    assert!(best <= Duration::from_millis(500), "target: no-op re-apply <= 0.5 s, got {best:?}");

    // Grafana 12: dashboards through /apis, and every one rewritten by Grafana on save.
    for i in 0..DASHBOARDS {
        std::fs::write(dash.join(format!("bench-{i:03}.json")), normalised(i).to_string()).unwrap();
    }
    let g12 = Emulator::start_version("12.1.0");
    std::fs::write(
        &cfg,
        format!(
            "state_dir: {}
grafana:
  url: {}
  builtin_dashboard: false
  dashboards: [dash]
  auth:
    token_file: token
  datasource:
    url: {}
",
            dir.path().join("state12").display(),
            g12.url(),
            g12.prometheus_url()
        ),
    )
    .unwrap();
    let l12 = monstack::config::load(&cfg).unwrap();
    let state12 = dir.path().join("state12");
    let mut runs12 = Vec::new();
    for name in ["12.1 first apply", "12.1 no-op", "12.1 no-op", "12.1 no-op"] {
        g12.reset_counters();
        let t = Instant::now();
        monstack::grafana::apply(&l12, &state12).unwrap();
        runs12.push(Run {
            name,
            wall: t.elapsed(),
            requests: g12.requests(),
            writes: g12.writes(),
        });
    }
    println!("\nGrafana 12.1 emulator (/apis), {DASHBOARDS} dashboards it rewrites on save");
    for r in &runs12 {
        println!(
            "{:<26} {:>8.0}ms {:>10} {:>8}",
            r.name,
            r.wall.as_secs_f64() * 1000.0,
            r.requests,
            r.writes
        );
    }
    let noop12: Vec<&Run> = runs12.iter().filter(|r| r.name.contains("no-op")).collect();
    assert!(noop12.iter().all(|r| r.writes == 0), "normalised dashboards: 0 writes on no-op");
    let best12 = noop12.iter().map(|r| r.wall).min().unwrap();
    assert!(best12 <= Duration::from_millis(500), "12.1 no-op <= 0.5 s, got {best12:?}");
}
