//! monstack: provisions a Prometheus, Alertmanager, node_exporter and Grafana stack
//! on a Linux host and keeps it converged.
//!
//! Dependencies go one way: `cli -> apply -> {artifact, render, validate, services,
//! grafana} -> atomic_fs`. Only `cli` maps errors to exit codes.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod apply;
pub mod artifact;
pub mod atomic_fs;
pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod grafana;
pub mod host;
pub mod hostfile;
pub mod http;
pub mod paths;
pub mod printer;
pub mod render;
pub mod report;
pub mod services;
pub mod state;
pub mod status;
pub mod validate;

pub use commands::run;
