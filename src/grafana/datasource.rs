//! The Prometheus datasource: find by uid, else adopt by name, else create; update
//! only when a managed field differs or the secrets' fingerprint changed; never delete.
//!
//! Adoption: a datasource found by name but carrying another uid (made by hand or by
//! the old setup script, which let Grafana pick the uid) is updated in place with
//! `PUT /api/datasources/uid/{its uid}` and the configured uid in the body. Grafana
//! then renames the uid (API-FACTS §2.5: "the body value renames the datasource"), so
//! it is adopted rather than duplicated and later runs find it by uid. Grafana builds
//! that refuse a uid change answer 400; the error then names the uid to configure.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{json, Map, Value};

use super::client::{read_secret_file, Client, Response, Retry};
use super::fingerprint::{digest, Ledger, Record, Store, Written};
use super::Error;
use crate::config::{Loaded, SecretRef};
use crate::report::{Action, Change};

/// Prometheus's `web` section when the datasource URL points at the local Prometheus
/// (a loopback or its listen host, its port): Grafana then reaches it with the same
/// TLS and credentials as monstack, unless `grafana.datasource` sets its own.
fn local_prometheus_web(loaded: &Loaded, url: &str) -> Option<crate::config::Web> {
    let parsed = url::Url::parse(url).ok()?;
    let host = parsed.host_str()?;
    let target = format!("{host}:{}", parsed.port_or_known_default()?);
    let kind = crate::web::local_component(loaded, &target)?;
    (kind == crate::config::ComponentKind::Prometheus)
        .then(|| loaded.config.prometheus.web.clone())
        .flatten()
}

/// Change kind in reports.
pub(crate) const KIND: &str = "grafana_datasource";

/// What the datasource should look like. `secrets` holds values: never print it.
#[derive(Clone)]
pub(crate) struct Desired {
    pub name: String,
    pub uid: String,
    pub kind: String,
    pub url: String,
    pub access: String,
    pub is_default: bool,
    /// `basicAuthUser` when basic auth to Prometheus is configured (the password is
    /// in `secrets` as `basicAuthPassword`).
    pub basic_auth_user: Option<String>,
    /// `json_data` with what the TLS and header options set.
    pub json_data: Map<String, Value>,
    pub secrets: BTreeMap<String, String>,
}

