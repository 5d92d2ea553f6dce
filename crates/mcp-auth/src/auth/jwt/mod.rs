//! [`JwtAuthProvider`]: bearer JWTs verified with an HMAC secret, a PEM public key, or a JWKS.
//!
//! What is checked, in order: the header parses and names an algorithm the key accepts (so
//! `alg: none` and algorithm confusion are refused); the signature; `exp` (always required) and
//! `nbf` with the configured leeway; `iss` and `aud` when configured (and then also required to
//! be present); a user id in the configured claim, falling back to `userId` then `sub`.

mod claims;
mod verify_key;

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::{Map, Value};

use self::claims::{ClaimRules, map_jwt_error, principal_from_claims};
pub(crate) use self::verify_key::{VerifyKey, jwk_algorithms};
use super::{AuthError, AuthProvider, Principal, RequestContext, jwks::JwksCache};
use crate::{
    config::{ConfigError, Environment},
    http_client::check_endpoint_url,
    secret::Secret,
};

/// Default clock-skew allowance for `exp` and `nbf`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);
/// Default claim holding the user id.
pub const DEFAULT_USER_ID_CLAIM: &str = "sub";
/// Default number of verified tokens remembered.
pub const DEFAULT_VERIFIED_CACHE_CAPACITY: u64 = 10_000;
/// Default claim holding embedded upstream tokens (`{"tokens": {"github": "ghp_…"}}`).
pub const DEFAULT_TOKENS_CLAIM: &str = "tokens";

/// Authenticates requests by their `Authorization: Bearer <JWT>` header.
///
/// ```
/// use mcp_auth::auth::JwtAuthProvider;
/// let provider = JwtAuthProvider::builder()
///     .secret("a-secret-of-at-least-thirty-two-bytes!")
///     .issuer("https://tenants.example.com")
///     .audience("https://mcp.example.com")
///     .build()?;
/// # Ok::<_, mcp_auth::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct JwtAuthProvider {
    inner: Arc<Inner>,
}

struct Inner {
    keys: KeySource,
    user_id_claim: String,
    tokens_claim: Option<String>,
    verified: Option<VerifiedCache>,
}

/// Verified tokens → their principals, each kept until the token's `exp`.
type VerifiedCache = moka::sync::Cache<String, Principal>;

/// Expires a cached principal when its token does.
struct UntilTokenExpiry;

impl moka::Expiry<String, Principal> for UntilTokenExpiry {
    fn expire_after_create(
        &self,
        _: &String,
        principal: &Principal,
        _: std::time::Instant,
    ) -> Option<Duration> {
        let exp = principal.expires_at()?;
        Some(exp.duration_since(SystemTime::now()).unwrap_or_default())
    }
}

enum KeySource {
    Static(Arc<VerifyKey>),
    Jwks(JwksCache),
}

impl JwtAuthProvider {
    /// Starts a builder.
    pub fn builder() -> JwtAuthProviderBuilder {
        JwtAuthProviderBuilder::default()
    }

    /// Verifies one token and returns its principal.
    ///
    /// A token verified before and not yet expired is answered from a bounded cache keyed by
    /// the whole token (see [`JwtAuthProviderBuilder::verified_cache_capacity`]): clients send
    /// the same bearer token on every request, and verifying it again is most of the auth cost.
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        if let Some(principal) = self.inner.verified.as_ref().and_then(|cache| cache.get(token)) {
            // moka drops expired entries lazily; never serve one.
            if principal.expires_at().is_some_and(|exp| exp > SystemTime::now()) {
                return Ok(principal);
            }
        }
        let key = match &self.inner.keys {
            KeySource::Static(key) => key.clone(),
            KeySource::Jwks(cache) => {
                let header = decode_header(token).map_err(|_| classify_unparsable_header(token))?;
                cache.key_for(header.kid.as_deref()).await?
            }
        };
        let data = decode::<Map<String, Value>>(token, &key.key, &key.validation)
            .map_err(|err| classify_failure(&err, token))?;
        let rules = ClaimRules {
            user_id_claim: &self.inner.user_id_claim,
            tokens_claim: self.inner.tokens_claim.as_deref(),
        };
        let principal = principal_from_claims(data.claims, &rules)?;
        if let Some(cache) = &self.inner.verified {
            cache.insert(token.to_owned(), principal.clone());
        }
        Ok(principal)
    }

    /// Fetches the JWKS now rather than on the first request (a no-op for static keys), so that
    /// a wrong URL fails at start-up.
    pub async fn prefetch(&self) -> Result<(), AuthError> {
        match &self.inner.keys {
            KeySource::Static(_) => Ok(()),
            KeySource::Jwks(cache) => cache.refresh_now().await,
        }
    }
}

#[async_trait::async_trait]
impl AuthProvider for JwtAuthProvider {
    async fn authenticate(&self, ctx: &RequestContext<'_>) -> Result<Principal, AuthError> {
        self.verify(ctx.bearer_token()?).await
    }
}

