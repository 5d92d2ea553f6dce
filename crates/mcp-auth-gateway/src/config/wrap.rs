//! [`wrap_builder`]: one mount of a [`GatewayConfig`] as the settings of the library's
//! [`wrap_server`](mcp_auth::wrap_server) builder.

use mcp_auth::{
    ApiTokenResolver, ConfigError, EnvAuthProvider, Environment, JwtAuthProvider, JwtTokenResolver,
    SimpleTokenResolver, UserIdLogging, WrapServerBuilder, auth::AnonymousLoopbackProvider,
    extras::ExtrasAllowList, http::HttpOptions, instances::InstanceMode,
};
use mcp_auth_redis::{RedisConnection, RedisCredentialCache};
use rmcp::ServerHandler;

use super::{
    ApiCredentials, AuthSection, ConfigReport, CredentialsSection, GatewayConfig, JwtAuth, JwtKey,
    ServerEntry,
};

/// The user id every caller gets with `auth.mode = "none"`.
pub const ANONYMOUS_USER: &str = "anonymous";

/// Applies `entry`, and the sections every mount shares, to `builder`:
///
/// - the auth provider, built for this mount: a JWT's audience defaults to the mount's URL
///   ([`GatewayConfig::mount_url`]), so a token minted for one mount is refused by another;
/// - the token resolver (none with `credentials.mode = "none"`) and the resource type;
/// - the instance options, the extras allow-list, the rate limit and the limits (with the
///   entry's `max_instances_per_user`);
/// - the OAuth resource-server settings: the mount's required scopes, its connect URL, and,
///   with JWT auth and authorization servers, its Protected Resource Metadata;
/// - the HTTP options: base path = the mount path, server name = the entry name, CORS
///   origins, accepted hosts (loopback, the public URL's host, `allowed_hosts`), environment,
///   body size and connection cap;
/// - how log lines name users (`[log]`), for the mount and its token resolver.
///
/// Fails only where the library refuses what the config check could not foresee, or with
/// `credentials.mode = "store"`, which needs the opened store: [`wrap_builder_with_store`].
pub fn wrap_builder<H: ServerHandler>(
    builder: WrapServerBuilder<H>,
    entry: &ServerEntry,
    config: &GatewayConfig,
) -> Result<WrapServerBuilder<H>, ConfigReport> {
    wrap_builder_with_store(builder, entry, config, None)
}

/// [`wrap_builder`] with the resolver of the credential store `credentials.mode = "store"`
/// uses, opened once for every mount (`serve::OpenedStore`).
pub fn wrap_builder_with_store<H: ServerHandler>(
    builder: WrapServerBuilder<H>,
    entry: &ServerEntry,
    config: &GatewayConfig,
    store: Option<&mcp_auth_store::StoreTokenResolver>,
) -> Result<WrapServerBuilder<H>, ConfigReport> {
    wrap_builder_with_shared(builder, entry, config, store, None)
}