impl std::fmt::Debug for Desired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desired")
            .field("name", &self.name)
            .field("uid", &self.uid)
            .field("url", &self.url)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Desired {
    /// The ledger key.
    fn key(&self) -> String {
        format!("datasource/{}", self.uid)
    }

    /// Fingerprint of the fields monstack manages (secrets have their own HMAC).
    fn fingerprint(&self) -> String {
        let fields: Map<String, Value> =
            self.managed().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        digest(&Value::Object(fields))
    }

    /// The datasource from `grafana.datasource`; secrets read from their env var or file.
    pub(crate) fn from_config(loaded: &Loaded) -> Result<Desired, Error> {
        let c = &loaded.config;
        let d = &c.grafana.datasource;
        let url = if d.url.is_empty() {
            format!("http://{}", loaded.local_address(crate::config::ComponentKind::Prometheus))
        } else {
            d.url.clone()
        };
        let resolve = |r: &SecretRef, field: String| -> Result<Option<String>, Error> {
            Ok(Some(match (&r.env, &r.file) {
                (Some(name), _) => std::env::var(name)
                    .ok()
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| Error::SecretEnv { name: name.clone(), field })?,
                (None, Some(f)) => read_secret_file(&loaded.resolve(f))?,
                (None, None) => return Ok(None), // rejected by config validation
            }))
        };
        let mut secrets = BTreeMap::new();
        for (key, r) in &d.secure_json_data {
            if let Some(v) = resolve(r, format!("grafana.datasource.secure_json_data.{key}"))? {
                secrets.insert(key.clone(), v);
            }
        }
        let mut json_data: Map<String, Value> = d.json_data.clone().into_iter().collect();
        // Grafana's datasource HTTP settings (API-FACTS §2.2 field list; the names are
        // those of Grafana's datasource provisioning): basic auth is `basicAuth` +
        // `basicAuthUser` + secure `basicAuthPassword`; a custom CA is
        // `jsonData.tlsAuthWithCACert` + secure `tlsCACert`; `jsonData.tlsSkipVerify`;
        // header N is `jsonData.httpHeaderNameN` + secure `httpHeaderValueN`.
        let mut basic_auth_user = None;
        let local = local_prometheus_web(loaded, &url);
        let url = match &local {
            Some(web) if web.tls() => url.replacen("http://", "https://", 1),
            _ => url,
        };
        if let Some(web) = local.as_ref().filter(|_| d.basic_auth.is_none()) {
            // Prometheus's own `web` users: Grafana signs in as the first, as monstack does.
            if let Some((user, path)) = web.basic_auth_users.iter().next() {
                basic_auth_user = Some(user.clone());
                secrets.insert("basicAuthPassword".into(), read_secret_file(path)?);
            }
        }
        let ca_file = match (&d.tls.ca_file, &local) {
            (Some(ca), _) => Some(loaded.resolve(ca)),
            (None, Some(web)) if !d.tls.skip_verify => web.ca_file.clone(),
            _ => None,
        };
        if let Some(b) = &d.basic_auth {
            basic_auth_user = Some(b.user.clone());
            if let Some(v) = resolve(&b.password, "grafana.datasource.basic_auth.password".into())?
            {
                secrets.insert("basicAuthPassword".into(), v);
            }
        }
        if let Some(path) = ca_file {
            let pem = std::fs::read_to_string(&path)
                .map_err(|e| Error::SecretFile { path: path.clone(), reason: e.to_string() })?;
            if !pem.contains("-----BEGIN CERTIFICATE-----") {
                return Err(Error::SecretFile { path, reason: "no PEM certificate in it".into() });
            }
            json_data.insert("tlsAuthWithCACert".into(), json!(true));
            secrets.insert("tlsCACert".into(), pem);
        }
        if d.tls.skip_verify {
            json_data.insert("tlsSkipVerify".into(), json!(true));
        }
        for (i, (name, r)) in d.http_headers.iter().enumerate() {
            let n = i + 1;
            json_data.insert(format!("httpHeaderName{n}"), json!(name));
            if let Some(v) = resolve(r, format!("grafana.datasource.http_headers.{name}"))? {
                secrets.insert(format!("httpHeaderValue{n}"), v);
            }
        }
        Ok(Desired {
            name: d.name.clone(),
            uid: d.uid.clone(),
            kind: "prometheus".into(),
            url,
            access: d.access.clone(),
            is_default: d.is_default,
            basic_auth_user,
            json_data,
            secrets,
        })
    }

    /// The managed fields as Grafana names them. `isDefault` is managed only when
    /// wanted: Grafana makes the first datasource of an org the default by itself
    /// (API-FACTS §2.2), so `is_default: false` leaves the flag as Grafana has it
    /// rather than fighting that on every run.
    fn managed(&self) -> Vec<(&'static str, Value)> {
        let mut v = vec![
            ("name", json!(self.name)),
            ("type", json!(self.kind)),
            ("url", json!(self.url)),
            ("access", json!(self.access)),
        ];
        if self.is_default {
            v.push(("isDefault", json!(true)));
        }
        if let Some(user) = &self.basic_auth_user {
            v.push(("basicAuth", json!(true)));
            v.push(("basicAuthUser", json!(user)));
        }
        v.push(("jsonData", Value::Object(self.json_data.clone())));
        v
    }
}

/// The observed state and what to do about it.
#[derive(Debug)]
pub(crate) struct Plan {
    pub action: Action,
    /// The datasource as Grafana returned it (None: absent).
    existing: Option<Value>,
    /// Found by name under this other uid (adoption).
    adopt_from: Option<String>,
    /// Secrets go in this write (fingerprint changed or Grafana lost a key).
    send_secrets: bool,
    /// Secret keys to clear (dropped from the config since the last apply).
    clear: Vec<String>,
    /// Human-readable field diff, secrets masked.
    diff: Vec<String>,
    /// Grafana's copy matches: the ledger only needs Grafana's current version.
    record: Option<Written>,
    /// Why (drift), for the report.
    detail: Option<String>,
}