/// Why verification failed. The header is only looked at again here, on the failure path.
fn classify_failure(err: &jsonwebtoken::errors::Error, token: &str) -> AuthError {
    match decode_header(token) {
        Ok(header) => map_jwt_error(err, &format!("{:?}", header.alg)),
        Err(_) => classify_unparsable_header(token),
    }
}

/// A header jsonwebtoken refused: report a named algorithm we do not accept (`none`, `HS1`…)
/// as such, and anything else as malformed. Runs only on the failure path.
fn classify_unparsable_header(token: &str) -> AuthError {
    use base64::Engine as _;
    let alg = token
        .split('.')
        .next()
        .and_then(|h| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|bytes| serde_json::from_slice::<Map<String, Value>>(&bytes).ok())
        .and_then(|header| header.get("alg")?.as_str().map(str::to_owned));
    match alg {
        // The value is the caller's own input; keep it short and printable.
        Some(alg) => AuthError::DisallowedAlgorithm {
            alg: alg.chars().filter(char::is_ascii_graphic).take(16).collect(),
        },
        None => AuthError::MalformedToken,
    }
}

enum KeyConfig {
    Secret { algorithm: Algorithm, secret: Secret },
    PublicKeyPem { algorithm: Algorithm, pem: Vec<u8> },
    Jwks { url: String },
}

/// Builder for [`JwtAuthProvider`]. Exactly one key source is required: [`secret`](Self::secret)
/// (or [`hmac_secret`](Self::hmac_secret)), [`public_key_pem`](Self::public_key_pem) or
/// [`jwks_url`](Self::jwks_url).
pub struct JwtAuthProviderBuilder {
    key: Vec<KeyConfig>,
    issuers: Vec<String>,
    audiences: Vec<String>,
    leeway: Duration,
    user_id_claim: String,
    tokens_claim: String,
    extract_tokens: bool,
    jwks: crate::auth::jwks::JwksOptions,
    environment: Option<Environment>,
    verified_cache_capacity: u64,
}

impl Default for JwtAuthProviderBuilder {
    fn default() -> Self {
        Self {
            key: Vec::new(),
            issuers: Vec::new(),
            audiences: Vec::new(),
            leeway: DEFAULT_LEEWAY,
            user_id_claim: DEFAULT_USER_ID_CLAIM.to_owned(),
            tokens_claim: DEFAULT_TOKENS_CLAIM.to_owned(),
            extract_tokens: true,
            jwks: Default::default(),
            environment: None,
            verified_cache_capacity: DEFAULT_VERIFIED_CACHE_CAPACITY,
        }
    }
}

impl JwtAuthProviderBuilder {
    /// HS256 with this shared secret (at least 32 bytes).
    pub fn secret(self, secret: impl Into<Secret>) -> Self {
        self.hmac_secret(Algorithm::HS256, secret)
    }

    /// HS256, HS384 or HS512 with this shared secret (at least as long as the hash: 32, 48 or
    /// 64 bytes, per RFC 7518 §3.2).
    pub fn hmac_secret(mut self, algorithm: Algorithm, secret: impl Into<Secret>) -> Self {
        self.key.push(KeyConfig::Secret { algorithm, secret: secret.into() });
        self
    }

    /// RS256/384/512, PS256/384/512, ES256/384 or EdDSA with this PEM-encoded public key.
    pub fn public_key_pem(mut self, algorithm: Algorithm, pem: impl AsRef<[u8]>) -> Self {
        self.key.push(KeyConfig::PublicKeyPem { algorithm, pem: pem.as_ref().to_vec() });
        self
    }

