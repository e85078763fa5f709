//! monstack: provisions a Prometheus, Alertmanager, node_exporter and Grafana stack
//! on a Linux host and keeps it converged.
//!
//! Dependencies go one way (README, "Architecture"): `main -> commands (+ cli, the
//! clap definitions) -> {status, uninstall, apply -> plan, validate, render, grafana,
//! artifact} -> {services, state, host} -> {config, hostfile, report, secrets, printer, http} ->
//! {error, atomic_fs, paths}`. Only `commands` sees clap and maps outcomes to exit codes; only
//! `printer` writes to stdout and stderr.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod ansible_module;
pub mod apply;
pub mod artifact;
pub mod atomic_fs;
pub mod blackbox;
pub mod cli;
pub mod commands;
pub mod component;
pub mod config;
pub mod error;
pub mod grafana;
pub mod grafana_server;
pub mod host;
pub mod hostfile;
pub mod http;
pub mod manager_kind;
pub mod paths;
pub mod plan;
pub mod printer;
pub mod ready;
pub mod render;
pub mod report;
pub mod secrets;
pub mod services;
pub mod state;
pub mod status;
pub mod uninstall;
pub mod upgrade;
pub mod validate;
pub mod versions;
pub mod web;

pub use commands::run;
