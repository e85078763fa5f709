//! The real-host harness itself (tests/support/realhost.rs): two hosts at once, each with
//! systemd as PID 1, a clean /etc, its own loopback; commands, files, transient services,
//! a listener owned by the test, sshd, and a reboot that keeps the persisted dirs.

#[path = "support/mirror.rs"]
mod mirror;
#[path = "support/realhost.rs"]
mod realhost;

use std::time::Duration;

use realhost::Options;

#[test]
fn two_hosts_boot_side_by_side_clean_and_isolated() {
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| realhost::boot(Options::default()));
        let b = s.spawn(|| realhost::boot(Options { sshd: true, ..Options::default() }));
        (a.join().unwrap(), b.join().unwrap())
    });
    let (Some(a), Some(b)) = (a, b) else { return };
    assert_ne!(a.name, b.name);

    for h in [&a, &b] {
        // systemd is PID 1 and the boot finished.
        assert_eq!(h.ok("cat /proc/1/comm").trim(), "systemd");
        let state = h.run(&["systemctl", "is-system-running"]);
        let state = String::from_utf8_lossy(&state.stdout);
        assert!(matches!(state.trim(), "running" | "degraded"), "{}: {state}", h.name);
        // What Debian's prometheus packages added is gone.
        assert!(!h.sh("getent passwd prometheus").status.success());
        assert!(!h.sh("getent group prometheus").status.success());
        assert!(!h.path("/etc/systemd/system/multi-user.target.wants/prometheus.service").exists());
        assert!(!h.sh("systemctl is-enabled prometheus-node-exporter.service").status.success());
        assert!(!h.path("/opt/prometheus").exists());
        // A clean environment: nothing of the test process leaks in.
        let env = h.ok("env");
        assert!(!env.contains("CARGO"), "{env}");
        // Its own network: only loopback.
        let links = h.ok("ls /sys/class/net");
        assert_eq!(links.split_whitespace().collect::<Vec<_>>(), ["lo"], "{links}");
    }
    assert_ne!(a.ok("cat /etc/machine-id"), b.ok("cat /etc/machine-id"));

    // Files in and out.
    a.write("/root/x/hello.txt", "hello\n", 0o600);
    assert_eq!(a.ok("cat /root/x/hello.txt"), "hello\n");
    assert!(!b.path("/root/x/hello.txt").exists());
    a.copy_in(std::path::Path::new("/usr/bin/true"), "/root/bin/mytrue");
    a.ok("/root/bin/mytrue");

    // A listener owned by this process, on a's loopback only.
    let listener = a.listen(0);
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.txt"), "from the test\n").unwrap();
    let m = mirror::Mirror::start_on(listener, dir.path());
    let (code, body) = a.http_get(&format!("http://127.0.0.1:{port}/f.txt"));
    assert_eq!((code, body.as_str()), (200, "from the test\n"));
    assert_eq!(m.requests(), 1);
    assert_eq!(b.http_get(&format!("http://127.0.0.1:{port}/f.txt")).0, 0);

    // A transient service inside.
    a.service("selftest-echo", &["socat", "TCP-LISTEN:7001,reuseaddr,fork", "SYSTEM:echo pong"]);
    assert!(a.wait_port(7001, Duration::from_secs(10)));
    assert_eq!(a.ok("socat - TCP:127.0.0.1:7001").trim(), "pong");
    assert!(!b.wait_port(7001, Duration::from_millis(200)));

    // sshd on b, through nsenter + socat.
    let out = b.ssh("cat /etc/hostname; id -u").output().unwrap();
    assert!(out.status.success(), "ssh: {}", String::from_utf8_lossy(&out.stderr));
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(out.ends_with("0\n"), "{out}");

    // The journal has this boot.
    assert!(a.journal().contains("selftest-echo"));
}

#[test]
fn reboot_keeps_persisted_etc_opt_var_and_stops_transient_services() {
    let Some(mut h) = realhost::boot(Options { persist: true, ..Options::default() }) else {
        return;
    };
    let first_pid = h.pid();
    h.ok("mkdir -p /opt/keep /var/lib/keep && echo o > /opt/keep/f && echo v > /var/lib/keep/f \
          && echo e > /etc/keep-me && echo t > /root/gone");
    h.service("selftest-sleep", &["sleep", "600"]);
    h.ok("systemctl is-active selftest-sleep.service");
    let boot_id = h.ok("cat /proc/sys/kernel/random/boot_id");
    let journal_before = h.journal();

    h.reboot();
    assert_ne!(h.pid(), first_pid);
    assert_eq!(h.ok("cat /opt/keep/f /var/lib/keep/f /etc/keep-me"), "o\nv\ne\n");
    assert!(!h.path("/root/gone").exists(), "the tmpfs root is fresh after a reboot");
    assert!(!h.sh("systemctl is-active selftest-sleep.service").status.success());
    // A new boot (the container has a boot id of its own).
    assert_ne!(h.ok("cat /proc/sys/kernel/random/boot_id"), boot_id);
    assert!(journal_before.contains("selftest-sleep"));

    h.stop();
    assert!(!std::path::Path::new(&format!("/proc/{first_pid}")).exists());
}
