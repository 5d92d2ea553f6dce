//! [`JwtAuthProviderBuilder`]: key source, claim checks, header rules and limits, validated once
//! at start-up into a [`JwtAuthProvider`].

use std::{sync::Arc, time::Duration};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use super::{
    ClaimRules, DEFAULT_LEEWAY, DEFAULT_MAX_TOKEN_BYTES, DEFAULT_TOKENS_CLAIM,
    DEFAULT_USER_ID_CLAIM, DEFAULT_VERIFIED_CACHE_CAPACITY, HeaderRules, Inner, JwtAuthProvider,
    KeySource, MAX_LEEWAY, UntilTokenExpiry, VerifyKey,
};
use crate::{
    auth::jwks::{JwksCache, JwksOptions},
    config::{ConfigError, Environment},
    http_client::check_endpoint_url,
    secret::Secret,
};

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
    jwks: JwksOptions,
    environment: Option<Environment>,
    verified_cache_capacity: u64,
    max_token_bytes: usize,
    required_typ: Option<String>,
    max_token_lifetime: Option<Duration>,
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
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            required_typ: None,
            max_token_lifetime: None,
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

    /// Clock-skew allowance for `exp`, `nbf` and (with a maximum lifetime) `iat`; default 60 s,
    /// at most [`MAX_LEEWAY`].
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
    pub fn jwks_options(mut self, options: JwksOptions) -> Self {
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

    /// The longest bearer token accepted, in bytes (default [`DEFAULT_MAX_TOKEN_BYTES`], 8 KiB;
    /// at least 1). A longer token is refused with
    /// [`AuthError::TokenTooLarge`](crate::AuthError::TokenTooLarge) before the cache lookup,
    /// any parsing, JWKS fetch or signature check.
    pub fn max_token_bytes(mut self, max: usize) -> Self {
        self.max_token_bytes = max;
        self
    }

    /// Accept only tokens whose `typ` header is this media type, e.g. `at+jwt` for RFC 9068
    /// access tokens (default: any `typ`, or none). Compared case-insensitively, with an
    /// `application/` prefix optional (RFC 7515 §4.1.9), so `at+jwt` also accepts
    /// `application/at+jwt`. Refuses with
    /// [`AuthError::WrongTokenType`](crate::AuthError::WrongTokenType).
    pub fn required_typ(mut self, typ: impl Into<String>) -> Self {
        self.required_typ = Some(typ.into());
        self
    }

    /// Accept only tokens that say when they were issued (`iat`), were not issued in the
    /// future (beyond the leeway), and live at most `max` (`exp - iat`). Default: no limit and
    /// `iat` optional. Bounds the damage of a leaked long-lived token (RFC 8725 §3.10).
    pub fn max_token_lifetime(mut self, max: Duration) -> Self {
        self.max_token_lifetime = Some(max);
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
        if self.leeway > MAX_LEEWAY {
            return Err(ConfigError::invalid(
                "jwt.leeway",
                format!("{} s", self.leeway.as_secs()),
                format!(
                    "at most {} s: a clock-skew allowance, not a validity period",
                    MAX_LEEWAY.as_secs()
                ),
            ));
        }
        if self.max_token_bytes == 0 {
            return Err(ConfigError::invalid(
                "jwt.max_token_bytes",
                "0",
                "a positive number of bytes (default 8192)",
            ));
        }
        if self.required_typ.as_deref().is_some_and(|typ| typ.trim().is_empty()) {
            return Err(ConfigError::invalid(
                "jwt.required_typ",
                "an empty string",
                "a media type such as `at+jwt`",
            ));
        }
        let template = self.validation_template();
        let verified = (self.verified_cache_capacity > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(self.verified_cache_capacity)
                .expire_after(UntilTokenExpiry)
                .build_with_hasher(foldhash::quality::RandomState::default())
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
                claims: ClaimRules {
                    user_id_claim: self.user_id_claim,
                    tokens_claim: self.extract_tokens.then_some(self.tokens_claim),
                    max_lifetime: self.max_token_lifetime,
                    leeway: self.leeway,
                },
                header: HeaderRules::new(self.required_typ.as_deref()),
                max_token_bytes: self.max_token_bytes,
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
