//! Where the built-in credential store lives and which keys open it: `[credentials]` with
//! `mode = "store"` in a gateway config, and `[store]` in a tenant manager's
//! (`mcp-auth tenant-manager`). The store itself is `mcp_auth_store`; this only checks the
//! settings, and reads the keys once, when the store is opened.
//!
//! - `store`: the SQLite file, `credentials.db` by default. A relative path is relative to the
//!   config file's folder (see [`StoreSection::relative_to`]), so the default is a file next
//!   to the config, whatever the working directory.
//! - `key_env` (default `MCP_AUTH_STORE_KEYS`) or `key_file`: the keyring, one `ID:BASE64`
//!   entry per line or comma-separated, `*` marking the current one
//!   (`mcp-auth credentials gen-key` prints one). The keys are checked when the config is,
//!   so a missing or malformed keyring is a config problem, not a failure at the first request.
//! - `audit_max_age` (default 90 days) and `audit_max_rows` (default 1,000,000): how much of the
//!   audit trail the store's table keeps ([`AuditRetention`]); the `mcp_auth::audit` log events
//!   are there for keeping it longer.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use mcp_auth_store::{AuditRetention, KeyError, Keyring};

use super::{
    ConfigProblem, ConfigReport,
    env::{EnvSource, non_empty, valid_var_name},
};

/// The store file when none is named.
pub const DEFAULT_STORE_FILE: &str = "credentials.db";
/// The environment variable holding the keyring when neither `key_env` nor `key_file` is set.
pub const DEFAULT_KEY_ENV: &str = "MCP_AUTH_STORE_KEYS";

/// Where the store's keyring comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreKeys {
    /// An environment variable holding the keyring.
    Env(String),
    /// A file holding the keyring.
    File(PathBuf),
}

/// The credential store's settings, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSection {
    /// The SQLite file.
    pub path: PathBuf,
    /// Its keyring.
    pub keys: StoreKeys,
    /// How much of the audit trail its table keeps.
    pub audit: AuditRetention,
}

impl StoreSection {
    /// Relative paths taken as relative to `dir` (the config file's folder).
    pub fn relative_to(mut self, dir: &Path) -> Self {
        if self.path.is_relative() {
            self.path = dir.join(&self.path);
        }
        if let StoreKeys::File(file) = &mut self.keys
            && file.is_relative()
        {
            *file = dir.join(&*file);
        }
        self
    }

    /// Reads the keyring (from the process environment or the file).
    pub fn keyring(&self) -> Result<Keyring, KeyError> {
        match &self.keys {
            StoreKeys::Env(var) => Keyring::from_env(var),
            StoreKeys::File(path) => Keyring::from_file(path),
        }
    }

    /// Opens the store (creating the file and its schema when new).
    pub async fn open(
        &self,
        user_ids: mcp_auth::UserIdLogging,
    ) -> Result<mcp_auth_store::CredentialStore, String> {
        let keyring = self.keyring().map_err(|error| format!("the store's keys: {error}"))?;
        let store = mcp_auth_store::CredentialStore::open(&self.path, keyring)
            .await
            .map_err(|error| format!("cannot open {}: {error}", self.path.display()))?;
        Ok(store.with_user_id_logging(user_ids).with_audit_retention(self.audit))
    }
}

/// The raw settings: `store`, `key_env`, `key_file`, `audit_max_age`, `audit_max_rows`, as
/// given.
pub(crate) struct RawStore<'a> {
    pub store: Option<&'a Path>,
    pub key_env: Option<&'a str>,
    pub key_file: Option<&'a Path>,
    pub audit_max_age: Option<Duration>,
    pub audit_max_rows: Option<u64>,
}