impl Plan {
    /// The report entry for this plan.
    pub(crate) fn change(&self, uid: &str) -> Change {
        let mut c = Change::new(KIND, uid, self.action);
        if !self.diff.is_empty() {
            c.diff = Some(self.diff.join("\n") + "\n");
        }
        if let Some(from) = &self.adopt_from {
            c.detail = Some(format!("adopt existing datasource by name (uid `{from}` -> `{uid}`)"));
        } else {
            c.detail = self.detail.clone();
        }
        c
    }
}

fn object(uid: &str) -> String {
    format!("datasource `{uid}`")
}

/// Read the datasource (by uid, then by name) and decide the action. Reads only.
pub(crate) fn observe(
    client: &Client,
    d: &Desired,
    store: &Store,
    ledger: &Ledger,
) -> Result<Plan, Error> {
    let obj = object(&d.uid);
    let mut adopt_from = None;
    // API-FACTS §2.4: 200 with the full DTO (version, secureJsonFields) or 404.
    let r = client.send(Method::GET, &format!("/api/datasources/uid/{}", d.uid), None, &obj)?;
    let existing = match r.status.as_u16() {
        200 => Some(r.body),
        404 => {
            let path = format!("/api/datasources/name/{}", encode_segment(&d.name));
            let r = client.send(Method::GET, &path, None, &obj)?;
            match r.status.as_u16() {
                200 => {
                    adopt_from = r.body.get("uid").and_then(Value::as_str).map(str::to_string);
                    Some(r.body)
                }
                404 => None,
                _ => return Err(Error::api(&obj, &r, "")),
            }
        }
        _ => return Err(Error::api(&obj, &r, "")),
    };

    let fingerprint = store.fingerprint(&d.secrets);
    let record = store.load(&d.uid);
    let clear: Vec<String> =
        record.keys.iter().filter(|k| !d.secrets.contains_key(*k)).cloned().collect();
    let Some(existing) = existing else {
        let mut diff: Vec<String> =
            d.managed().into_iter().map(|(k, v)| format!("+ {k}: {v}")).collect();
        diff.extend(d.secrets.keys().map(|k| format!("+ secureJsonData.{k}: (hidden)")));
        return Ok(Plan {
            action: Action::Create,
            existing: None,
            adopt_from: None,
            send_secrets: !d.secrets.is_empty(),
            clear: Vec::new(),
            diff,
            record: None,
            detail: None,
        });
    };

    // The ledger: desired fields unchanged and Grafana's version unmoved = the fields
    // are as monstack wrote them, whatever Grafana made of them on save.
    let written = ledger.get(&d.key());
    let have_version = ledger_version(&existing);
    let desired_same =
        adopt_from.is_none() && written.as_ref().is_some_and(|w| w.desired == d.fingerprint());
    let unmoved = desired_same && written.as_ref().is_some_and(|w| w.version == have_version);
    let mut diff = Vec::new();
    for (k, want) in d.managed().into_iter().filter(|_| !unmoved) {
        let mut have = existing.get(k).cloned().unwrap_or(Value::Null);
        if k == "jsonData" && have.is_null() {
            have = json!({}); // API-FACTS §2.2: stored jsonData defaults to {}
        }
        if have != want {
            diff.push(format!("~ {k}: {have} -> {want}"));
        }
    }
    if let Some(from) = &adopt_from {
        diff.push(format!("~ uid: \"{from}\" -> \"{}\"", d.uid));
    }
    // API-FACTS §2.2/§6.3: secrets are never echoed; secureJsonFields lists set keys.
    let fields = existing.get("secureJsonFields").and_then(Value::as_object);
    let missing: Vec<&String> = d
        .secrets
        .keys()
        .filter(|k| !fields.and_then(|f| f.get(*k)).and_then(Value::as_bool).unwrap_or(false))
        .collect();
    let changed = fingerprint.as_deref() != Some(record.fingerprint.as_str());
    let send_secrets = !d.secrets.is_empty() && (changed || !missing.is_empty());
    if send_secrets {
        for k in d.secrets.keys() {
            let why = if missing.contains(&k) { "not set in Grafana" } else { "changed" };
            diff.push(format!("~ secureJsonData.{k}: (hidden, {why})"));
        }
    }
    let fields_differ = !diff.is_empty();
    for k in &clear {
        diff.push(format!("- secureJsonData.{k}: (hidden, removed from config)"));
    }
    let action = if diff.is_empty() { Action::Unchanged } else { Action::Update };
    let record = (action == Action::Unchanged && !unmoved)
        .then(|| Written { desired: d.fingerprint(), version: have_version });
    let detail = (fields_differ && desired_same)
        .then(|| "changed in Grafana since monstack wrote it; restoring".to_string());
    Ok(Plan {
        action,
        existing: Some(existing),
        adopt_from,
        send_secrets,
        clear,
        diff,
        record,
        detail,
    })
}

