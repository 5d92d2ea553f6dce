//! Finding the credential store a config file names, without checking the rest of the file: an
//! operator putting a credential needs the store's path and keys, not the JWT secret or the
//! servers' commands in their environment.

use std::path::Path;

use crate::config::{ConfigDuration, ConfigReport, ProcessEnv, StoreSection};

/// The keys of a tenant manager's `[store]`.
const STORE_KEYS: [&str; 5] = ["path", "key_env", "key_file", "audit_max_age", "audit_max_rows"];

/// The store of the config at `path`: its `[store]` table (a tenant manager's config), or its
/// `[credentials]` table with `mode = "store"` (a gateway's). Relative paths are relative to the
/// config file's folder.
pub fn store_of_config(path: &Path) -> Result<StoreSection, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let table: toml::Table =
        toml::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))?;
    store_of_table(path, &table)
}

/// [`store_of_config`] for the config file at `path`, already parsed into `table`.
pub fn store_of_table(path: &Path, table: &toml::Table) -> Result<StoreSection, String> {
    let (section, key_for_path, table) = match (table.get("store"), table.get("credentials")) {
        (Some(toml::Value::Table(store)), _) => ("store", "path", store),
        (None, Some(toml::Value::Table(credentials)))
            if credentials.get("mode").and_then(toml::Value::as_str) == Some("store") =>
        {
            ("credentials", "store", credentials)
        }
        _ => {
            return Err(format!(
                "{} names no credential store: expected [credentials] with mode = \"store\" \
                 (a gateway config) or [store] (a tenant manager's)",
                path.display()
            ));
        }
    };
    if section == "store"
        && let Some(unknown) = table.keys().find(|key| !STORE_KEYS.contains(&key.as_str()))
    {
        return Err(format!(
            "{}: store.{unknown}: unknown key; expected one of {}",
            path.display(),
            STORE_KEYS.join(", ")
        ));
    }
    let text_of = |key: &str| -> Result<Option<&str>, String> {
        match table.get(key) {
            None => Ok(None),
            Some(toml::Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(format!("{}: {section}.{key}: expected a string", path.display())),
        }
    };
    let audit_max_age = table
        .get("audit_max_age")
        .cloned()
        .map(|value| value.try_into::<ConfigDuration>().map(|d| d.0))
        .transpose()
        .map_err(|error| format!("{}: {section}.audit_max_age: {error}", path.display()))?;
    let audit_max_rows = table
        .get("audit_max_rows")
        .cloned()
        .map(|value| value.try_into::<u64>())
        .transpose()
        .map_err(|error| format!("{}: {section}.audit_max_rows: {error}", path.display()))?;
    let raw = crate::config::RawStore {
        store: text_of(key_for_path)?.map(Path::new),
        key_env: text_of("key_env")?,
        key_file: text_of("key_file")?.map(Path::new),
        audit_max_age,
        audit_max_rows,
    };
    let mut report = ConfigReport::new(path.display().to_string());
    let checked = crate::config::validate_store(raw, section, &ProcessEnv, &mut report);
    match checked {
        Some(store) if report.is_empty() => {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            Ok(store.relative_to(dir))
        }
        _ => Err(report.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn a_tenant_managers_store_reads_its_retention_and_refuses_unknown_keys() {
        let path = Path::new("/etc/mcp-auth/tenants.toml");
        let text = "[store]\nkey_file = \"keys\"\naudit_max_age = \"7d\"\naudit_max_rows = 500\n";
        let store = store_of_table(path, &table(text)).unwrap();
        assert_eq!(store.path, Path::new("/etc/mcp-auth/credentials.db"));
        let expected = (std::time::Duration::from_secs(7 * 86_400), 500);
        assert_eq!((store.audit.max_age, store.audit.max_rows), expected);

        let typo = "[store]\nkey_file = \"keys\"\naudit_max_row = 500\n";
        let error = store_of_table(path, &table(typo)).unwrap_err();
        assert!(error.contains("store.audit_max_row: unknown key"), "{error}");
        let wrong = "[store]\nkey_file = \"keys\"\naudit_max_age = \"soon\"\n";
        let error = store_of_table(path, &table(wrong)).unwrap_err();
        assert!(error.contains("store.audit_max_age"), "{error}");
    }

    #[test]
    fn a_gateways_credentials_table_may_hold_the_gateways_other_keys() {
        let path = Path::new("gw.toml");
        let text = "[credentials]\nmode = \"store\"\nkey_file = \"k\"\nrefresh_margin = \"5m\"\n";
        let store = store_of_table(path, &table(text)).unwrap();
        assert_eq!(store.path, Path::new("./credentials.db"));
    }
}
