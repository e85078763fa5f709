//! HTTP for release downloads: timeouts, retries with exponential backoff on
//! transient failures (connection errors, 429, 5xx), resume with `Range` (only a 206
//! reply counts as a continuation), and errors that name the URL and the status.
//! It never writes files; the caller decides where bytes go.

use std::cell::RefCell;
use std::io::{self, Read};
use std::rc::Rc;
use std::time::Duration;

use reqwest::blocking::{Client, Response};
use reqwest::header::{CONTENT_RANGE, RANGE, RETRY_AFTER};
use reqwest::StatusCode;

use crate::config::Downloads;

/// First backoff delay; doubled on every retry, capped at [`MAX_DELAY`].
const BASE_DELAY: Duration = Duration::from_millis(200);
const MAX_DELAY: Duration = Duration::from_secs(10);

/// Download failures, each naming the URL.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("`{url}` answered {status}{hint}")]
    Status { url: String, status: StatusCode, hint: &'static str },
    #[error("TLS failure talking to `{url}`: {detail}")]
    Tls { url: String, detail: String },
    #[error("cannot reach `{url}`: {detail}")]
    Connect { url: String, detail: String },
    #[error("download of `{url}` interrupted after {got} of {total} bytes: {detail}")]
    Interrupted { url: String, got: u64, total: String, detail: String },
    #[error("`{url}` ignored the resume request (answered {status} to `Range: bytes={from}-`)")]
    NoResume { url: String, status: StatusCode, from: u64 },
    #[error("network access needed for `{url}` but --offline is set")]
    Offline { url: String },
}

/// A configured HTTP client.
#[derive(Clone)]
pub struct Net {
    client: Client,
    retries: u32,
    offline: bool,
}

impl Net {
    /// Build from `downloads.*`; `offline` makes every request an error.
    pub fn new(d: &Downloads, offline: bool) -> crate::error::Result<Net> {
        let client = crate::http::builder()
            .connect_timeout(Duration::from_secs(d.connect_timeout.max(1)))
            // The blocking client applies this to each read of the body, so it acts
            // as a read timeout and large downloads are not cut off.
            .timeout(Duration::from_secs(d.read_timeout.max(1)))
            .build()?;
        Ok(Net { client, retries: d.retries, offline })
    }

    /// GET a small text resource (sha256sums.txt), with retries.
    pub fn get_text(&self, url: &str) -> Result<String, Error> {
        let mut resp = self.open(url, 0)?;
        let mut s = String::new();
        resp.read_to_string(&mut s).map_err(|e| Error::Interrupted {
            url: url.into(),
            got: s.len() as u64,
            total: "?".into(),
            detail: e.to_string(),
        })?;
        Ok(s)
    }

    /// Open `url` from byte `from`, retrying transient failures.
    fn open(&self, url: &str, from: u64) -> Result<Response, Error> {
        if self.offline {
            return Err(Error::Offline { url: url.into() });
        }
        let mut attempt = 0u32;
        loop {
            let wait = match self.try_open(url, from) {
                Ok(r) => return Ok(r),
                Err((e, retry_after)) if attempt < self.retries && transient(&e) => {
                    retry_after.unwrap_or_else(|| backoff(attempt))
                }
                Err((e, _)) => return Err(e),
            };
            attempt += 1;
            std::thread::sleep(wait);
        }
    }

    fn try_open(&self, url: &str, from: u64) -> Result<Response, (Error, Option<Duration>)> {
        let mut req = self.client.get(url);
        if from > 0 {
            req = req.header(RANGE, format!("bytes={from}-"));
        }
        let resp = req.send().map_err(|e| (classify(url, &e), None))?;
        let status = resp.status();
        let ok = if from > 0 {
            status == StatusCode::PARTIAL_CONTENT && content_range_start(&resp) == Some(from)
        } else {
            status == StatusCode::OK
        };
        if ok {
            return Ok(resp);
        }
        if from > 0 && status.is_success() {
            return Err((Error::NoResume { url: url.into(), status, from }, None));
        }
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s).min(MAX_DELAY));
        let hint = match status.as_u16() {
            404 => " (wrong version or arch?)",
            403 => " (access denied by the server)",
            _ => "",
        };
        Err((Error::Status { url: url.into(), status, hint }, retry_after))
    }

    /// A reader over the body of `url` from byte `from` that resumes with `Range`
    /// after a dropped connection or a short body.
    pub fn body(&self, url: &str, from: u64) -> Result<Body, Error> {
        let resp = self.open(url, from)?;
        let total = total_len(&resp, from);
        Ok(Body {
            net: self.clone(),
            url: url.into(),
            pos: from,
            total,
            resp: Some(resp),
            resumes: 0,
            failure: Rc::new(RefCell::new(None)),
        })
    }
}