/// The ledger version of a datasource DTO: `id/version` (API-FACTS §2.4).
fn ledger_version(dto: &Value) -> String {
    let id = dto.get("id").cloned().unwrap_or(Value::Null);
    let v = dto.get("version").cloned().unwrap_or(Value::Null);
    format!("{id}/{v}")
}

/// Carry out `plan`; on success record the secrets' fingerprint.
pub(crate) fn apply(
    client: &Client,
    d: &Desired,
    plan: &Plan,
    store: &Store,
    ledger: &Ledger,
) -> Result<Change, Error> {
    let obj = object(&d.uid);
    let mut body = Map::new();
    for (k, v) in d.managed() {
        body.insert(k.into(), v);
    }
    body.insert("uid".into(), json!(d.uid));
    let mut secure = Map::new();
    if plan.send_secrets {
        for (k, v) in &d.secrets {
            secure.insert(k.clone(), json!(v));
        }
    }
    for k in &plan.clear {
        // API-FACTS §2.5: secrets merge on PUT; "" unsets a key.
        secure.insert(k.clone(), json!(""));
    }
    if !secure.is_empty() {
        body.insert("secureJsonData".into(), Value::Object(secure));
    }
    // After a lost answer: read the datasource back; the managed fields as sent and
    // every secret key set (values are never returned, API-FACTS §2.2) = it landed.
    let check = || -> Result<Option<Response>, Error> {
        let r = client.send(Method::GET, &format!("/api/datasources/uid/{}", d.uid), None, &obj)?;
        if r.status.as_u16() != 200 {
            return Ok(None);
        }
        let fields = r.body.get("secureJsonFields").and_then(Value::as_object);
        let same = d.managed().into_iter().all(|(k, want)| {
            let have = r.body.get(k).cloned().unwrap_or(Value::Null);
            have == want || (k == "jsonData" && have.is_null() && want == json!({}))
        }) && d
            .secrets
            .keys()
            .all(|k| fields.and_then(|f| f.get(k)).and_then(Value::as_bool).unwrap_or(false));
        Ok(same.then(|| Response { status: r.status, body: json!({"datasource": r.body}) }))
    };
    // The DTO Grafana answered a write with (API-FACTS §2.2/§2.5: `datasource`).
    let mut answered: Option<Value> = None;
    match (&plan.action, &plan.existing) {
        (Action::Unchanged, _) => {
            if let Some(r) = &plan.record {
                ledger.set(&d.key(), Some(r.clone()));
            }
        }
        (_, None) => answered = create(client, &obj, body, &check)?,
        (_, Some(existing)) => answered = replace(client, d, plan, &obj, body, existing, &check)?,
    }
    if plan.action != Action::Unchanged {
        let keys: Vec<String> = d.secrets.keys().cloned().collect();
        let fingerprint = if keys.is_empty() {
            String::new()
        } else {
            store.fingerprint_or_create(&d.secrets)?
        };
        store.save(&d.uid, &Record { fingerprint, keys })?;
        let version = answered.as_ref().map(ledger_version);
        ledger.set(&d.key(), version.map(|version| Written { desired: d.fingerprint(), version }));
    }
    let mut change = plan.change(&d.uid);
    let health = health(client, &d.uid);
    change.detail = Some(match change.detail {
        Some(adopted) => format!("{adopted}; {health}"),
        None => health,
    });
    Ok(change)
}

