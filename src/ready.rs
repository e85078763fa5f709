//! Readiness by polling: a (re)started service counts as up once its ready endpoint
//! answers 200 from the service itself, never after a blind sleep. Used by apply's
//! service lifecycle and by the Grafana package path alike.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::component::ComponentKind;
use crate::http::{self, root_cause};
use crate::web::WebClient;

/// How long a (re)started service may take to become ready by default. Prometheus
/// replays its WAL before it answers ready, which takes minutes on a large TSDB.
pub const READY_TIMEOUT: Duration = Duration::from_secs(300);

static READY_TIMEOUT_MS: AtomicU64 = AtomicU64::new(READY_TIMEOUT.as_millis() as u64);

/// The readiness deadline of this run (`--ready-timeout`).
pub fn ready_timeout() -> Duration {
    Duration::from_millis(READY_TIMEOUT_MS.load(Ordering::Relaxed))
}

/// Set the readiness deadline of this run.
pub fn set_ready_timeout(d: Duration) {
    READY_TIMEOUT_MS.store(d.as_millis().min(u64::MAX as u128) as u64, Ordering::Relaxed);
}

/// The path that answers 200 once the component serves: node_exporter has no
/// `/-/ready`, its landing page serves that purpose.
fn ready_path(kind: ComponentKind) -> &'static str {
    match kind {
        ComponentKind::NodeExporter => "/",
        // blackbox_exporter has `/-/healthy` and no `/-/ready`.
        ComponentKind::BlackboxExporter => "/-/healthy",
        // Grafana: 200 once its database answers (API-FACTS §1).
        ComponentKind::GrafanaServer => "/api/health",
        _ => "/-/ready",
    }
}

/// Poll readiness with exponential backoff until 200, the process dies (`alive`
/// returns false: fail at once with the log tail) or `timeout` passes.
pub fn wait_ready(
    kind: ComponentKind,
    address: &str,
    web: &WebClient,
    timeout: Duration,
    alive: &dyn Fn() -> bool,
    log_tail: &dyn Fn() -> String,
) -> crate::error::Result<Duration> {
    wait_ready_serving(kind, address, web, timeout, alive, &|| true, log_tail)
}

/// [`wait_ready`], where a 200 counts only when `serves` says the answer came from
/// the service itself (not from another process that holds its port).
pub fn wait_ready_serving(
    kind: ComponentKind,
    address: &str,
    web: &WebClient,
    timeout: Duration,
    alive: &dyn Fn() -> bool,
    serves: &dyn Fn() -> bool,
    log_tail: &dyn Fn() -> String,
) -> crate::error::Result<Duration> {
    let url = web.url(address, ready_path(kind));
    let http = web.build(
        http::builder()
            .connect_timeout(Duration::from_millis(500))
            .timeout(Duration::from_secs(5))
            .no_proxy(),
    )?;
    let start = Instant::now();
    let mut delay = Duration::from_millis(25);
    loop {
        let last = match web.auth(http.get(&url)).send() {
            // Ours must still be alive: another process may hold the port.
            Ok(r) if r.status().is_success() && alive() && serves() => return Ok(start.elapsed()),
            Ok(r) if r.status().is_success() && alive() => {
                format!("{url} answered, but not from `{kind}`: another process holds the port")
            }
            Ok(r) => format!("{} answered {}", url, r.status()),
            Err(e) => format!("{url}: {}", root_cause(&e)),
        };
        if !alive() {
            let tail = log_tail();
            crate::error::bail!(
                "`{kind}` exited before it became ready{}",
                if tail.is_empty() {
                    String::new()
                } else {
                    format!("; its log ends with:\n{tail}")
                }
            );
        }
        if start.elapsed() > timeout {
            crate::error::bail!(
                "`{kind}` was not ready after {}: {last}",
                humantime::format_duration(Duration::from_secs(timeout.as_secs()))
            );
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_secs(1));
    }
}
