//! Credentials for a Grafana monstack installs itself (`grafana_server`): on a fresh
//! Grafana, monstack signs in once as the admin (password from
//! `grafana_server.admin_password_file`), creates the service account `monstack`
//! (role Admin) and a token for it (API-FACTS 12-13 §5.4: API keys are gone), and
//! keeps only the token, in a root-only file (0600) in its state dir. Every later run
//! uses that token; the admin password is not used again.

use std::path::{Path, PathBuf};

use reqwest::Method;
use serde_json::{json, Value};

use super::auth::{read_secret_file, Auth};
use super::client::Client;
use super::Error;

/// The service account monstack creates for itself.
pub const ACCOUNT: &str = "monstack";
/// The token file, in the state dir.
pub const TOKEN_FILE: &str = "grafana-token";

/// Where the bootstrapped token lives.
pub fn token_path(state_dir: &Path) -> PathBuf {
    state_dir.join(TOKEN_FILE)
}

/// The kept token, when there is one.
pub(crate) fn stored(state_dir: &Path) -> Result<Option<Auth>, Error> {
    let p = token_path(state_dir);
    if !p.is_file() {
        return Ok(None);
    }
    Ok(Some(Auth::Bearer(read_secret_file(&p)?)))
}

/// Switch `client` (signed in as the admin) to monstack's own token: the kept one
/// while Grafana accepts it; else, when `write` (apply), a new one. A kept token that
/// Grafana refuses (its database was reset) is replaced. plan without a token reads
/// as the admin and creates nothing.
pub(crate) fn authenticate(
    client: &mut Client,
    state_dir: &Path,
    write: bool,
) -> Result<(), Error> {
    let admin = client.auth().clone();
    if let Some(token) = stored(state_dir)? {
        client.set_auth(token);
        let check = client.send(Method::GET, "/api/datasources", None, "the kept token");
        if !matches!(check, Err(Error::Unauthorized { .. })) {
            return Ok(());
        }
        client.set_auth(admin);
    }
    if write {
        let token = create(client, state_dir)?;
        client.set_auth(token);
    }
    Ok(())
}

/// Create (or find) the service account and a new token with the admin's basic auth,
/// store the token (0600) and return it.
pub(crate) fn create(client: &Client, state_dir: &Path) -> Result<Auth, Error> {
    let obj = format!("service account `{ACCOUNT}`");
    let search = client.send(
        Method::GET,
        &format!("/api/serviceaccounts/search?query={ACCOUNT}"),
        None,
        &obj,
    )?;
    if !search.status.is_success() {
        return Err(Error::api(&obj, &search, ""));
    }
    let found = search
        .body
        .get("serviceAccounts")
        .and_then(Value::as_array)
        .and_then(|l| l.iter().find(|a| a.get("name").and_then(Value::as_str) == Some(ACCOUNT)))
        .and_then(|a| a.get("id").and_then(Value::as_i64));
    let id = match found {
        Some(id) => id,
        None => {
            let r = client.send(
                Method::POST,
                "/api/serviceaccounts",
                Some(&json!({"name": ACCOUNT, "role": "Admin", "isDisabled": false})),
                &obj,
            )?;
            if !r.status.is_success() {
                return Err(Error::api(&obj, &r, ""));
            }
            r.body.get("id").and_then(Value::as_i64).ok_or_else(|| {
                Error::api(&obj, &r, "Grafana answered without the service account's id")
            })?
        }
    };
    // A token name is unique per account: the time keeps a re-bootstrap (lost file) apart.
    let name = format!(
        "monstack-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    );
    let tobj = format!("token of service account `{ACCOUNT}`");
    let r = client.send(
        Method::POST,
        &format!("/api/serviceaccounts/{id}/tokens"),
        Some(&json!({"name": name})),
        &tobj,
    )?;
    if !r.status.is_success() {
        return Err(Error::api(&tobj, &r, ""));
    }
    let key = r
        .body
        .get("key")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| Error::api(&tobj, &r, "Grafana answered without the token"))?
        .to_string();
    let p = token_path(state_dir);
    crate::atomic_fs::write_atomic(&p, format!("{key}\n").as_bytes(), 0o600, Default::default())
        .map_err(|e| Error::SecretFile { path: p.clone(), reason: e.to_string() })?;
    Ok(Auth::Bearer(key))
}
