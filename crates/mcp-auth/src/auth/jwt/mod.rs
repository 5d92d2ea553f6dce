//! [`JwtAuthProvider`]: bearer JWTs verified with an HMAC secret, a PEM public key, or a JWKS.
//!
//! What is checked, in order: the token's length ([`DEFAULT_MAX_TOKEN_BYTES`]), before anything
//! is parsed; the header parses, names an algorithm the key accepts (so `alg: none` and
//! algorithm confusion are refused), marks nothing critical (`crit`) and, when configured, has
//! the required `typ`; the signature; `exp` (always required, and representable) and `nbf` with
//! the configured leeway; `iss` and `aud` when configured (and then also required to be
//! present); the token's lifetime when a maximum is configured; a user id in the configured
//! claim, falling back to `userId` then `sub`.

mod builder;
mod claims;
mod header;
mod verify_key;

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use jsonwebtoken::{decode, decode_header};
use serde_json::{Map, Value};

#[doc(inline)]
pub use self::builder::JwtAuthProviderBuilder;
pub(crate) use self::verify_key::{VerifyKey, jwk_algorithms};
use self::{
    claims::{ClaimRules, map_jwt_error, principal_from_claims},
    header::HeaderRules,
};
use super::{AuthError, AuthProvider, Principal, RequestContext, jwks::JwksCache};

/// Default clock-skew allowance for `exp` and `nbf`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);
/// Largest accepted clock-skew allowance: more is a misconfiguration, not skew.
pub const MAX_LEEWAY: Duration = Duration::from_secs(86_400);
/// Default claim holding the user id.
pub const DEFAULT_USER_ID_CLAIM: &str = "sub";
/// Default number of verified tokens remembered.
pub const DEFAULT_VERIFIED_CACHE_CAPACITY: u64 = 10_000;
/// Default claim holding embedded upstream tokens (`{"tokens": {"github": "ghp_…"}}`).
pub const DEFAULT_TOKENS_CLAIM: &str = "tokens";
/// Default longest bearer token accepted, in bytes (8 KiB). Access tokens from common identity
/// providers are 1–2 KiB; 8 KiB is also the usual per-header limit of HTTP servers and proxies.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;

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
    claims: ClaimRules,
    header: HeaderRules,
    max_token_bytes: usize,
    verified: Option<VerifiedCache>,
}

/// Verified tokens → their principals, each kept until the token's `exp`.
// foldhash, not SipHash: the key is a whole token (~200 bytes), hashed on every request. Only
// verified tokens are inserted, so a caller cannot flood the table with chosen keys anyway.
pub(super) type VerifiedCache =
    moka::sync::Cache<String, Principal, foldhash::quality::RandomState>;

/// Expires a cached principal when its token does.
struct UntilTokenExpiry;

impl moka::Expiry<String, Principal> for UntilTokenExpiry {
    fn expire_after_create(
        &self,
        _: &String,
        principal: &Principal,
        _: std::time::Instant,
    ) -> Option<Duration> {
        // `expires_at` is a representable `SystemTime` (see `principal_from_claims`), and moka
        // saturates a far-future deadline rather than overflowing.
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
    /// A token longer than [`JwtAuthProviderBuilder::max_token_bytes`] is refused first, before
    /// the cache lookup, any parsing, key fetch or signature check: it costs the caller more
    /// to send than us to refuse. A token verified before and not yet expired is answered from
    /// a bounded cache keyed by the whole token (see
    /// [`JwtAuthProviderBuilder::verified_cache_capacity`]): clients send the same bearer token
    /// on every request, and verifying it again is most of the auth cost.
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        if token.len() > self.inner.max_token_bytes {
            return Err(AuthError::TokenTooLarge { limit: self.inner.max_token_bytes });
        }
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
                // Refuse on the header alone before a `kid` can trigger a JWKS refetch.
                self.inner.header.check(&header)?;
                cache.key_for(header.kid.as_deref()).await?
            }
        };
        let data = decode::<Map<String, Value>>(token, &key.key, &key.validation)
            .map_err(|err| classify_failure(&err, token))?;
        self.inner.header.check(&data.header)?;
        let principal = principal_from_claims(data.claims, &self.inner.claims)?;
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

    /// Drops the user's verified tokens: a scan of the cache (bounded by its capacity), paid
    /// per revocation rather than by every lookup, as an invalidation closure would be.
    fn forget_user(&self, user_id: &str) {
        let Some(cache) = &self.inner.verified else { return };
        for (token, principal) in cache.iter() {
            if principal.user_id() == user_id {
                cache.invalidate(&*token);
            }
        }
    }

    fn forget_all(&self) {
        if let Some(cache) = &self.inner.verified {
            cache.invalidate_all();
        }
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

#[cfg(test)]
mod tests {
    use std::time::{SystemTime, UNIX_EPOCH};

    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    use super::*;

    const SECRET: &str = "a-test-secret-of-at-least-thirty-two-bytes";

    fn token(user: &str) -> String {
        let exp = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() + 3600;
        let claims = json!({ "sub": user, "exp": exp });
        encode(&Header::default(), &claims, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap()
    }

    fn cached(provider: &JwtAuthProvider, token: &str) -> bool {
        provider.inner.verified.as_ref().unwrap().contains_key(token)
    }

    #[tokio::test]
    async fn forgetting_a_user_drops_their_verified_tokens_only() {
        let provider = JwtAuthProvider::builder().secret(SECRET).build().unwrap();
        let (alice_1, alice2, bob) = (token("alice"), token("alice2"), token("bob"));
        let alice_again = {
            // A second token of alice's (another `exp`): both are hers.
            let exp = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() + 7200;
            let claims = json!({ "sub": "alice", "exp": exp });
            let key = EncodingKey::from_secret(SECRET.as_bytes());
            encode(&Header::default(), &claims, &key).unwrap()
        };
        for token in [&alice_1, &alice2, &bob, &alice_again] {
            provider.verify(token).await.unwrap();
            assert!(cached(&provider, token));
        }

        provider.forget_user("alice");

        assert!(!cached(&provider, &alice_1));
        assert!(!cached(&provider, &alice_again));
        assert!(cached(&provider, &alice2), "user alice2 is not alice");
        assert!(cached(&provider, &bob));
        assert_eq!(provider.verify(&alice_1).await.unwrap().user_id(), "alice");
    }
}