fn transient(e: &Error) -> bool {
    match e {
        Error::Status { status, .. } => {
            *status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
        }
        Error::Connect { .. } | Error::Interrupted { .. } => true,
        _ => false,
    }
}

fn backoff(attempt: u32) -> Duration {
    BASE_DELAY.saturating_mul(1u32 << attempt.min(16)).min(MAX_DELAY)
}

fn classify(url: &str, e: &reqwest::Error) -> Error {
    let https = url.starts_with("https://");
    let mut detail = e.to_string();
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut tls = false;
    while let Some(s) = src {
        let text = s.to_string();
        if https && tls_message(&text) {
            tls = true;
        }
        detail = text;
        src = s.source();
    }
    if tls {
        Error::Tls { url: url.into(), detail }
    } else {
        Error::Connect { url: url.into(), detail }
    }
}

/// rustls's own wording of its errors (its `Display`), which reqwest hands over only
/// as the text of a boxed source: the one signal there is that the handshake, not
/// TCP, failed. TCP failures read "connection refused", "timed out", ...
fn tls_message(text: &str) -> bool {
    const RUSTLS: &[&str] = &[
        "certificate",
        "handshake",
        "received corrupt message",
        "received unexpected message",
        "received fatal alert",
        "peer is incompatible",
        "peer misbehaved",
        "peer sent",
        "cannot decrypt peer's message",
    ];
    let lower = text.to_ascii_lowercase();
    RUSTLS.iter().any(|m| lower.contains(m))
}

fn content_range_start(resp: &Response) -> Option<u64> {
    let v = resp.headers().get(CONTENT_RANGE)?.to_str().ok()?;
    v.strip_prefix("bytes ")?.split('-').next()?.trim().parse().ok()
}

/// Full size of the resource, from Content-Range (206) or Content-Length (200).
fn total_len(resp: &Response, from: u64) -> Option<u64> {
    if from > 0 {
        let v = resp.headers().get(CONTENT_RANGE)?.to_str().ok()?;
        v.rsplit('/').next()?.trim().parse().ok()
    } else {
        resp.content_length()
    }
}

/// A response body that resumes where it broke off. The first unrecoverable
/// failure is kept (see [`Body::failure`]) so callers that see it wrapped in
/// decompression or tar errors can report the network cause instead.
pub struct Body {
    net: Net,
    url: String,
    pos: u64,
    total: Option<u64>,
    resp: Option<Response>,
    resumes: u32,
    failure: Rc<RefCell<Option<Error>>>,
}

impl Body {
    /// Size of the whole resource, when the server said.
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    /// Shared slot holding the network failure that ended this body, if any.
    pub fn failure(&self) -> Rc<RefCell<Option<Error>>> {
        self.failure.clone()
    }

    fn fail(&mut self, e: Error) -> io::Error {
        let msg = e.to_string();
        *self.failure.borrow_mut() = Some(e);
        io::Error::other(msg)
    }

    fn interrupted(&self, detail: String) -> Error {
        Error::Interrupted {
            url: self.url.clone(),
            got: self.pos,
            total: self.total.map_or("?".into(), |t| t.to_string()),
            detail,
        }
    }

    /// Reopen at the current offset after `cause`, within the retry budget.
    fn resume(&mut self, cause: String) -> io::Result<()> {
        self.resp = None;
        if self.resumes >= self.net.retries.max(1) {
            let e = self.interrupted(cause);
            return Err(self.fail(e));
        }
        std::thread::sleep(backoff(self.resumes));
        self.resumes += 1;
        match self.net.open(&self.url, self.pos) {
            Ok(r) => {
                self.resp = Some(r);
                Ok(())
            }
            Err(Error::Status { status, .. }) if status == StatusCode::RANGE_NOT_SATISFIABLE => {
                let e = self.interrupted(cause);
                Err(self.fail(e))
            }
            Err(e) => Err(self.fail(e)),
        }
    }
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let Some(resp) = self.resp.as_mut() else {
                return Err(io::Error::other(format!("download of `{}` failed", self.url)));
            };
            match resp.read(buf) {
                Ok(0) => match self.total {
                    Some(t) if self.pos < t => {
                        self.resume(format!("connection closed at byte {}", self.pos))?
                    }
                    _ => return Ok(0),
                },
                Ok(n) => {
                    self.pos += n as u64;
                    return Ok(n);
                }
                Err(e) => self.resume(e.to_string())?,
            }
        }
    }
}
