//! The managed folder and, with `grafana.folder.path`, its parent folders: observed,
//! created or renamed, in the legacy or the Kubernetes-style API.

use reqwest::Method;
use serde_json::{json, Value};

use super::super::client::{Client, Response, Retry};
use super::super::fingerprint::digest;
use super::super::Error;
use super::FOLDER_KIND;

use crate::report::{Action, Change};

/// The folder's observed state.
#[derive(Debug)]
pub(crate) struct FolderPlan {
    pub action: Action,
    version: Option<i64>,
    /// Title differs.
    retitle: bool,
    /// The folder sits under another parent (nested folders).
    move_to: Option<String>,
    detail: Option<String>,
}

impl FolderPlan {
    pub(crate) fn change(&self, uid: &str) -> Change {
        let mut c = Change::new(FOLDER_KIND, uid, self.action);
        c.detail = self.detail.clone();
        c
    }
}

/// One parent folder of `folder.path` (nested folders, API-FACTS §4.1 `parentUid`).
#[derive(Debug, Clone)]
pub(crate) struct PathFolder {
    pub uid: String,
    pub title: String,
    /// Parent uid (`None`: the root).
    pub parent: Option<String>,
    /// Found in Grafana (else it is created).
    pub exists: bool,
}

/// The uid monstack gives a `folder.path` parent it creates: stable, so a re-run or a
/// read-back after a lost answer finds the same folder.
fn path_uid(prefix: &[&str]) -> String {
    let d = digest(&json!(prefix));
    format!("monstack-{}", &d[..16])
}

/// Resolve the parents of the managed folder: `folder.parent_uid` (must exist) or
/// `folder.path` (each level found by title under its parent, else to be created).
pub(crate) fn observe_parents(
    client: &Client,
    parent_uid: Option<&str>,
    path: Option<&str>,
) -> Result<Vec<PathFolder>, Error> {
    if let Some(p) = parent_uid {
        let obj = format!("folder `{p}` (grafana.folder.parent_uid)");
        let r = client.send(Method::GET, &format!("/api/folders/{p}"), None, &obj)?;
        return match r.status.as_u16() {
            200 => Ok(vec![PathFolder {
                uid: p.to_string(),
                title: r.body.get("title").and_then(Value::as_str).unwrap_or("").to_string(),
                parent: None,
                exists: true,
            }]),
            404 => Err(Error::Refused {
                object: obj,
                reason:
                    "no such folder in Grafana; create it first or fix `grafana.folder.parent_uid`"
                        .into(),
            }),
            _ => Err(Error::api(&obj, &r, "")),
        };
    }
    let Some(path) = path else { return Ok(Vec::new()) };
    let titles: Vec<&str> = path.split('/').map(str::trim).collect();
    let mut out: Vec<PathFolder> = Vec::new();
    let mut parent: Option<String> = None;
    let mut missing = false;
    for (i, title) in titles.iter().enumerate() {
        let found = if missing {
            None
        } else {
            // API-FACTS §4 (nested folders): children are listed per parent.
            let q = match &parent {
                Some(p) => {
                    format!(
                        "/api/folders?parentUid={}",
                        super::super::datasource::encode_segment(p)
                    )
                }
                None => "/api/folders".to_string(),
            };
            let obj = format!("folder path `{}`", titles[..=i].join("/"));
            let r = client.send(Method::GET, &q, None, &obj)?;
            if r.status.as_u16() != 200 {
                return Err(Error::api(&obj, &r, ""));
            }
            r.body.as_array().and_then(|a| {
                a.iter()
                    .find(|f| f.get("title").and_then(Value::as_str) == Some(title))
                    .and_then(|f| f.get("uid").and_then(Value::as_str).map(String::from))
            })
        };
        let (uid, exists) = match found {
            Some(u) => (u, true),
            None => {
                missing = true;
                (path_uid(&titles[..=i]), false)
            }
        };
        out.push(PathFolder {
            uid: uid.clone(),
            title: title.to_string(),
            parent: parent.clone(),
            exists,
        });
        parent = Some(uid);
    }
    Ok(out)
}

/// The plan entries of parents to create.
pub(crate) fn parent_changes(parents: &[PathFolder]) -> Vec<Change> {
    parents
        .iter()
        .filter(|p| !p.exists)
        .map(|p| {
            let mut c = Change::new(FOLDER_KIND, &p.uid, Action::Create);
            c.detail = Some(format!("title \"{}\" (grafana.folder.path)", p.title));
            c
        })
        .collect()
}

/// Create the missing parents, outermost first.
pub(crate) fn apply_parents(client: &Client, parents: &[PathFolder]) -> Result<Vec<Change>, Error> {
    let mut out = Vec::new();
    for p in parents.iter().filter(|p| !p.exists) {
        create_folder(client, &p.uid, &p.title, p.parent.as_deref())?;
        out.extend(parent_changes(std::slice::from_ref(p)));
    }
    Ok(out)
}

