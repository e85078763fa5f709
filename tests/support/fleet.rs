//! A fleet of real test hosts for Ansible: N hosts booted side by side (realhost.rs)
//! with sshd and a test key, each with the release mirror served on its own loopback,
//! an inventory that reaches each over SSH through
//! `ProxyCommand=nsenter -t PID -n socat - TCP:127.0.0.1:22`, and the monstack.stack
//! collection installed (ansible.rs). Dropping the fleet closes Ansible's SSH master
//! connections, stops the mirrors and the hosts.
//! Include with `mirror`, `stack`, `realhost` and `ansible` as sibling modules.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use crate::ansible::Ansible;
use crate::mirror::Mirror;
use crate::realhost::{self, Host, Options};

pub struct Fleet {
    /// Declared first: dropped (SSH masters closed) before the hosts stop.
    pub ansible: Ansible,
    pub mirrors: Vec<Option<Mirror>>,
    pub ports: Vec<u16>,
    pub hosts: Vec<Host>,
}

impl Fleet {
    /// Boot `n` hosts with sshd, in parallel; `None` when hosts cannot boot here (not
    /// under CI, which fails instead; see realhost.rs).
    pub fn boot(n: usize, prefix: &str) -> Option<Fleet> {
        let booted: Vec<Option<Host>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..n)
                .map(|_| {
                    s.spawn(|| {
                        realhost::boot(Options {
                            sshd: true,
                            name: Some(prefix.to_string()),
                            ..Options::default()
                        })
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let hosts: Vec<Host> = booted.into_iter().collect::<Option<Vec<_>>>()?;
        let mut f =
            Fleet { ansible: Ansible::install(), mirrors: Vec::new(), ports: Vec::new(), hosts };
        for i in 0..f.hosts.len() {
            let listener = f.hosts[i].listen(0);
            f.ports.push(listener.local_addr().unwrap().port());
            f.mirrors.push(Some(Mirror::start_on(listener, crate::stack::mirror_dir())));
        }
        Some(f)
    }

    /// The mirror URL as host `i` sees it (its own loopback).
    pub fn mirror_url(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.ports[i])
    }

    /// Stop host `i`'s mirror: its port refuses connections.
    pub fn stop_mirror(&mut self, i: usize) {
        self.mirrors[i] = None;
    }

    /// Serve host `i`'s mirror again on the same port.
    pub fn start_mirror(&mut self, i: usize) {
        let listener = self.hosts[i].listen(self.ports[i]);
        self.mirrors[i] = Some(Mirror::start_on(listener, crate::stack::mirror_dir()));
    }

    /// A YAML inventory of every host (`ansible_user: root`, its key, its ProxyCommand,
    /// `mirror_url`), plus `vars(i)` (YAML mapping lines, indented by 6) per host.
    pub fn inventory(&self, vars: &dyn Fn(usize) -> String) -> PathBuf {
        let mut text = String::from("all:\n  vars:\n    ansible_user: root\n  hosts:\n");
        for (i, h) in self.hosts.iter().enumerate() {
            text.push_str(&format!(
                "    {name}:\n      ansible_host: {name}\n      ansible_ssh_private_key_file: {key}\n      \
                 ansible_ssh_common_args: >-\n        -o ProxyCommand=\"nsenter -t {pid} -n socat - TCP:127.0.0.1:22\"\n        \
                 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null\n      mirror_url: {url}\n{extra}",
                name = h.name,
                key = h.dir.join("id_ed25519").display(),
                pid = h.pid(),
                url = self.mirror_url(i),
                extra = vars(i),
            ));
        }
        let p = self.ansible.dir.path().join("inventory.yml");
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Host names, in boot order.
    pub fn names(&self) -> Vec<String> {
        self.hosts.iter().map(|h| h.name.clone()).collect()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        // Ansible's ControlPersist masters outlive ansible-playbook: end each one.
        let cp = self.ansible.control_dir();
        for e in std::fs::read_dir(&cp).into_iter().flatten().flatten() {
            let _ = Command::new("ssh")
                .args(["-o", "BatchMode=yes", "-S"])
                .arg(e.path())
                .args(["-O", "exit", "fleet-host"])
                .output();
        }
    }
}
