//! The `logrotate` and `rsyslog` sections: the host's log handling for the stack's
//! and the application's logs.

use serde::{Deserialize, Serialize};

/// logrotate policies (one file in /etc/logrotate.d per entry).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Logrotate {
    pub enabled: bool,
    pub entries: Vec<LogrotateEntry>,
}

impl Default for Logrotate {
    fn default() -> Self {
        Self { enabled: true, entries: vec![LogrotateEntry::default()] }
    }
}

/// One logrotate policy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogrotateEntry {
    /// File name under /etc/logrotate.d.
    pub name: String,
    pub paths: Vec<String>,
    /// daily, weekly, monthly or yearly.
    pub frequency: String,
    pub rotate: u32,
    pub compress: bool,
    pub delaycompress: bool,
    pub missingok: bool,
    pub notifempty: bool,
    /// `create MODE OWNER GROUP`.
    pub create: Option<LogCreate>,
    /// Commands run after rotation.
    pub postrotate: Option<String>,
}

impl Default for LogrotateEntry {
    fn default() -> Self {
        Self {
            name: "snowflake-mcp".into(),
            paths: vec!["/var/log/snowflake-mcp/*.log".into()],
            frequency: "daily".into(),
            rotate: 52,
            compress: true,
            delaycompress: true,
            missingok: true,
            notifempty: true,
            create: Some(LogCreate::default()),
            postrotate: Some("systemctl reload snowflake-mcp".into()),
        }
    }
}

/// logrotate `create` directive.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogCreate {
    /// Octal mode as a string, e.g. "0644".
    pub mode: String,
    pub owner: String,
    pub group: String,
}

impl Default for LogCreate {
    fn default() -> Self {
        // What rsyslog (which writes the runbook's log through the drop-in) creates its
        // files as on Debian and Ubuntu; both exist on a fresh host.
        Self { mode: "0640".into(), owner: "root".into(), group: "adm".into() }
    }
}

/// The rsyslog drop-in (its own file in /etc/rsyslog.d, never appended to rsyslog.conf).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Rsyslog {
    pub enabled: bool,
    /// File name under /etc/rsyslog.d.
    pub file: String,
    pub rules: Vec<RsyslogRule>,
}

impl Default for Rsyslog {
    fn default() -> Self {
        Self {
            enabled: true,
            file: "30-snowflake-mcp.conf".into(),
            rules: vec![RsyslogRule {
                selector: "local0.*".into(),
                action: "/var/log/snowflake-mcp/application.log".into(),
            }],
        }
    }
}

/// `selector action`, e.g. `local0.* /var/log/x.log`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RsyslogRule {
    pub selector: String,
    pub action: String,
}