/// `GET /api/folders/{uid}`: API-FACTS §4.2, 200 DTO or 404 not-found.
pub(crate) fn observe_folder(
    client: &Client,
    uid: &str,
    title: &str,
    parent: Option<&str>,
) -> Result<FolderPlan, Error> {
    let obj = format!("folder `{uid}`");
    let r = client.send(Method::GET, &format!("/api/folders/{uid}"), None, &obj)?;
    match r.status.as_u16() {
        200 => {
            let have = r.body.get("title").and_then(Value::as_str).unwrap_or("");
            let version = r.body.get("version").and_then(Value::as_i64);
            let have_parent =
                r.body.get("parentUid").and_then(Value::as_str).filter(|p| !p.is_empty());
            let retitle = have.trim() != title.trim();
            let move_to = (have_parent != parent).then(|| parent.unwrap_or("").to_string());
            let mut detail = Vec::new();
            if retitle {
                detail.push(format!("title \"{have}\" -> \"{title}\""));
            }
            if let Some(to) = &move_to {
                detail.push(format!(
                    "move from `{}` to `{}`",
                    have_parent.unwrap_or("(root)"),
                    if to.is_empty() { "(root)" } else { to }
                ));
            }
            let action = if detail.is_empty() { Action::Unchanged } else { Action::Update };
            let detail = (!detail.is_empty()).then(|| detail.join("; "));
            Ok(FolderPlan { action, version, retitle, move_to, detail })
        }
        404 => Ok(FolderPlan {
            action: Action::Create,
            version: None,
            retitle: false,
            move_to: None,
            detail: Some(format!("title \"{title}\"")),
        }),
        _ => Err(Error::api(&obj, &r, "")),
    }
}

/// `POST /api/folders`; after a lost answer the folder is read back (same title and
/// parent = it landed).
fn create_folder(
    client: &Client,
    uid: &str,
    title: &str,
    parent: Option<&str>,
) -> Result<(), Error> {
    let obj = format!("folder `{uid}`");
    let mut body = json!({"uid": uid, "title": title});
    if let Some(p) = parent {
        body["parentUid"] = json!(p);
    }
    let check = || -> Result<Option<Response>, Error> {
        let r = client.send(Method::GET, &format!("/api/folders/{uid}"), None, &obj)?;
        let same = r.status.as_u16() == 200
            && r.body.get("title").and_then(Value::as_str).map(str::trim) == Some(title.trim())
            && r.body.get("parentUid").and_then(Value::as_str).filter(|p| !p.is_empty()) == parent;
        Ok(same.then_some(r))
    };
    let r =
        client.send_with(Method::POST, "/api/folders", Some(&body), &obj, Retry::Verify(&check))?;
    match r.status.as_u16() {
        200 => Ok(()),
        // API-FACTS §4.1: uid taken (409 since 10.2, 412 before) or, up to 11.2,
        // the title already used by another folder (409).
        409 | 412 if r.message().contains("same name") => Err(Error::api(&obj, &r, &format!(
            "a folder titled \"{title}\" already exists with another uid; set `grafana.folder.uid` to its uid or choose another `grafana.folder.title`"
        ))),
        409 | 412 => Err(Error::api(&obj, &r, "the folder was created by someone else since it was read; re-run `monstack apply`")),
        _ => Err(Error::api(&obj, &r, "")),
    }
}

/// Create, retitle or move the folder.
pub(crate) fn apply_folder(
    client: &Client,
    uid: &str,
    title: &str,
    parent: Option<&str>,
    plan: &FolderPlan,
) -> Result<Change, Error> {
    let obj = format!("folder `{uid}`");
    match plan.action {
        Action::Create => create_folder(client, uid, title, parent)?,
        Action::Update => {
            if plan.retitle {
                // API-FACTS §4.3: PUT with the version read; 412 when stale.
                let body = json!({"title": title, "version": plan.version, "overwrite": false});
                let r =
                    client.send(Method::PUT, &format!("/api/folders/{uid}"), Some(&body), &obj)?;
                match r.status.as_u16() {
                    200 => {}
                    412 => {
                        return Err(Error::api(&obj, &r, "the folder was changed in Grafana while monstack applied; re-run `monstack apply`"))
                    }
                    _ => return Err(Error::api(&obj, &r, "")),
                }
            }
            if let Some(to) = &plan.move_to {
                // Nested folders: `POST /api/folders/{uid}/move` with the new parent
                // (empty = the root). Moving twice to the same place is harmless.
                let body = json!({"parentUid": to});
                let check = || -> Result<Option<Response>, Error> {
                    let r = client.send(Method::GET, &format!("/api/folders/{uid}"), None, &obj)?;
                    let at = r.body.get("parentUid").and_then(Value::as_str).unwrap_or("");
                    Ok((r.status.as_u16() == 200 && at == to).then_some(r))
                };
                let r = client.send_with(
                    Method::POST,
                    &format!("/api/folders/{uid}/move"),
                    Some(&body),
                    &obj,
                    Retry::Verify(&check),
                )?;
                if r.status.as_u16() != 200 {
                    return Err(Error::api(&obj, &r, ""));
                }
            }
        }
        _ => {}
    }
    Ok(plan.change(uid))
}