/// Reads the datasource back after a write whose answer was lost.
type Check<'a> = dyn Fn() -> Result<Option<Response>, Error> + Sync + 'a;

/// API-FACTS §2.2: POST; 409 when the name or uid already exists. Returns the DTO
/// Grafana answered with.
fn create(
    client: &Client,
    obj: &str,
    body: Map<String, Value>,
    check: &Check<'_>,
) -> Result<Option<Value>, Error> {
    let r = client.send_with(
        Method::POST,
        "/api/datasources",
        Some(&Value::Object(body)),
        obj,
        Retry::Verify(check),
    )?;
    match r.status.as_u16() {
        200 => Ok(r.body.get("datasource").cloned()),
        409 => Err(Error::api(
            obj,
            &r,
            "another datasource took this name or uid since it was read; re-run `monstack apply`",
        )),
        _ => Err(Error::api(obj, &r, "")),
    }
}

/// API-FACTS §2.5: PUT is a full replace, so unmanaged fields are carried over from
/// what Grafana returned; `version` makes it optimistic.
fn replace(
    client: &Client,
    d: &Desired,
    plan: &Plan,
    obj: &str,
    mut body: Map<String, Value>,
    existing: &Value,
    check: &Check<'_>,
) -> Result<Option<Value>, Error> {
    for k in [
        "user",
        "database",
        "basicAuth",
        "basicAuthUser",
        "withCredentials",
        "isDefault",
        "version",
    ] {
        if body.contains_key(k) {
            continue;
        }
        if let Some(v) = existing.get(k) {
            body.insert(k.into(), v.clone());
        }
    }
    let current_uid = plan.adopt_from.as_deref().unwrap_or(&d.uid);
    let path = format!("/api/datasources/uid/{current_uid}");
    // With `version` a repeated PUT would meet its own first attempt (409), so it is
    // read back like a create.
    let r = client.send_with(
        Method::PUT,
        &path,
        Some(&Value::Object(body)),
        obj,
        Retry::Verify(check),
    )?;
    match r.status.as_u16() {
        200 => Ok(r.body.get("datasource").cloned()),
        409 => {
            let hint = if r.message().contains("same name") {
                "another datasource already has this name; rename one of them"
            } else {
                "the datasource was changed in Grafana while monstack applied; re-run `monstack apply`"
            };
            Err(Error::api(obj, &r, hint))
        }
        403 => Err(Error::api(
            obj,
            &r,
            "the datasource is provisioned from a file in Grafana (read-only); change it there or use `grafana.mode: files`",
        )),
        400 if plan.adopt_from.is_some() => Err(Error::api(
            obj,
            &r,
            &format!(
                "this Grafana refuses to change a datasource's uid; to adopt `{}` set `grafana.datasource.uid: {current_uid}`",
                d.name
            ),
        )),
        _ => Err(Error::api(obj, &r, "")),
    }
}

/// `GET /api/datasources/uid/{uid}/health` as one line. API-FACTS §2.7: 200 with
/// status OK, 400 with the same shape otherwise; other codes are reported as-is.
/// A failing check is reported, not fatal: Prometheus may simply not be up yet.
fn health(client: &Client, uid: &str) -> String {
    match client.send(
        Method::GET,
        &format!("/api/datasources/uid/{uid}/health"),
        None,
        &object(uid),
    ) {
        Ok(r) if matches!(r.status.as_u16(), 200 | 400) => {
            let status = r.body.get("status").and_then(Value::as_str).unwrap_or("UNKNOWN");
            format!("datasource health: {status} ({})", r.message())
        }
        Ok(r) => format!("datasource health: unknown ({} {})", r.status.as_u16(), r.message()),
        Err(e) => format!("datasource health: unknown ({e})"),
    }
}

/// Percent-encode one URL path segment (datasource names may hold spaces, `/`, ...).
pub(crate) fn encode_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
}
