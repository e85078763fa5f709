//! The monstack.stack collection as a user gets it: built by ansible/build.sh (what
//! `make ansible` runs) with the test binary, installed with `ansible-galaxy collection
//! install` from the tarball, documented by `ansible-doc`, and run by
//! `ansible-playbook` (local connection, a temp root, files only) through the role and
//! the module: converge, no-op re-run, `--check --diff` after an edit, a broken config,
//! and a target platform the collection has no binary for.
#[path = "support/ansible.rs"]
mod ansible;

use std::collections::BTreeMap;
use std::path::Path;

use ansible::Ansible;

#[test]
fn galaxy_install_and_ansible_doc() {
    let a = Ansible::install();
    let installed = a.collections().join("ansible_collections/monstack/stack");
    assert!(installed.join(format!("bin/monstack_{}", ansible::platform())).is_file());
    assert!(installed.join("MANIFEST.json").is_file());

    let out = a.cmd("ansible-doc").arg("monstack.stack.apply").output().unwrap();
    let doc = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for want in ["config_file", "service_manager", "offline", "locked", "check_mode", "diff_mode"] {
        assert!(doc.contains(want), "ansible-doc lacks `{want}`:\n{doc}");
    }

    let out = a.cmd("ansible-doc").args(["-l", "monstack.stack"]).output().unwrap();
    let list = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(list.contains("monstack.stack.apply"), "{list}");
    assert!(!err.contains("WARNING"), "ansible-doc -l warns: {err}");

    let out = a.cmd("ansible-doc").args(["-t", "role", "monstack.stack.host"]).output().unwrap();
    let role = String::from_utf8_lossy(&out.stdout);
    assert!(
        role.contains("monstack_config") && role.contains("monstack_service_manager"),
        "{role}"
    );
}

const PLAY: &str = r#"
- hosts: all
  gather_facts: false
  roles:
    - role: monstack.stack.host
      vars:
        monstack_root: "{{ sandbox }}"
        monstack_service_manager: none
"#;

/// Files only: the components and Grafana off, one logrotate entry and the rsyslog drop-in.
fn config(rotate: u32, extra: &str) -> String {
    format!(
        r#"{{"monstack_config": {{"prometheus": {{"enabled": false}}, "alertmanager": {{"enabled": false}},
        "node_exporter": {{"enabled": false}}, "grafana": {{"enabled": false}},
        "logrotate": {{"entries": [{{"name": "app", "paths": ["/var/log/app/*.log"], "rotate": {rotate}{extra}}}]}}}}}}"#
    )
}

fn files(root: &Path) -> BTreeMap<String, (std::time::SystemTime, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if !p.ends_with("apply.lock") {
                let m = std::fs::metadata(&p).unwrap();
                out.insert(
                    p.display().to_string(),
                    (m.modified().unwrap(), std::fs::read(&p).unwrap()),
                );
            }
        }
    }
    out
}

#[test]
fn role_converges_reruns_clean_checks_with_diff_and_fails_on_a_broken_config() {
    let a = Ansible::install();
    let sandbox = a.dir.path().join("root");
    let pb = a.playbook("site.yml", PLAY);
    let vars = |name: &str, text: String| {
        let p = a.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        format!("@{}", p.display())
    };
    let good = vars("good.json", config(52, ""));
    let sandbox_var = format!("sandbox={}", sandbox.display());
    let base = ["-c", "local", "-i", "localhost,", "-e", &sandbox_var];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    let run = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        a.play(&pb, &refs)
    };

    let first = run(with(&["-e", &good]));
    assert_eq!(first.code, 0, "{}", first.output);
    assert_eq!(first.count("localhost", "changed"), 1, "{}", first.output);
    let conf = sandbox.join("etc/logrotate.d/app");
    assert!(std::fs::read_to_string(&conf).unwrap().contains("rotate 52"));
    let written = sandbox.join("etc/monstack/monstack.yaml");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&written).unwrap().permissions().mode() & 0o777, 0o600);

    let second = run(with(&["-e", &good]));
    assert_eq!(second.code, 0, "{}", second.output);
    assert_eq!(second.count("localhost", "changed"), 0, "{}", second.output);

    // An edit under --check --diff: reported as changed with the file's diff; nothing written.
    let before = files(&sandbox);
    let edited = vars("edited.json", config(7, ""));
    let check = run(with(&["-e", &edited, "--check", "--diff"]));
    assert_eq!(check.code, 0, "{}", check.output);
    assert_eq!(check.count("localhost", "changed"), 1, "{}", check.output);
    assert!(
        check.output.contains("-    rotate 52") && check.output.contains("+    rotate 7"),
        "{}",
        check.output
    );
    assert!(check.output.contains("/etc/logrotate.d/app"), "{}", check.output);
    assert_eq!(files(&sandbox), before, "check mode changed nothing");

    // A broken config fails naming the key; nothing changes.
    let broken = vars("broken.json", config(7, r#", "rotat": 3"#));
    let bad = run(with(&["-e", &broken]));
    assert_eq!(bad.code, 2, "{}", bad.output);
    assert_eq!(bad.count("localhost", "failed"), 1, "{}", bad.output);
    assert!(bad.output.contains("rotat") && bad.output.contains("monstack.yaml"), "{}", bad.output);
    assert_eq!(files(&sandbox), before, "a broken config changed nothing");
}

#[test]
fn a_platform_without_a_binary_fails_naming_it() {
    let a = Ansible::install();
    let pb = a.playbook(
        "arch.yml",
        r#"
- hosts: all
  gather_facts: false
  vars:
    ansible_facts: {system: Linux, architecture: ppc64le}
  tasks:
    - monstack.stack.apply:
        root: /nonexistent-monstack-root
"#,
    );
    let play = a.play(&pb, &["-c", "local", "-i", "localhost,"]);
    assert_eq!(play.code, 2, "{}", play.output);
    assert!(
        play.output.contains("no monstack binary for the target's platform linux/ppc64le")
            && play
                .output
                .contains(&format!("it carries: {}", ansible::platform().replacen('_', "/", 1))),
        "{}",
        play.output
    );
    assert!(!Path::new("/nonexistent-monstack-root").exists());
}
