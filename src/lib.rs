//! monstack: provisions a Prometheus, Alertmanager, node_exporter and Grafana stack
//! on a Linux host and keeps it converged.
//!
//! Dependencies go one way: `cli -> apply -> {artifact, render, validate, services,
//! grafana} -> atomic_fs`. Only `cli` maps errors to exit codes.
pub mod apply;
pub mod artifact;
pub mod atomic_fs;
pub mod cli;
pub mod config;
pub mod error;
pub mod grafana;
pub mod host;
pub mod paths;
pub mod plan;
pub mod render;
pub mod report;
pub mod secrets;
pub mod services;
pub mod state;
pub mod status;
pub mod upgrade;
pub mod validate;
pub mod versions;
pub mod web;

pub use cli::run;
