//! Grafana credentials: which ones a run uses (configured token or user, else the admin
//! of a Grafana monstack installs, until bootstrap swaps in monstack's own token) and
//! the secret files they are read from. Values never pass through a flag and never show
//! in `Debug`.

use super::Error;
use crate::config::Loaded;

/// How requests authenticate. `Debug` never shows the secret.
#[derive(Clone)]
pub(crate) enum Auth {
    /// `Authorization: Bearer <token>` (service account token).
    Bearer(String),
    /// `Authorization: Basic base64(user:password)`.
    Basic { user: String, password: String },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Bearer(_) => f.write_str("Bearer(<hidden>)"),
            Auth::Basic { user, .. } => write!(f, "Basic({user}:<hidden>)"),
        }
    }
}

impl Auth {
    /// Read credentials from the configured file or env vars: token file, token env,
    /// then user (+ password file or env). The values never pass through a flag.
    pub(crate) fn from_config(loaded: &Loaded) -> Result<Auth, Error> {
        if applies(loaded) {
            // Grafana installed by monstack, no `grafana.auth`: the admin until the
            // session swaps in monstack's own token (grafana::bootstrap).
            return admin_auth(loaded);
        }
        let a = &loaded.config.grafana.auth;
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        if let Some(f) = &a.token_file {
            return Ok(Auth::Bearer(read_secret_file(&loaded.resolve(f))?));
        }
        if let Some(t) = env(&a.token_env) {
            return Ok(Auth::Bearer(t.trim().to_string()));
        }
        let user = a.user.clone().or_else(|| env(&a.user_env));
        let password = match &a.password_file {
            Some(f) => Some(read_secret_file(&loaded.resolve(f))?),
            None => env(&a.password_env),
        };
        match (user, password) {
            (Some(user), Some(password)) => Ok(Auth::Basic { user, password }),
            (user, _) => Err(Error::NoCredentials {
                detail: format!(
                    "set `{}` (token) or `grafana.auth.token_file`, or a user ({}) and a password (`{}` or `grafana.auth.password_file`){}",
                    a.token_env,
                    if a.user.is_some() { "grafana.auth.user".to_string() } else { format!("`{}`", a.user_env) },
                    a.password_env,
                    if user.is_some() { "; the user is set but the password is missing" } else { "" }
                ),
            }),
        }
    }
}

/// Read a secret from a file (a systemd credential or a mounted secret), trimmed.
pub(crate) fn read_secret_file(path: &std::path::Path) -> Result<String, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::SecretFile { path: path.to_path_buf(), reason: e.to_string() })?;
    let text = text.trim_end_matches(['\n', '\r']).to_string();
    if text.is_empty() {
        return Err(Error::SecretFile { path: path.to_path_buf(), reason: "file is empty".into() });
    }
    Ok(text)
}

/// True when monstack runs this Grafana and no credentials were configured in
/// `grafana.auth`: then it uses (or makes) its own token.
pub(crate) fn applies(loaded: &Loaded) -> bool {
    if !crate::grafana_server::managed(loaded) {
        return false;
    }
    let a = &loaded.config.grafana.auth;
    let env = |name: &str| std::env::var(name).ok().is_some_and(|v| !v.trim().is_empty());
    a.token_file.is_none()
        && !env(&a.token_env)
        && a.user.is_none()
        && !env(&a.user_env)
        && a.password_file.is_none()
}

/// The admin's basic auth, from `grafana_server.admin_user` and the password file
/// (the same file grafana.ini names through `$__file{...}`).
pub(crate) fn admin_auth(loaded: &Loaded) -> Result<Auth, Error> {
    let g = &loaded.config.grafana_server;
    let Some(f) = &g.admin_password_file else {
        return Err(Error::NoCredentials {
            detail: "set `grafana_server.admin_password_file` so monstack can create its service account".into(),
        });
    };
    Ok(Auth::Basic { user: g.admin_user.clone(), password: read_secret_file(f)? })
}
