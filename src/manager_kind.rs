//! The service manager a run uses, as a plain value: a ground type (flags, the state
//! dir and `services` all name it; `services` implements the managers).

/// How services are managed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceManagerKind {
    /// systemd when it is running (/run/systemd/system), else none
    Auto,
    /// systemctl daemon-reload / enable / start / restart / reload
    Systemd,
    /// Run the binaries as detached processes with pid files in the state dir
    Direct,
    /// Only write files; start nothing
    None,
}