    /// Keys from a JWKS document, fetched over HTTP, cached, and refetched (rate-limited) when a
    /// token names an unknown `kid`.
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.key.push(KeyConfig::Jwks { url: url.into() });
        self
    }

    /// Accept only tokens whose `iss` is this issuer (may be called repeatedly to accept several).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(issuer.into());
        self
    }

    /// Accept only tokens whose `aud` names this audience (may be called repeatedly). Required in
    /// production: the MCP authorization spec forbids accepting tokens meant for someone else.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Clock-skew allowance for `exp` and `nbf` (default 60 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The claim holding the user id (default `sub`; `userId` and `sub` are tried after it).
    pub fn user_id_claim(mut self, claim: impl Into<String>) -> Self {
        self.user_id_claim = claim.into();
        self
    }

    /// The claim holding embedded upstream tokens, `{resourceType: token}` (default `tokens`).
    pub fn tokens_claim(mut self, claim: impl Into<String>) -> Self {
        self.tokens_claim = claim.into();
        self
    }

    /// Whether to lift the tokens claim out as embedded credentials for
    /// [`JwtTokenResolver`](crate::credentials::JwtTokenResolver) (default true).
    pub fn extract_tokens(mut self, extract: bool) -> Self {
        self.extract_tokens = extract;
        self
    }

    /// JWKS fetching and caching options.
    pub fn jwks_options(mut self, options: crate::auth::jwks::JwksOptions) -> Self {
        self.jwks = options;
        self
    }

    /// How many verified tokens to remember until their `exp` (default 10 000; 0 disables).
    /// Only successes are cached, keyed by the whole token, and the cache is emptied whenever
    /// the JWKS changes, so a rotated-out key stops working at once.
    pub fn verified_cache_capacity(mut self, capacity: u64) -> Self {
        self.verified_cache_capacity = capacity;
        self
    }

    /// The deployment environment (default: read from `MCP_AUTH_ENV`).
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = Some(environment);
        self
    }

    /// Validates the configuration and builds the provider.
    pub fn build(self) -> Result<JwtAuthProvider, ConfigError> {
        let environment = self.environment.unwrap_or_else(Environment::from_env);
        if self.audiences.is_empty() && environment.is_production() {
            return Err(ConfigError::missing(
                "jwt.audience",
                "an audience (this server's resource URI): production requires audience \
                 validation (MCP authorization spec, RFC 8707)",
            ));
        }
        let template = self.validation_template();
        let verified = (self.verified_cache_capacity > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(self.verified_cache_capacity)
                .expire_after(UntilTokenExpiry)
                .build()
        });
        let mut keys = self.key.into_iter();
        let key = match (keys.next(), keys.next()) {
            (Some(key), None) => key,
            (None, _) => {
                return Err(ConfigError::missing(
                    "jwt.key",
                    "one of: a shared secret, a PEM public key, or a JWKS URL",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(ConfigError::invalid(
                    "jwt.key",
                    "several key sources",
                    "exactly one of: a shared secret, a PEM public key, or a JWKS URL",
                ));
            }
        };
        let keys = match key {
            KeyConfig::Secret { algorithm, secret } => {
                KeySource::Static(Arc::new(hmac_key(algorithm, &secret, &template)?))
            }
            KeyConfig::PublicKeyPem { algorithm, pem } => {
                KeySource::Static(Arc::new(pem_key(algorithm, &pem, &template)?))
            }
            KeyConfig::Jwks { url } => {
                let url = check_endpoint_url("jwt.jwks_url", &url, self.jwks.allow_insecure_http)?;
                KeySource::Jwks(JwksCache::new(url, template, self.jwks, verified.clone())?)
            }
        };
        Ok(JwtAuthProvider {
            inner: Arc::new(Inner {
                keys,
                user_id_claim: self.user_id_claim,
                tokens_claim: self.extract_tokens.then_some(self.tokens_claim),
                verified,
            }),
        })
    }

    fn validation_template(&self) -> Validation {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = self.leeway.as_secs();
        validation.validate_nbf = true;
        // jsonwebtoken checks `iss`/`aud` only when present; a configured check must also make
        // the claim mandatory, or a token could pass by simply omitting it.
        let mut required = vec!["exp"];
        if self.issuers.is_empty() {
            validation.iss = None;
        } else {
            validation.set_issuer(&self.issuers);
            required.push("iss");
        }
        if self.audiences.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&self.audiences);
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);
        validation
    }
}

fn hmac_key(
    algorithm: Algorithm,
    secret: &Secret,
    template: &Validation,
) -> Result<VerifyKey, ConfigError> {
    let min_len = match algorithm {
        Algorithm::HS256 => 32,
        Algorithm::HS384 => 48,
        Algorithm::HS512 => 64,
        other => {
            return Err(ConfigError::invalid(
                "jwt.algorithm",
                format!("{other:?}"),
                "HS256, HS384 or HS512 for a shared secret; use a public key for asymmetric \
                 algorithms",
            ));
        }
    };
    if secret.expose().len() < min_len {
        return Err(ConfigError::invalid_secret(
            "jwt.secret",
            format!("at least {min_len} bytes for {algorithm:?} (RFC 7518 §3.2)"),
        ));
    }
    let key = DecodingKey::from_secret(secret.expose().as_bytes());
    Ok(VerifyKey::new(key, vec![algorithm], template))
}

fn pem_key(
    algorithm: Algorithm,
    pem: &[u8],
    template: &Validation,
) -> Result<VerifyKey, ConfigError> {
    use Algorithm::*;
    let (key, kind) = match algorithm {
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => (DecodingKey::from_rsa_pem(pem), "RSA"),
        ES256 | ES384 => (DecodingKey::from_ec_pem(pem), "EC (P-256 or P-384)"),
        EdDSA => (DecodingKey::from_ed_pem(pem), "Ed25519"),
        other => {
            return Err(ConfigError::invalid(
                "jwt.algorithm",
                format!("{other:?}"),
                "an asymmetric algorithm (RS*, PS*, ES256, ES384, EdDSA) for a public key",
            ));
        }
    };
    let key = key.map_err(|_| {
        ConfigError::invalid(
            "jwt.public_key",
            format!("{} bytes that do not parse", pem.len()),
            format!("a PEM-encoded {kind} public key for {algorithm:?}"),
        )
    })?;
    Ok(VerifyKey::new(key, vec![algorithm], template))
}
