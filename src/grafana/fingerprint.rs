//! What monstack remembers about the Grafana objects it wrote, under
//! `{state_dir}/grafana/`:
//!
//! - fingerprints of the datasource secrets last sent. Grafana never returns
//!   `secureJsonData` (API-FACTS §2.2: only `secureJsonFields`), so to send secrets only
//!   when they change monstack keeps an HMAC-SHA256 of them, keyed with a random key
//!   that lives beside it in the state dir. The value itself is never stored, and the
//!   key stops a stolen state file from confirming a guessed secret;
//! - the [`Ledger`]: per object, the fingerprint of the desired object that was written
//!   and the version Grafana assigned to it. Grafana rewrites some objects when it saves
//!   them (API-FACTS §3.1 step 4: refresh raised; titles trimmed; schemaVersion
//!   migrated), so comparing monstack's copy with Grafana's would differ forever.
//!   Instead: desired unchanged and Grafana's version unmoved = nothing to do.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::Error;
use crate::atomic_fs;

/// What was last sent for one datasource.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Record {
    /// Hex HMAC-SHA256 over the canonical JSON of the secret map.
    pub fingerprint: String,
    /// The secret keys sent (so a key dropped from the config is cleared in Grafana).
    pub keys: Vec<String>,
}

/// The fingerprint store under `{state_dir}/grafana/`.
pub(crate) struct Store {
    dir: PathBuf,
}

impl Store {
    pub(crate) fn new(state_dir: &Path) -> Store {
        Store { dir: state_dir.join("grafana") }
    }

    fn key_path(&self) -> PathBuf {
        self.dir.join("fingerprint.key")
    }

    fn record_path(&self, uid: &str) -> PathBuf {
        self.dir.join(format!("datasource-{uid}.json"))
    }

    /// The fingerprint of `secrets` under the existing key; `None` when no key exists
    /// yet (plan never creates one).
    pub(crate) fn fingerprint(&self, secrets: &BTreeMap<String, String>) -> Option<String> {
        let key = std::fs::read(self.key_path()).ok().filter(|k| k.len() == 32)?;
        Some(hmac_hex(&key, secrets))
    }

    /// The fingerprint under the key, creating a random key (mode 0600) when missing.
    pub(crate) fn fingerprint_or_create(
        &self,
        secrets: &BTreeMap<String, String>,
    ) -> Result<String, Error> {
        if let Some(fp) = self.fingerprint(secrets) {
            return Ok(fp);
        }
        let io = |e: std::io::Error| Error::State { path: self.key_path(), reason: e.to_string() };
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        let _ = std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700));
        let mut key = [0u8; 32];
        std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut key)).map_err(io)?;
        atomic_fs::write_atomic(&self.key_path(), &key, 0o600, atomic_fs::Owner::default())
            .map_err(|e| io(e.into_io()))?;
        Ok(hmac_hex(&key, secrets))
    }

    /// The record for a datasource uid (default when none).
    pub(crate) fn load(&self, uid: &str) -> Record {
        std::fs::read(self.record_path(uid))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Save (or, for an empty record, remove) the record for a datasource uid.
    pub(crate) fn save(&self, uid: &str, record: &Record) -> Result<(), Error> {
        let path = self.record_path(uid);
        let io = |e: std::io::Error| Error::State { path: path.clone(), reason: e.to_string() };
        if record.keys.is_empty() {
            return match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
                _ => Ok(()),
            };
        }
        let text = serde_json::to_vec_pretty(record).expect("record serialises");
        atomic_fs::write_atomic(&path, &text, 0o600, atomic_fs::Owner::default())
            .map_err(|e| io(e.into_io()))
    }
}

/// One object as monstack last wrote it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Written {
    /// SHA-256 of the canonical desired object (and where it goes).
    pub desired: String,
    /// The version Grafana gave it, with the object's identity (`id/version` on the
    /// legacy API, `metadata.uid/resourceVersion` on `/apis`), so a deleted and
    /// re-created object never looks unmoved.
    pub version: String,
}

