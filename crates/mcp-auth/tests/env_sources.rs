//! `EnvAuthProvider` and `SimpleTokenResolver` read the real process environment.
//!
//! One test function on purpose: setting variables while other threads read the environment is
//! undefined behaviour, so every case runs here, in sequence, in this binary of its own.

use http::HeaderMap;
use mcp_auth::{
    AuthProvider, CredentialError, EnvAuthProvider, Principal, SimpleTokenResolver, TokenResolver,
    auth::{RequestContext, TransportKind},
};

fn set(var: &str, value: &str) {
    // SAFETY: this binary runs a single test on one thread; nothing reads the environment
    // concurrently.
    unsafe { std::env::set_var(var, value) }
}

fn unset(var: &str) {
    // SAFETY: as in `set`.
    unsafe { std::env::remove_var(var) }
}

async fn user_of(provider: &EnvAuthProvider) -> String {
    let headers = HeaderMap::new();
    let ctx = RequestContext::new(TransportKind::Stdio, &headers);
    provider.authenticate(&ctx).await.unwrap().user_id().to_owned()
}

#[tokio::test(flavor = "current_thread")]
async fn environment_sources_read_the_configured_variables() {
    // EnvAuthProvider: default variable, default user, custom variable, required, invalid.
    unset("MCP_USER_ID");
    assert_eq!(user_of(&EnvAuthProvider::from_env().unwrap()).await, "local-user");
    set("MCP_USER_ID", "alice");
    assert_eq!(user_of(&EnvAuthProvider::from_env().unwrap()).await, "alice");
    set("TEAM_USER", "bob");
    let custom = EnvAuthProvider::builder().var("TEAM_USER").build().unwrap();
    assert_eq!(user_of(&custom).await, "bob");
    let required = EnvAuthProvider::builder().var("UNSET_USER_VAR").required().build();
    assert_eq!(required.unwrap_err().key, "UNSET_USER_VAR");
    set("TEAM_USER", "bad\u{7}user");
    let invalid = EnvAuthProvider::builder().var("TEAM_USER").build().unwrap_err();
    assert!(invalid.to_string().contains("TEAM_USER"), "{invalid}");
    assert_eq!(EnvAuthProvider::fixed("carol").unwrap().user_id(), "carol");

    // SimpleTokenResolver: the configured variable is the one read (the original ignored it).
    let principal = Principal::new("anyone").unwrap();
    set("API_TOKEN", "tok-from-api-token");
    set("MYAPI_ACCESS_TOKEN", "tok-from-convention");
    let configured = SimpleTokenResolver::new().token_env_var("API_TOKEN");
    let credential = configured.resolve(&principal, "myapi").await.unwrap();
    assert_eq!(credential.secret().expose(), "tok-from-api-token");

    let conventional = SimpleTokenResolver::new();
    let credential = conventional.resolve(&principal, "myapi").await.unwrap();
    assert_eq!(credential.secret().expose(), "tok-from-convention");

    set("MOCK_API_ACCESS_TOKEN", "tok-hyphen");
    let credential = conventional.resolve(&principal, "mock-api").await.unwrap();
    assert_eq!(credential.secret().expose(), "tok-hyphen");

    set("EMPTY_ACCESS_TOKEN", "");
    for missing in ["empty", "nothing-set"] {
        let err = conventional.resolve(&principal, missing).await.unwrap_err();
        assert_eq!(err, CredentialError::NotFound { resource_type: missing.into() });
    }
}
