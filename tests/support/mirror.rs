//! A loopback HTTP server that serves a directory (a release mirror built by
//! tests/scripts/make-mirror.sh), counts requests, honours `Range`, and can inject
//! faults. Include with `#[path = "support/mirror.rs"] mod mirror;`.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A fault applied to the next request whose path contains `path_contains`.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status and an empty body.
    Status(u16),
    /// Send headers with the full Content-Length, then only `n` bytes, then close.
    Truncate(usize),
    /// Close the connection after `n` body bytes without a clean end (connection drop).
    DropAfter(usize),
    /// Redirect (302) to this absolute URL.
    Redirect(String),
    /// Serve these bytes instead of the file.
    Body(Vec<u8>),
    /// Wait this long before answering.
    Delay(Duration),
}

#[derive(Default)]
struct State {
    faults: VecDeque<(String, Fault)>,
    log: Vec<(String, Option<String>)>,
}

/// The running server; stopped on drop.
pub struct Mirror {
    pub addr: std::net::SocketAddr,
    root: PathBuf,
    state: Arc<Mutex<State>>,
    requests: Arc<AtomicUsize>,
    honor_range: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Mirror {
    /// Serve `root` on 127.0.0.1 with a port from the OS.
    pub fn start(root: impl Into<PathBuf>) -> Mirror {
        Mirror::start_on(TcpListener::bind("127.0.0.1:0").expect("bind loopback"), root)
    }

    /// Serve `root` on a listener the caller bound (e.g. inside a real test host's
    /// network namespace, see realhost.rs).
    pub fn start_on(listener: TcpListener, root: impl Into<PathBuf>) -> Mirror {
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let root = root.into();
        let state = Arc::new(Mutex::new(State::default()));
        let requests = Arc::new(AtomicUsize::new(0));
        let honor_range = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s, q, h, st) =
            (root.clone(), state.clone(), requests.clone(), honor_range.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (r, s, q, h) = (r.clone(), s.clone(), q.clone(), h.clone());
                        std::thread::spawn(move || {
                            let _ = serve(stream, &r, &s, &q, &h);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Mirror { addr, root, state, requests, honor_range, stop, handle: Some(handle) }
    }

    /// `http://127.0.0.1:PORT`, to use as `downloads.base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests served so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Paths requested so far, with their Range header.
    pub fn log(&self) -> Vec<(String, Option<String>)> {
        self.state.lock().unwrap().log.clone()
    }

    /// Queue a fault for the next request whose path contains `path_contains`.
    pub fn fault(&self, path_contains: &str, fault: Fault) {
        self.state.lock().unwrap().faults.push_back((path_contains.to_string(), fault));
    }

    /// Whether `Range` requests get 206 (default) or the whole file with 200.
    pub fn honor_range(&self, on: bool) {
        self.honor_range.store(on, Ordering::SeqCst);
    }

    /// The directory served.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn serve(
    mut stream: TcpStream,
    root: &Path,
    state: &Mutex<State>,
    requests: &AtomicUsize,
    honor_range: &AtomicBool,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or_default();
    let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let range = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("range"))
        .map(|(_, v)| v.trim().to_string());
    requests.fetch_add(1, Ordering::SeqCst);
    let fault = {
        let mut st = state.lock().unwrap();
        st.log.push((path.clone(), range.clone()));
        let pos = st.faults.iter().position(|(p, _)| path.contains(p.as_str()));
        pos.and_then(|i| st.faults.remove(i)).map(|(_, f)| f)
    };
    let file = root.join(path.trim_start_matches('/').split('?').next().unwrap_or(""));
    let mut body = if file.is_file() { Some(std::fs::read(&file)?) } else { None };
    let mut cut = None;
    match fault {
        Some(Fault::Status(code)) => return respond(&mut stream, code, &[], &[]),
        Some(Fault::Redirect(to)) => {
            return respond(&mut stream, 302, &[("Location", to.as_str())], &[]);
        }
        Some(Fault::Body(b)) => body = Some(b),
        Some(Fault::Truncate(n)) | Some(Fault::DropAfter(n)) => cut = Some(n),
        Some(Fault::Delay(d)) => std::thread::sleep(d),
        None => {}
    }
    let Some(body) = body else {
        return respond(&mut stream, 404, &[], b"Not Found");
    };
    let (status, slice, content_range) = match range.as_deref().and_then(parse_range) {
        Some(start) if honor_range.load(Ordering::SeqCst) && (start as usize) < body.len() => {
            let cr = format!("bytes {}-{}/{}", start, body.len() - 1, body.len());
            (206, &body[start as usize..], Some(cr))
        }
        _ => (200, &body[..], None),
    };
    let len = slice.len().to_string();
    let mut headers = vec![("Content-Length", len.as_str()), ("Accept-Ranges", "bytes")];
    if let Some(cr) = &content_range {
        headers.push(("Content-Range", cr.as_str()));
    }
    match cut {
        Some(n) => {
            write_head(&mut stream, status, &headers)?;
            stream.write_all(&slice[..n.min(slice.len())])?;
            stream.flush()?;
            stream.shutdown(Shutdown::Both)
        }
        None => respond(&mut stream, status, &headers, slice),
    }
}

fn parse_range(v: &str) -> Option<u64> {
    v.strip_prefix("bytes=")?.split('-').next()?.parse().ok()
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn write_head(stream: &mut TcpStream, code: u16, headers: &[(&str, &str)]) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {code} {}\r\nConnection: close\r\n", reason(code));
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())
}

fn respond(
    stream: &mut TcpStream,
    code: u16,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut hs: Vec<(&str, &str)> = headers.to_vec();
    let len = body.len().to_string();
    if !hs.iter().any(|(k, _)| *k == "Content-Length") {
        hs.push(("Content-Length", len.as_str()));
    }
    write_head(stream, code, &hs)?;
    stream.write_all(body)?;
    stream.flush()
}

/// Build a release mirror under `out` from Debian's binaries (see make-mirror.sh);
/// `overrides` like `["prometheus=2.45.0"]`. Returns the tarball paths.
pub fn build_mirror(out: &Path, overrides: &[&str]) -> Vec<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/make-mirror.sh");
    let output = Command::new("bash")
        .arg(script)
        .arg(out)
        .args(overrides)
        .output()
        .expect("run make-mirror.sh");
    assert!(
        output.status.success(),
        "make-mirror.sh failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).lines().map(PathBuf::from).collect()
}

/// The Debian blackbox_exporter version the mirror packs by default.
pub fn debian_blackbox_version() -> String {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${Version}", "prometheus-blackbox-exporter"])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout).to_string();
    s.split(['+', '~', '-']).next().unwrap_or("").to_string()
}

/// The Debian package versions the mirror uses by default.
pub fn debian_versions() -> (String, String, String) {
    let v = |p: &str| {
        let out = Command::new("dpkg-query").args(["-W", "-f", "${Version}", p]).output().unwrap();
        let s = String::from_utf8_lossy(&out.stdout).to_string();
        let s = s.split_once(':').map(|(_, r)| r.to_string()).unwrap_or(s);
        s.split(['+', '~', '-']).next().unwrap_or("").to_string()
    };
    (v("prometheus"), v("prometheus-alertmanager"), v("prometheus-node-exporter"))
}
