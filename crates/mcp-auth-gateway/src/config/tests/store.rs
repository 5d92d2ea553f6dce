//! `[credentials] mode = "store"`: its keys, its providers and its refresh margin, checked.

use std::time::Duration;

use super::*;

fn store_config(extra: &str) -> String {
    format!("[credentials]\nmode = \"store\"\n{extra}\n{MINIMAL}")
}

fn store_env() -> impl Fn(&str) -> Option<String> + use<> {
    let keys = mcp_auth_store::Keyring::generate().export().expose().to_owned();
    env_with(&[(DEFAULT_KEY_ENV, keys.as_str()), ("APP_SECRET", "oauth-app-secret")])
}

const PROVIDER: &str = r#"
[credentials.providers.sh]
authorize_url = "https://auth.example.com/authorize"
token_url = "https://auth.example.com/token"
client_id = "app"
client_secret_env = "APP_SECRET"
scopes = ["repo"]
issuer = "https://auth.example.com"
"#;

#[test]
fn providers_and_the_refresh_margin_are_read_with_mode_store_only() {
    let text = store_config(&format!("refresh_margin = \"10s\"\n{PROVIDER}"));
    let config = parse_with_env(&text, ORIGIN, &Overrides::default(), &store_env()).unwrap();
    let CredentialsSection::Store(section) = &config.credentials else { panic!("store") };
    assert_eq!(section.refresh_margin, Some(Duration::from_secs(10)));
    assert_eq!(section.providers.len(), 1);
    let provider = &section.providers[0];
    assert_eq!(provider.resource_type, "sh");
    assert_eq!(provider.client_secret.as_ref().map(|s| s.expose()), Some("oauth-app-secret"));
    assert_eq!(provider.scopes, ["repo"]);
    assert_eq!(provider.issuer.as_deref(), Some("https://auth.example.com"));
    let oauth = provider.oauth("https://gw.example.com/connect/callback").unwrap();
    assert_eq!(oauth.issuer.as_deref(), Some("https://auth.example.com"));

    let api = format!(
        "[credentials]\nmode = \"api\"\nurl = \"http://127.0.0.1:9\"\n\
         service_token_env = \"APP_SECRET\"\nrefresh_margin = \"10s\"\n{MINIMAL}"
    );
    assert_reports(
        &api,
        &store_env(),
        "gw.toml: credentials.refresh_margin: only used with mode = \"store\" (mode is \"api\")",
    );
}

#[test]
fn the_cache_ttl_and_the_audit_retention_are_read_with_mode_store() {
    let text = store_config("cache_ttl = \"10s\"\naudit_max_age = \"7d\"\naudit_max_rows = 5000");
    let config = parse_with_env(&text, ORIGIN, &Overrides::default(), &store_env()).unwrap();
    let CredentialsSection::Store(section) = &config.credentials else { panic!("store") };
    assert_eq!(section.cache_ttl, Some(Duration::from_secs(10)));
    let audit = section.store.audit;
    assert_eq!((audit.max_age, audit.max_rows), (Duration::from_secs(7 * 86_400), 5_000));

    let env = env_with(&[("MOCK_API_ACCESS_TOKEN", "t")]);
    let text = format!("[credentials]\nmode = \"env\"\ncache_ttl = \"10s\"\n{MINIMAL}");
    assert_reports(
        &text,
        &env,
        "gw.toml: credentials.cache_ttl: only used with mode = \"api\" or \"store\" (mode is \"env\")",
    );
    let text = format!("[credentials]\nmode = \"env\"\naudit_max_rows = 5\n{MINIMAL}");
    assert_reports(
        &text,
        &env,
        "gw.toml: credentials.audit_max_rows: only used with mode = \"store\" (mode is \"env\")",
    );
}

#[test]
fn a_provider_over_plain_http_or_without_its_secret_is_refused() {
    let insecure =
        PROVIDER.replace("https://auth.example.com/token", "http://auth.example.com/token");
    let reported = lines(&store_config(&insecure), &store_env());
    assert!(
        reported.iter().any(|l| l.starts_with("gw.toml: credentials.providers.sh.token_url:")),
        "{reported:?}"
    );
    let keys = mcp_auth_store::Keyring::generate().export().expose().to_owned();
    let without_secret = env_with(&[(DEFAULT_KEY_ENV, keys.as_str())]);
    let lines = lines(&store_config(PROVIDER), &without_secret);
    assert!(
        lines.iter().any(|l| l.contains("credentials.providers.sh.client_secret_env")
            && l.contains("APP_SECRET")
            && !l.contains("oauth-app-secret")),
        "{lines:?}"
    );
}