/// Checks the settings under `section` (`credentials` or `store`): both key sources given is a
/// problem, and so is a keyring that cannot be read or parsed (reported without its contents).
pub(crate) fn validate_store(
    raw: RawStore<'_>,
    section: &str,
    env: &dyn EnvSource,
    report: &mut ConfigReport,
) -> Option<StoreSection> {
    let path = raw.store.map_or_else(|| PathBuf::from(DEFAULT_STORE_FILE), Path::to_path_buf);
    if path.as_os_str().is_empty() {
        report.push(ConfigProblem::new(format!("{section}.store"), "expected a file path"));
        return None;
    }
    let keys = match (raw.key_env, raw.key_file) {
        (Some(_), Some(_)) => {
            report.push(ConfigProblem::new(
                section.to_owned(),
                "both key_env and key_file; give one of them",
            ));
            return None;
        }
        (_, Some(file)) => StoreKeys::File(file.to_path_buf()),
        (var, None) => StoreKeys::Env(var.unwrap_or(DEFAULT_KEY_ENV).to_owned()),
    };
    let checked = match &keys {
        StoreKeys::Env(var) => match valid_var_name(var).then(|| non_empty(env, var)).flatten() {
            None => Err((
                format!("{section}.key_env"),
                format!(
                    "names environment variable {var}, which is not set (or is empty); set it to \
                     the store's keyring (`mcp-auth credentials gen-key` prints a new one)"
                ),
            )),
            Some(text) => Keyring::parse(&text)
                .map(drop)
                .map_err(|error| (format!("{section}.key_env"), format!("{var}: {error}"))),
        },
        // Read relative to the working directory here; `relative_to` moves it next to the
        // config for the run, and the run reads it again (a missing file is reported then).
        StoreKeys::File(_) => Ok(()),
    };
    if let Err((key, message)) = checked {
        report.push(ConfigProblem::new(key, message));
        return None;
    }
    let default = AuditRetention::DEFAULT;
    let audit = AuditRetention {
        max_age: raw.audit_max_age.unwrap_or(default.max_age),
        max_rows: raw.audit_max_rows.unwrap_or(default.max_rows),
    };
    if audit.max_age < Duration::from_secs(1) {
        let problem = "expected at least 1s: the audit trail keeps every read and change";
        report.push(ConfigProblem::new(format!("{section}.audit_max_age"), problem));
        return None;
    }
    if audit.max_rows == 0 {
        let problem = "expected at least 1: the audit trail keeps every read and change";
        report.push(ConfigProblem::new(format!("{section}.audit_max_rows"), problem));
        return None;
    }
    Some(StoreSection { path, keys, audit })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: RawStore<'_>, env: &[(&str, &str)]) -> Result<StoreSection, ConfigReport> {
        let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<Vec<_>>();
        let lookup = move |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let mut report = ConfigReport::new("test");
        let section = validate_store(raw, "credentials", &lookup, &mut report);
        match section {
            Some(section) if report.is_empty() => Ok(section),
            _ => Err(report),
        }
    }

    const NONE: RawStore<'static> = RawStore {
        store: None,
        key_env: None,
        key_file: None,
        audit_max_age: None,
        audit_max_rows: None,
    };

    #[test]
    fn defaults_are_a_file_next_to_the_config_and_the_default_key_variable() {
        let keys = Keyring::generate().export();
        let section = check(NONE, &[(DEFAULT_KEY_ENV, keys.expose())]).unwrap();
        assert_eq!(section.path, PathBuf::from(DEFAULT_STORE_FILE));
        assert_eq!(section.keys, StoreKeys::Env(DEFAULT_KEY_ENV.to_owned()));
        assert_eq!(section.audit, AuditRetention::DEFAULT);
        let moved = section.relative_to(Path::new("/etc/mcp-auth"));
        assert_eq!(moved.path, PathBuf::from("/etc/mcp-auth/credentials.db"));
        let absolute = StoreSection {
            path: PathBuf::from("/var/lib/store.db"),
            keys: StoreKeys::File(PathBuf::from("keys")),
            audit: AuditRetention::DEFAULT,
        }
        .relative_to(Path::new("/etc/mcp-auth"));
        assert_eq!(absolute.path, PathBuf::from("/var/lib/store.db"));
        assert_eq!(absolute.keys, StoreKeys::File(PathBuf::from("/etc/mcp-auth/keys")));
    }

    #[test]
    fn a_missing_or_malformed_keyring_is_a_problem_that_never_quotes_it() {
        let report = check(NONE, &[]).unwrap_err();
        assert!(report.at("credentials.key_env").is_some(), "{report}");
        let secret_looking = "k1:not-base64-but-secret-looking-text";
        let raw = RawStore { key_env: Some("KEYS"), ..NONE };
        let report = check(raw, &[("KEYS", secret_looking)]).unwrap_err();
        let shown = report.to_string();
        assert!(shown.contains("credentials.key_env"), "{shown}");
        assert!(!shown.contains("secret-looking"), "the keyring is quoted: {shown}");
        let both = RawStore { key_env: Some("K"), key_file: Some(Path::new("f")), ..NONE };
        assert!(check(both, &[("K", "x")]).is_err());
    }

    #[test]
    fn audit_retention_is_read_and_an_empty_trail_refused() {
        let keys = Keyring::generate().export();
        let env = [(DEFAULT_KEY_ENV, keys.expose())];
        let given = RawStore {
            audit_max_age: Some(Duration::from_secs(7 * 86_400)),
            audit_max_rows: Some(5_000),
            ..NONE
        };
        let section = check(given, &env).unwrap();
        let expected = AuditRetention { max_age: Duration::from_secs(7 * 86_400), max_rows: 5_000 };
        assert_eq!(section.audit, expected);
        let no_rows = RawStore { audit_max_rows: Some(0), ..NONE };
        let report = check(no_rows, &env).unwrap_err();
        assert!(report.at("credentials.audit_max_rows").is_some(), "{report}");
        let no_age = RawStore { audit_max_age: Some(Duration::ZERO), ..NONE };
        let report = check(no_age, &env).unwrap_err();
        assert!(report.at("credentials.audit_max_age").is_some(), "{report}");
    }
}
