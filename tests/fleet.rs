//! A fleet converged by ansible-playbook over SSH with the monstack.stack collection
//! installed from its tarball: four real hosts (systemd as PID 1, sshd, the release
//! mirror on each host's own loopback), reached through
//! `ProxyCommand=nsenter -t PID -n socat - TCP:127.0.0.1:22`.
//!
//! 1. First run: the three good hosts converge (changed, services active under
//!    systemd, Prometheus ready); the fourth, given a broken config, fails alone naming
//!    the key and is left untouched.
//! 2. Second run: changed=0 on every good host.
//! 3. `--check --diff` after an edit: changed with the diff; nothing changes on the hosts.
//! 4. The fourth host, fixed, with its mirror down: fails naming the URL; with the
//!    mirror back it converges; then a run over all hosts changes nothing anywhere.
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

use std::time::Duration;

use fleet::Fleet;

/// The play: the stack from the loopback mirror, Grafana off, plus each host's
/// `extra` config merged in; `scrape_interval` comes from an extra var.
const SITE: &str = r#"
- hosts: all
  gather_facts: false
  vars:
    scrape_interval: 15s
  tasks:
    - name: Converge the monitoring stack
      monstack.stack.apply:
        config: "{{ stack | combine(extra | default({}), recursive=True) }}"
      vars:
        stack:
          downloads: {base_url: "{{ mirror_url }}", retries: 1}
          prometheus:
            version: "@PROM@"
            global: {scrape_interval: "{{ scrape_interval }}"}
          alertmanager: {version: "@AM@"}
          node_exporter: {version: "@NODE@"}
          grafana: {enabled: false}
"#;

fn site() -> String {
    SITE.replace("@PROM@", stack::PROM).replace("@AM@", stack::AM).replace("@NODE@", stack::NODE)
}

#[test]
fn fleet_converges_over_ssh_and_fails_host_by_host() {
    let _ = stack::mirror_dir();
    let Some(mut f) = Fleet::boot(4, "fleet") else { return };
    let names = f.names();
    let (good, odd) = (&names[..3], &names[3]);
    let pb = f.ansible.playbook("site.yml", &site());
    let broken = |i: usize| {
        if i == 3 {
            "      extra: {prometheus: {scrape_intervall: 5s}}\n".to_string()
        } else {
            String::new()
        }
    };
    let inv = f.inventory(&broken);
    let inv = inv.to_str().unwrap().to_string();
    let forks = "--forks=4";

    // 1. First run.
    let first = f.ansible.play(&pb, &["-i", &inv, forks]);
    assert_eq!(first.code, 2, "one host failed:\n{}", first.output);
    for n in good {
        assert_eq!(first.count(n, "changed"), 1, "{n}:\n{}", first.output);
        assert_eq!(first.count(n, "failed"), 0, "{n}:\n{}", first.output);
    }
    assert_eq!(first.count(odd, "failed"), 1, "{}", first.output);
    assert!(
        first.output.contains(&format!("fatal: [{odd}]"))
            && first.output.contains("scrape_intervall")
            && first.output.contains("/etc/monstack/monstack.yaml"),
        "the failure names the key and the file:\n{}",
        first.output
    );
    for h in &f.hosts[..3] {
        h.ok("systemctl is-active prometheus.service alertmanager.service node_exporter.service");
        let (code, _) = h.http_get("http://127.0.0.1:9090/-/ready");
        assert_eq!(code, 200, "{}: Prometheus ready", h.name);
        assert_eq!(h.ok("stat -c %a /etc/monstack/monstack.yaml").trim(), "600");
    }
    let odd_host = &f.hosts[3];
    assert!(!odd_host.path("/opt/prometheus").exists(), "the broken host was not touched");
    assert!(!odd_host.path("/etc/monstack/monstack.yaml").exists());

    // 2. Second run: nothing changes on the good hosts.
    let second = f.ansible.play(&pb, &["-i", &inv, forks]);
    for n in good {
        assert_eq!(second.count(n, "changed"), 0, "{n}:\n{}", second.output);
        assert_eq!(second.count(n, "failed"), 0, "{n}:\n{}", second.output);
    }

    // 3. --check --diff after an edit: changed with the diff, nothing changes.
    let before: Vec<String> = f.hosts[..3]
        .iter()
        .map(|h| h.ok("stat -c '%Y %s' /opt/prometheus/prometheus.yml /etc/monstack/monstack.yaml; cat /opt/prometheus/prometheus.yml"))
        .collect();
    let pids: Vec<String> =
        f.hosts[..3].iter().map(|h| h.ok("systemctl show -P MainPID prometheus.service")).collect();
    let limit = good.join(",");
    let check = f.ansible.play(
        &pb,
        &["-i", &inv, forks, "--limit", &limit, "--check", "--diff", "-e", "scrape_interval=20s"],
    );
    assert_eq!(check.code, 0, "{}", check.output);
    for n in good {
        assert_eq!(check.count(n, "changed"), 1, "{n}:\n{}", check.output);
    }
    assert!(
        check.output.contains("-  scrape_interval: \"15s\"")
            && check.output.contains("+  scrape_interval: \"20s\"")
            && check.output.contains("/opt/prometheus/prometheus.yml"),
        "the diff shows the edit:\n{}",
        check.output
    );
    for (i, h) in f.hosts[..3].iter().enumerate() {
        assert_eq!(
            h.ok("stat -c '%Y %s' /opt/prometheus/prometheus.yml /etc/monstack/monstack.yaml; cat /opt/prometheus/prometheus.yml"),
            before[i],
            "{}: check mode changed nothing",
            h.name
        );
        assert_eq!(h.ok("systemctl show -P MainPID prometheus.service"), pids[i]);
    }

    // 4. The odd host fixed, its mirror down: fails naming the URL.
    let inv = f.inventory(&|_| String::new());
    let inv = inv.to_str().unwrap().to_string();
    f.stop_mirror(3);
    let url = f.mirror_url(3);
    let down = f.ansible.play(&pb, &["-i", &inv, "--limit", odd]);
    assert_eq!(down.code, 2, "{}", down.output);
    assert_eq!(down.count(odd, "failed"), 1, "{}", down.output);
    assert!(down.output.contains(&url), "the failure names {url}:\n{}", down.output);
    assert!(!f.hosts[3].path("/opt/prometheus/current").exists());

    // ... back: it converges; then the whole fleet is steady.
    f.start_mirror(3);
    let back = f.ansible.play(&pb, &["-i", &inv, "--limit", odd]);
    assert_eq!(back.code, 0, "{}", back.output);
    assert_eq!(back.count(odd, "changed"), 1, "{}", back.output);
    assert!(f.hosts[3].wait_port(9090, Duration::from_secs(30)));
    let steady = f.ansible.play(&pb, &["-i", &inv, forks]);
    assert_eq!(steady.code, 0, "{}", steady.output);
    for n in &names {
        assert_eq!(steady.count(n, "changed"), 0, "{n}:\n{}", steady.output);
    }
}
