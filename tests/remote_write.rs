//! `prometheus.remote_write` end to end: Debian's Prometheus started by `apply
//! --service-manager direct` writes to a loopback receiver with a bearer token read
//! from a file, through a queue_config and write_relabel_configs; `status` reports
//! the queue healthy, then failing once the receiver refuses the samples.
#[path = "support/bin.rs"]
mod bin;
#[path = "support/mirror.rs"]
mod mirror;
#[path = "support/stack.rs"]
mod stack;

use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stack::{poll, Stack, PROM};

/// A remote-write receiver on a free loopback port: records each request's
/// Authorization header and answers with `status`.
struct Receiver {
    port: u16,
    status: Arc<AtomicU16>,
    auth: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    fn start() -> Receiver {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let port = server.server_addr().to_ip().unwrap().port();
        let status = Arc::new(AtomicU16::new(204));
        let auth = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, a, st) = (status.clone(), auth.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                let Ok(Some(mut req)) = server.recv_timeout(Duration::from_millis(100)) else {
                    continue;
                };
                let h = req
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Authorization"))
                    .map(|h| h.value.to_string())
                    .unwrap_or_default();
                a.lock().unwrap().push(h);
                let mut body = Vec::new();
                let _ = std::io::Read::read_to_end(req.as_reader(), &mut body);
                let code = s.load(Ordering::SeqCst);
                let _ = req.respond(tiny_http::Response::empty(code));
            }
        });
        Receiver { port, status, auth, stop, thread: Some(thread) }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn status_text(s: &Stack) -> (Option<i32>, String) {
    let out = s.run(&["status"]);
    (out.status.code(), String::from_utf8_lossy(&out.stdout).to_string())
}

#[test]
fn remote_write_with_a_token_file_is_reported_by_status() {
    let s = Stack::new();
    let rx = Receiver::start();
    let token = s.dir.path().join("rw.token");
    std::fs::write(&token, "t0k3n: #x\n").unwrap();
    let prom_extra = format!(
        "  remote_write:\n    - url: http://127.0.0.1:{port}/api/v1/write\n      \
         name: \"central: #1\"\n      bearer_token_file: {token}\n      \
         queue_config: {{batch_send_deadline: 1s, min_backoff: 10ms, max_backoff: 100ms}}\n      \
         write_relabel_configs:\n        - {{source_labels: [__name__], regex: \"go_.*\", action: drop}}\n",
        port = rx.port,
        token = token.display(),
    );
    s.write_config(PROM, &[], &prom_extra);
    s.apply_ok();
    let prom_yml = std::fs::read_to_string(s.root.join("opt/prometheus/prometheus.yml")).unwrap();
    assert!(prom_yml.contains("credentials_file"), "{prom_yml}");
    assert!(!prom_yml.contains("t0k3n"), "the token stays in its file");

    // Samples arrive with the token from the file.
    let got = poll(Duration::from_secs(60), || {
        let a = rx.auth.lock().unwrap();
        (!a.is_empty()).then(|| a[0].clone())
    });
    assert_eq!(got.as_deref(), Some("Bearer t0k3n: #x"));
    let ok = poll(Duration::from_secs(60), || {
        let (code, text) = status_text(&s);
        (code == Some(0) && text.contains("no failed samples")).then_some(text)
    });
    assert!(ok.is_some(), "{}", status_text(&s).1);

    // The receiver refuses every batch (400 is not retried): status names the queue.
    rx.status.store(400, Ordering::SeqCst);
    let failing = poll(Duration::from_secs(90), || {
        let (code, text) = status_text(&s);
        (code != Some(0) && text.contains("central: #1") && text.contains("samples/s failing"))
            .then_some(text)
    });
    assert!(failing.is_some(), "{}", status_text(&s).1);
}
