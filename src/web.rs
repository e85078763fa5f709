//! `<component>.web`: TLS and basic auth on a component's HTTP endpoint.
//!
//! - the exporter-toolkit web config (`--web.config.file`, `{install_dir}/web.yml`)
//!   with bcrypt hashes computed from the password files; a hash is kept across runs
//!   while it still verifies against the password, so a re-apply changes nothing;
//! - [`WebClient`]: the same TLS and credentials for monstack's own requests
//!   (readiness, reload, status);
//! - what Prometheus needs to scrape and alert through them: the scrape/alerting
//!   `scheme`, `tls_config` and `basic_auth` with a password file monstack writes
//!   beside prometheus.yml (0640 to Prometheus's group).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::config::{split_host_port, ComponentKind, Loaded, Web};
use crate::error::ConfigError;

/// The web config's file name under the component's install_dir.
pub const WEB_CONFIG: &str = "web.yml";

/// bcrypt cost of the rendered hashes (the Go bcrypt default; exporter-toolkit caches
/// a verified password, so the cost is paid once per credential).
pub const BCRYPT_COST: u32 = 10;

/// Where Prometheus finds the password monstack gives it for `kind` (relative to
/// prometheus.yml, which Prometheus resolves against its own directory).
pub fn prometheus_password_file(kind: ComponentKind) -> String {
    format!("secrets/{}.password", kind.name())
}

/// The exporter-toolkit web config file.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
struct WebConfigFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tls_server_config: Option<TlsServer>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    basic_auth_users: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct TlsServer {
    cert_file: PathBuf,
    key_file: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_ca_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_auth_type: Option<String>,
}

const HEADER: &str = "# Managed by monstack: edit the `web` section of monstack.yaml instead.\n";

/// The password in `path` (`field` locates errors): a trailing newline is not part
/// of it; an empty or unreadable file is a config error.
pub fn read_password(loaded: &Loaded, field: &str, path: &Path) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        loaded.error_at(field, format!("cannot read password file `{}`: {e}", path.display()))
    })?;
    let pw = text.trim_end_matches(['\n', '\r']).to_string();
    if pw.is_empty() {
        return Err(loaded.error_at(field, format!("password file `{}` is empty", path.display())));
    }
    Ok(pw)
}

/// Every `(user, password)` of `kind`'s web section, in name order.
pub fn users(loaded: &Loaded, kind: ComponentKind) -> Result<Vec<(String, String)>, ConfigError> {
    let Some(web) = loaded.config.component(kind).web else { return Ok(Vec::new()) };
    web.basic_auth_users
        .iter()
        .map(|(user, path)| {
            let field = format!("{}.web.basic_auth_users.{user}", kind.name());
            Ok((user.clone(), read_password(loaded, &field, path)?))
        })
        .collect()
}

/// The web config of `kind` with fresh hashes, and the passwords it was made from
/// (to mask). `None` when the component has no `web` section.
pub fn render(
    loaded: &Loaded,
    kind: ComponentKind,
) -> crate::error::Result<Option<(Vec<u8>, Vec<String>)>> {
    let Some(web) = loaded.config.component(kind).web else { return Ok(None) };
    let users = users(loaded, kind)?;
    let mut file =
        WebConfigFile { tls_server_config: tls_server(&web), basic_auth_users: BTreeMap::new() };
    for (user, pw) in &users {
        file.basic_auth_users.insert(user.clone(), bcrypt::hash(pw, BCRYPT_COST)?);
    }
    let secrets = users.into_iter().map(|(_, pw)| pw).collect();
    Ok(Some((serialize(&file)?, secrets)))
}

fn tls_server(web: &Web) -> Option<TlsServer> {
    Some(TlsServer {
        cert_file: web.tls_cert_file.clone()?,
        key_file: web.tls_key_file.clone()?,
        client_ca_file: web.client_ca_file.clone(),
        // A client certificate is verified when one is presented; monstack and
        // Prometheus authenticate with basic auth.
        client_auth_type: web.client_ca_file.as_ref().map(|_| "VerifyClientCertIfGiven".into()),
    })
}

fn serialize(file: &WebConfigFile) -> crate::error::Result<Vec<u8>> {
    Ok(format!("{HEADER}{}", serde_norway::to_string(file)?).into_bytes())
}