/// [`wrap_builder_with_store`] with the Redis connection of `[redis]`, opened once for every
/// mount: with `redis.credential_key_env`, the tenant-manager resolver of
/// `credentials.mode = "api"` is wrapped in a [`RedisCredentialCache`], so the replicas share
/// what it resolves. Without a connection nothing is wrapped.
pub fn wrap_builder_with_shared<H: ServerHandler>(
    builder: WrapServerBuilder<H>,
    entry: &ServerEntry,
    config: &GatewayConfig,
    store: Option<&mcp_auth_store::StoreTokenResolver>,
    redis: Option<&RedisConnection>,
) -> Result<WrapServerBuilder<H>, ConfigReport> {
    let server = &config.server;
    let environment = server.environment;
    let mount = &entry.authorization;
    let builder = builder.required_scopes(mount.scopes.iter().cloned());
    let builder = mount
        .tool_scopes
        .iter()
        .fold(builder, |builder, (tool, scopes)| builder.tool_scopes(tool, scopes.iter().cloned()))
        .show_all_tools(mount.show_all_tools);
    // Where a user without a credential connects one: the mount's own `connect_url`, else
    // the gateway's connect route when a provider issues this mount's resource type.
    let connect_url = mount.connect_url.clone().or_else(|| match &config.credentials {
        CredentialsSection::Store(section)
            if section.providers.iter().any(|p| p.resource_type == entry.resource_type) =>
        {
            Some(format!("{}/connect/{}", config.public_base(), entry.resource_type))
        }
        _ => None,
    });
    let builder = match &connect_url {
        Some(url) => builder.credential_connect_url(url),
        None => builder,
    };
    let builder = match &config.auth {
        AuthSection::Jwt(jwt) => match jwt.metadata.for_mount(&entry.name, mount) {
            Some(metadata) => builder.protected_resource(metadata),
            None => builder,
        },
        _ => builder,
    };
    let builder = match &config.auth {
        AuthSection::Jwt(jwt) => {
            builder.auth_provider(jwt_provider(jwt, &config.mount_url(entry), environment)?)
        }
        AuthSection::Env { user_id } => builder
            .auth_provider(EnvAuthProvider::fixed(user_id).map_err(|e| library(e, "auth.mode"))?),
        AuthSection::None => builder.auth_provider(
            AnonymousLoopbackProvider::for_environment(ANONYMOUS_USER, environment)
                .map_err(|e| library(e, "auth.mode"))?,
        ),
    };
    let builder = match &config.credentials {
        CredentialsSection::None => builder,
        CredentialsSection::Env { var } => builder.token_resolver(
            var.iter()
                .fold(SimpleTokenResolver::new(), |resolver, var| resolver.token_env_var(var)),
        ),
        CredentialsSection::Jwt => builder.token_resolver(JwtTokenResolver::new()),
        // Only the tenant manager's answers are shared: `env` and `jwt` have nothing to fetch,
        // and `store` reads a local store that is as fast as Redis.
        CredentialsSection::Api(api) => {
            let resolver = api_resolver(api, environment, &config.log.user_ids)?;
            match shared_credentials(resolver, api, config, redis) {
                Ok(cache) => builder.token_resolver(cache),
                Err(resolver) => builder.token_resolver(resolver),
            }
        }
        CredentialsSection::Store(_) => {
            let Some(store) = store else {
                return Err(ConfigReport::single(
                    "credentials.mode",
                    None,
                    "mode = \"store\" needs the store opened first (wrap_builder_with_store)",
                ));
            };
            builder.token_resolver(store.clone())
        }
    };
    let extras =
        entry.extras.iter().fold(ExtrasAllowList::new(), |allow, header| allow.header(header));
    let mut http = HttpOptions::default()
        .with_base_path(&entry.path)
        .with_name(&entry.name, env!("CARGO_PKG_VERSION"))
        .with_cors_origins(server.cors_origins.iter().cloned())
        .with_allowed_hosts(server.host_rule())
        .with_environment(environment);
    // Only a URL clients use: without one, the resource is named after each request's `Host`
    // (the listen address may be `127.0.0.1:0`, or reached as `localhost`).
    if server.public_url_given {
        http = http.with_public_url(server.public_url.as_str());
    }
    if let Some(bytes) = server.max_request_body_bytes {
        http = http.with_max_request_body_bytes(bytes);
    }
    if let Some(max) = server.max_connections {
        http = http.with_max_connections(max);
    }
    let mut limits = server.limits.clone();
    if let Some(max) = entry.instances.max_instances_per_user {
        limits = limits.with_max_instances_per_user(max);
    }
    // The library counts instances per user (one entry per user and extras); per session every
    // session holds its own instance — its own child — so the caps on instances are caps on
    // sessions too, or a user could start a child per session up to the session limits.
    let options = &entry.instances.options;
    if options.mode == InstanceMode::PerSession {
        let per_user = limits.max_sessions_per_user.min(limits.max_instances_per_user);
        let total = limits
            .max_sessions_total
            .min(usize::try_from(options.max_instances).unwrap_or(usize::MAX));
        limits = limits.with_max_sessions_per_user(per_user).with_max_sessions_total(total);
    }
    Ok(builder
        .resource_type(&entry.resource_type)
        .instances(entry.instances.options.clone())
        .extras(extras)
        .http(http)
        .rate_limit(entry.rate_limit.clone())
        .limits(limits)
        .progress(server.progress.clone())
        .user_id_logging(config.log.user_ids.clone()))
}

