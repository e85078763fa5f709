//! The `alertmanager` section: SMTP, routes, receivers, inhibition, time intervals.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{yes, Component};

component_section! {
/// Alertmanager: component settings plus alertmanager.yml content.
pub struct Alertmanager {
    /// Global SMTP settings for email receivers.
    pub smtp: Option<Smtp>,
    /// Top-level route.
    pub route: Route,
    /// Receivers the route can name.
    pub receivers: Vec<Receiver>,
    /// `inhibit_rules`: alerts matching `target_matchers` are muted while one matching
    /// `source_matchers` fires (with equal values of the `equal` labels).
    pub inhibit_rules: Vec<InhibitRule>,
    /// Named time intervals routes mute or activate by.
    pub time_intervals: Vec<TimeInterval>,
    /// Notification template files (relative to the config file), installed under
    /// `{install_dir}/templates/`.
    pub templates: Vec<PathBuf>,
    /// Routing cases run with `amtool config routes test` before alertmanager.yml lands.
    pub route_tests: Vec<RouteTest>,
}
}

/// A child route: every key optional (inherited from the parent).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SubRoute {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receiver: Option<String>,
    /// Matchers like `severity="critical"`, `team=~"db|web"`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub matchers: Vec<String>,
    /// Keep matching the following sibling routes.
    #[serde(rename = "continue", skip_serializing_if = "std::ops::Not::not")]
    pub continue_matching: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_by: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_wait: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat_interval: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mute_time_intervals: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub active_time_intervals: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<SubRoute>,
}

/// One Alertmanager inhibit rule.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct InhibitRule {
    pub source_matchers: Vec<String>,
    pub target_matchers: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub equal: Vec<String>,
}

/// A named set of time ranges (Alertmanager `time_intervals`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TimeInterval {
    pub name: String,
    pub time_intervals: Vec<TimeSpec>,
}

/// One time range as Alertmanager spells it; validated by amtool.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TimeSpec {
    /// `[{start_time: "09:00", end_time: "17:00"}]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub times: Vec<TimeRange>,
    /// `monday:friday`, `saturday`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub weekdays: Vec<String>,
    /// `1:5`, `-1`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub days_of_month: Vec<String>,
    /// `january:march`, `12`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub months: Vec<String>,
    /// `2026:2027`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub years: Vec<String>,
    /// IANA time zone, e.g. `Europe/Berlin`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// `start_time`-`end_time`, `HH:MM`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TimeRange {
    pub start_time: String,
    pub end_time: String,
}

/// A routing case: an alert with `labels` must reach exactly `expect_receivers`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RouteTest {
    pub labels: BTreeMap<String, String>,
    pub expect_receivers: Vec<String>,
}

impl Default for Alertmanager {
    fn default() -> Self {
        Self::from_parts(
            Component::new(
                "0.34.0",
                "/opt/alertmanager",
                "/opt/alertmanager/data",
                "alertmanager",
                "0.0.0.0:9093",
            ),
            Some(Smtp::default()),
            Route::default(),
            vec![Receiver {
                name: "web.hook".into(),
                email_configs: vec![EmailConfig {
                    to: "admin@company.com".into(),
                    subject: Some("Snowflake MCP Alert: {{ .GroupLabels.alertname }}".into()),
                    body: Some("{{ range .Alerts }}{{ .Annotations.description }}{{ end }}".into()),
                }],
                webhook_configs: Vec::new(),
                slack_configs: Vec::new(),
                pagerduty_configs: Vec::new(),
            }],
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        )
    }
}

/// Global SMTP settings for email receivers. The password is never in this file:
/// it is read from `password_env` or `password_file` at render time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Smtp {
    pub smarthost: String,
    pub from: String,
    pub auth_username: Option<String>,
    /// Environment variable holding the SMTP password.
    pub password_env: Option<String>,
    /// File holding the SMTP password (a systemd credential or a mounted secret).
    pub password_file: Option<PathBuf>,
    pub require_tls: bool,
}

impl Default for Smtp {
    fn default() -> Self {
        Self {
            smarthost: "localhost:587".into(),
            from: "alerts@company.com".into(),
            auth_username: None,
            password_env: None,
            password_file: None,
            require_tls: true,
        }
    }
}

/// Alertmanager top-level route.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Route {
    pub receiver: String,
    pub group_by: Vec<String>,
    pub group_wait: String,
    pub group_interval: String,
    pub repeat_interval: String,
    /// Child routes, matched in order (the first match wins unless `continue`).
    pub routes: Vec<SubRoute>,
}

impl Default for Route {
    fn default() -> Self {
        Self {
            receiver: "web.hook".into(),
            group_by: vec!["alertname".into()],
            group_wait: "10s".into(),
            group_interval: "10s".into(),
            repeat_interval: "1h".into(),
            routes: Vec::new(),
        }
    }
}

/// An Alertmanager receiver.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Receiver {
    pub name: String,
    #[serde(default)]
    pub email_configs: Vec<EmailConfig>,
    #[serde(default)]
    pub webhook_configs: Vec<WebhookConfig>,
    #[serde(default)]
    pub slack_configs: Vec<SlackConfig>,
    #[serde(default)]
    pub pagerduty_configs: Vec<PagerdutyConfig>,
}

/// Slack notification; Alertmanager reads the webhook URL from `api_url_file`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// File with the Slack webhook URL (relative to the config file).
    pub api_url_file: PathBuf,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default = "yes")]
    pub send_resolved: bool,
}

/// PagerDuty (Events API v2); Alertmanager reads the key from `routing_key_file`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PagerdutyConfig {
    /// File with the integration's routing key (relative to the config file).
    pub routing_key_file: PathBuf,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "yes")]
    pub send_resolved: bool,
}

/// Email notification; subject and body are Alertmanager templates, kept verbatim.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    pub to: String,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
}

/// Webhook notification.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    #[serde(default = "yes")]
    pub send_resolved: bool,
}
