//! What plan and apply report: one [`Change`] per managed resource, and the stable
//! JSON schema `{"changed": N, "resources": [...], "errors": [...]}`. The only
//! module that prints plan/apply results to stdout.

use serde::{Deserialize, Serialize};

/// What happens (plan) or happened (apply) to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
    Start,
    Restart,
    Reload,
    Unchanged,
}

impl Action {
    /// Anything but `Unchanged` counts as a change.
    pub fn is_change(self) -> bool {
        self != Action::Unchanged
    }
}

/// One managed resource and its action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// `release`, `file`, `dir`, `user`, `unit`, `service`, `grafana_datasource`,
    /// `grafana_folder`, `grafana_dashboard`.
    pub kind: String,
    /// A host path, component or Grafana uid.
    pub name: String,
    pub action: Action,
    /// Unified diff (files) or JSON diff (dashboards), secrets already masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// One line of detail, e.g. `2.45.0 -> 2.53.0` or `datasource health: OK`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Change {
    /// A change without diff or detail.
    pub fn new(kind: impl Into<String>, name: impl Into<String>, action: Action) -> Self {
        Self { kind: kind.into(), name: name.into(), action, diff: None, detail: None }
    }
}

/// The whole outcome of a plan or apply.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub changed: usize,
    pub resources: Vec<Change>,
    pub errors: Vec<String>,
}