/// The JWT provider of one mount; `mount_url` is the default audience.
fn jwt_provider(
    jwt: &JwtAuth,
    mount_url: &str,
    environment: Environment,
) -> Result<JwtAuthProvider, ConfigReport> {
    let mut builder = JwtAuthProvider::builder().environment(environment);
    let key = match &jwt.key {
        JwtKey::Secret { algorithm, secret, key } => {
            builder = builder.hmac_secret(*algorithm, secret.clone());
            *key
        }
        JwtKey::PublicKeyPem { algorithm, pem } => {
            builder = builder.public_key_pem(*algorithm, pem);
            "auth.public_key_file"
        }
        JwtKey::Jwks { url } => {
            builder = builder.jwks_url(url.as_str());
            "auth.jwks_url"
        }
    };
    builder = builder.audience(jwt.audience.as_deref().unwrap_or(mount_url));
    if let Some(issuer) = &jwt.issuer {
        builder = builder.issuer(issuer);
    }
    if let Some(claim) = &jwt.user_claim {
        builder = builder.user_id_claim(claim);
    }
    if let Some(claim) = &jwt.tokens_claim {
        builder = builder.tokens_claim(claim);
    }
    builder.build().map_err(|error| {
        let at = match error.key.as_str() {
            "jwt.audience" => "auth.audience",
            "jwt.algorithm" => "auth.algorithm",
            _ => key,
        };
        library(error, at)
    })
}

/// The tenant-manager resolver.
fn api_resolver(
    api: &ApiCredentials,
    environment: Environment,
    user_ids: &UserIdLogging,
) -> Result<ApiTokenResolver, ConfigReport> {
    let mut builder = ApiTokenResolver::builder(api.url.as_str(), api.service_token.clone())
        .allow_insecure_http(api.allow_insecure_http)
        .environment(environment)
        .user_id_logging(user_ids.clone());
    if let Some(endpoint) = &api.endpoint {
        builder = builder.endpoint_path(endpoint);
    }
    if let Some(ttl) = api.cache_ttl {
        builder = builder.cache_ttl(ttl);
    }
    builder.build().map_err(|error| {
        let at = match error.key.as_str() {
            "tenant_api.endpoint_path" => "credentials.endpoint",
            "tenant_api.service_token" => "credentials.service_token_env",
            "tenant_api.allow_insecure_http" => "credentials.allow_insecure_http",
            _ => "credentials.url",
        };
        library(error, at)
    })
}

/// `resolver` behind a cache the replicas share in Redis, when `[redis]` has a
/// `credential_key_env` and the connection is open; else `resolver` itself. Entries live for
/// the mount's `credentials.cache_ttl` (default 30 s, the cache's own default) and name users
/// as the shared rate limits do (`redis.user_hash_key`).
fn shared_credentials(
    resolver: ApiTokenResolver,
    api: &ApiCredentials,
    config: &GatewayConfig,
    redis: Option<&RedisConnection>,
) -> Result<RedisCredentialCache<ApiTokenResolver>, ApiTokenResolver> {
    let section = config.redis.as_ref();
    let (Some(connection), Some(key)) = (redis, section.and_then(|r| r.credential_key.clone()))
    else {
        return Err(resolver);
    };
    let mut cache = RedisCredentialCache::new(resolver, connection, key);
    if let Some(ttl) = api.cache_ttl {
        cache = cache.with_ttl(ttl);
    }
    if let Some(hash_key) = section.and_then(|r| r.user_hash_key.as_ref()) {
        cache = cache.with_hash_key(hash_key.expose().as_bytes());
    }
    Ok(cache)
}

/// A library refusal, reported at the config key `at` that caused it.
fn library(error: ConfigError, at: &str) -> ConfigReport {
    ConfigReport::single(at, Some(error.value), error.expected)
}