/// Keep the hashes of `current` (the web config on disk) for every user whose
/// password still verifies against them, so an unchanged password leaves the file
/// unchanged; `desired` is rewritten in place.
pub fn keep_hashes(
    loaded: &Loaded,
    kind: ComponentKind,
    current: &[u8],
    desired: &mut Vec<u8>,
) -> crate::error::Result<()> {
    let Ok(old) = serde_norway::from_slice::<WebConfigFile>(current) else { return Ok(()) };
    let mut new: WebConfigFile = serde_norway::from_slice(desired)?;
    let mut kept = false;
    for (user, pw) in users(loaded, kind)? {
        if let Some(hash) = old.basic_auth_users.get(&user) {
            if bcrypt::verify(&pw, hash).unwrap_or(false) {
                new.basic_auth_users.insert(user, hash.clone());
                kept = true;
            }
        }
    }
    if kept {
        *desired = serialize(&new)?;
    }
    Ok(())
}

/// How monstack (and Prometheus) reach a component: scheme, trusted CA, credentials.
#[derive(Clone, Default, PartialEq)]
pub struct WebClient {
    pub https: bool,
    ca_file: Option<PathBuf>,
    ca_pem: Option<Vec<u8>>,
    auth: Option<(String, String)>,
}

impl fmt::Debug for WebClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebClient")
            .field("https", &self.https)
            .field("ca_file", &self.ca_file)
            .field("user", &self.auth.as_ref().map(|(u, _)| u))
            .finish()
    }
}

impl WebClient {
    /// The client for `kind` as configured (plain HTTP without a `web` section); the
    /// first basic-auth user's password is read here.
    pub fn of(loaded: &Loaded, kind: ComponentKind) -> crate::error::Result<Self> {
        let Some(web) = loaded.config.component(kind).web else { return Ok(Self::default()) };
        let ca_pem = match &web.ca_file {
            Some(p) => Some(std::fs::read(p).map_err(|e| {
                loaded.error_at(
                    &format!("{}.web.ca_file", kind.name()),
                    format!("cannot read `{}`: {e}", p.display()),
                )
            })?),
            None => None,
        };
        Ok(Self {
            https: web.tls(),
            ca_file: web.ca_file.clone(),
            ca_pem,
            auth: users(loaded, kind)?.into_iter().next(),
        })
    }

    /// `http(s)://{address}{path}`.
    pub fn url(&self, address: &str, path: &str) -> String {
        format!("{}://{address}{path}", if self.https { "https" } else { "http" })
    }

    /// A blocking client from `builder` that trusts the configured CA.
    pub fn build(
        &self,
        builder: reqwest::blocking::ClientBuilder,
    ) -> crate::error::Result<reqwest::blocking::Client> {
        let mut b = builder;
        if let Some(pem) = &self.ca_pem {
            b = b.add_root_certificate(reqwest::Certificate::from_pem(pem)?);
        }
        Ok(b.build()?)
    }

    /// `req` with the credentials, if any.
    pub fn auth(
        &self,
        req: reqwest::blocking::RequestBuilder,
    ) -> reqwest::blocking::RequestBuilder {
        match &self.auth {
            Some((u, p)) => req.basic_auth(u, Some(p)),
            None => req,
        }
    }

    /// The user monstack authenticates as and its password.
    pub fn credentials(&self) -> Option<&(String, String)> {
        self.auth.as_ref()
    }

    /// What a Prometheus scrape job or alerting entry needs to reach this endpoint
    /// (`scheme`, `tls_config`, `basic_auth`), for the prometheus.yml template.
    pub fn prometheus_client(&self, kind: ComponentKind) -> Value {
        json!({
            "scheme": if self.https { "https" } else { "http" },
            "ca_file": self.ca_file,
            "username": self.auth.as_ref().map(|(u, _)| u),
            "password_file": self.auth.as_ref().map(|_| prometheus_password_file(kind)),
        })
    }
}

/// The enabled local component a target (`host:port`) points at, when it has a `web`
/// section: same port, and a loopback host or the listen host.
pub fn local_component(loaded: &Loaded, target: &str) -> Option<ComponentKind> {
    let (host, port) = split_host_port(target)?;
    loaded.config.enabled_components().into_iter().find_map(|(kind, comp)| {
        comp.web.as_ref()?;
        let (lhost, lport) = split_host_port(&comp.listen_address)?;
        let loopback = matches!(host, "localhost" | "127.0.0.1" | "::1" | "[::1]");
        (lport == port && (loopback || host == lhost)).then_some(kind)
    })
}