/// [`Written`] records of one Grafana (URL and org), loaded once per run and saved
/// once at its end. Plan only reads it.
pub(crate) struct Ledger {
    path: PathBuf,
    objects: std::sync::Mutex<BTreeMap<String, Written>>,
    dirty: std::sync::atomic::AtomicBool,
}

impl Ledger {
    /// The ledger for the Grafana at `grafana` (URL and org): records made against
    /// another Grafana never apply here.
    pub(crate) fn open(state_dir: &Path, grafana: &str) -> Ledger {
        use sha2::Digest;
        let id = hex::encode(&Sha256::digest(grafana.as_bytes())[..6]);
        let path = state_dir.join("grafana").join(format!("objects-{id}.json"));
        let objects = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Ledger { path, objects: std::sync::Mutex::new(objects), dirty: Default::default() }
    }

    /// The record of `key` (`dashboard/<uid>`, ...).
    pub(crate) fn get(&self, key: &str) -> Option<Written> {
        self.objects.lock().expect("ledger lock").get(key).cloned()
    }

    /// Remember (or, with `None`, forget) what was written for `key`.
    pub(crate) fn set(&self, key: &str, w: Option<Written>) {
        let mut o = self.objects.lock().expect("ledger lock");
        let changed = match w {
            Some(w) => o.insert(key.to_string(), w.clone()).as_ref() != Some(&w),
            None => o.remove(key).is_some(),
        };
        if changed {
            self.dirty.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// Write the ledger when something changed (temp file + rename).
    pub(crate) fn save(&self) -> Result<(), Error> {
        if !self.dirty.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(());
        }
        let text = {
            let o = self.objects.lock().expect("ledger lock");
            serde_json::to_vec_pretty(&*o).expect("ledger serialises")
        };
        atomic_fs::write_atomic(&self.path, &text, 0o600, atomic_fs::Owner::default())
            .map_err(|e| Error::State { path: self.path.clone(), reason: e.to_string() })?;
        self.dirty.store(false, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

/// SHA-256 (hex) of a JSON value with object keys sorted at every level.
pub(crate) fn digest(v: &serde_json::Value) -> String {
    use sha2::Digest;
    hex::encode(Sha256::digest(serde_json::to_vec(&sorted(v)).expect("value serialises")))
}

/// Keys sorted at every level (serde_json keeps insertion order here).
pub(crate) fn sorted(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&o[k]))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        v => v.clone(),
    }
}

fn hmac_hex(key: &[u8], secrets: &BTreeMap<String, String>) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("hmac takes any key length");
    // A BTreeMap serialises in key order, so the input is canonical.
    mac.update(&serde_json::to_vec(secrets).expect("map serialises"));
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_keyed_stable_and_never_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let mut s = BTreeMap::new();
        s.insert("password".to_string(), "hunter2".to_string());
        assert_eq!(store.fingerprint(&s), None, "no key before the first apply");
        let a = store.fingerprint_or_create(&s).unwrap();
        assert_eq!(store.fingerprint(&s).as_deref(), Some(a.as_str()));
        s.insert("password".to_string(), "hunter3".to_string());
        assert_ne!(store.fingerprint(&s).unwrap(), a);
        let rec = Record { fingerprint: a.clone(), keys: vec!["password".into()] };
        store.save("ds", &rec).unwrap();
        let text = std::fs::read_to_string(dir.path().join("grafana/datasource-ds.json")).unwrap();
        assert!(!text.contains("hunter"));
        assert_eq!(store.load("ds"), rec);
        let mode = std::fs::metadata(dir.path().join("grafana/fingerprint.key")).unwrap();
        assert_eq!(mode.permissions().mode() & 0o777, 0o600);
        // A different key gives a different fingerprint for the same secret.
        let other = tempfile::tempdir().unwrap();
        let o = Store::new(other.path()).fingerprint_or_create(&s).unwrap();
        assert_ne!(o, store.fingerprint(&s).unwrap());
    }
}
