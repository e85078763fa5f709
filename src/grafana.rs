//! Grafana datasource, folder and dashboard upsert over the HTTP API.
