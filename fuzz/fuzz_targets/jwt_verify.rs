//! `JwtAuthProvider::verify` on hostile tokens.
//!
//! The first byte chooses what the rest is:
//! - `byte % 3 == 0`: the token itself (lossy UTF-8): header/base64/JSON parsing, algorithm
//!   checks, the failure classification;
//! - `byte % 3 == 1`: a claims payload, signed with the right key, so it gets past the signature
//!   to claims parsing, `exp`/`nbf`/`iss`/`aud` validation and claims → principal;
//! - `byte % 3 == 2`: structured claims (via `arbitrary`) with typed edge values — huge and
//!   negative times, non-string ids, long and control-character ids — signed likewise;
//!
//! and which provider verifies (`(byte / 3) % 2`): plain HS256, or strict (issuer, audience, user
//! id claim `uid`, tokens claim `creds`).
//!
//! Beyond "no panic", it checks what the rest of the crate relies on: a verified principal has a
//! valid user id taken from the documented claim order, its token's `exp` as expiry (the
//! verified-token cache keeps a principal until then), no embedded-token claim left in its
//! claims; a refusal never echoes the token; a second verification (from the cache) agrees
//! with the first.
#![no_main]

use std::{sync::OnceLock, time::UNIX_EPOCH};

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use mcp_auth::{AuthError, Environment, JwtAuthProvider, Principal};
use mcp_auth_fuzz::{SECRET, now, runtime, sign_payload};
use serde_json::{Map, Value, json};

const ISSUER: &str = "https://issuer.example.com";
const AUDIENCE: &str = "https://mcp.example.com";

/// A provider and the claim names it reads.
struct Provider {
    provider: JwtAuthProvider,
    user_id_claim: &'static str,
    tokens_claim: &'static str,
    strict: bool,
}

fn plain() -> &'static Provider {
    static PROVIDER: OnceLock<Provider> = OnceLock::new();
    PROVIDER.get_or_init(|| Provider {
        provider: JwtAuthProvider::builder()
            .secret(SECRET)
            .environment(Environment::Development)
            .build()
            .expect("plain provider"),
        user_id_claim: "sub",
        tokens_claim: "tokens",
        strict: false,
    })
}

fn strict() -> &'static Provider {
    static PROVIDER: OnceLock<Provider> = OnceLock::new();
    PROVIDER.get_or_init(|| Provider {
        provider: JwtAuthProvider::builder()
            .secret(SECRET)
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .user_id_claim("uid")
            .tokens_claim("creds")
            .environment(Environment::Production)
            .build()
            .expect("strict provider"),
        user_id_claim: "uid",
        tokens_claim: "creds",
        strict: true,
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let provider = if (selector / 3) % 2 == 1 { strict() } else { plain() };
    match selector % 3 {
        0 => {
            let token = String::from_utf8_lossy(rest);
            verify(provider, &token, None);
        }
        1 => verify(provider, &sign_payload(rest), Some(rest)),
        _ => {
            let Ok(claims) = Claims::arbitrary_take_rest(Unstructured::new(rest)) else {
                return;
            };
            let payload = serde_json::to_vec(&claims.to_json()).expect("claims serialize");
            verify(provider, &sign_payload(&payload), Some(&payload));
        }
    }
});

/// Verifies `token` twice (the second answer comes from the verified-token cache) and checks
/// the invariants. `payload` is the claims bytes when the harness signed them.
fn verify(provider: &Provider, token: &str, payload: Option<&[u8]>) {
    let first = runtime().block_on(provider.provider.verify(token));
    let second = runtime().block_on(provider.provider.verify(token));
    match (&first, &second) {
        (Ok(a), Ok(b)) => assert_eq!(a.user_id(), b.user_id(), "cache changed the user id"),
        (Err(_), Err(_)) => {}
        _ => panic!("verifying twice disagreed: {first:?} then {second:?}"),
    }
    let claims = payload.and_then(|p| serde_json::from_slice::<Map<String, Value>>(p).ok());
    match first {
        Ok(principal) => check_principal(provider, &principal, payload, claims.as_ref()),
        Err(error) => check_refusal(provider, &error, token, claims.as_ref()),
    }
}

fn check_principal(
    provider: &Provider,
    principal: &Principal,
    payload: Option<&[u8]>,
    claims: Option<&Map<String, Value>>,
) {
    let id = principal.user_id();
    assert!(
        !id.is_empty() && id.len() <= 255 && !id.chars().any(char::is_control),
        "a principal with an invalid user id: {id:?}"
    );
    assert!(
        !principal.claims().contains_key(provider.tokens_claim),
        "the embedded-token claim was left in the principal's claims"
    );
    if payload.is_some() {
        let claims = claims.expect("verified claims that serde_json cannot parse as an object");
        assert_eq!(Some(id.to_owned()), user_id_candidate(provider, claims), "wrong user id claim");
        // jsonwebtoken accepts any non-negative number below 2^64 as `exp`, fractions included
        // (RFC 7519 §2: a NumericDate "can contain fractional seconds").
        let exp =
            claims.get("exp").and_then(Value::as_f64).expect("verified without a numeric exp");
        assert!(exp + 90.0 >= now() as f64, "verified a token that expired at {exp}");
        // The verified-token cache and the JWT credential resolver keep a principal until its
        // expiry: every `exp` far inside `SystemTime` (2^62 s) must be carried over, to the
        // second.
        if exp < (1u64 << 62) as f64 {
            let expires_at = principal.expires_at().map(|at| at.duration_since(UNIX_EPOCH));
            let Some(Ok(expires_at)) = expires_at else {
                panic!("the principal of a token with exp {exp} has expiry {expires_at:?}");
            };
            let delta = (expires_at.as_secs_f64() - exp).abs();
            assert!(delta <= 1.0, "exp {exp} became expiry {expires_at:?}");
        }
        if provider.strict {
            assert_eq!(claims.get("iss"), Some(&json!(ISSUER)), "wrong issuer accepted");
            let aud_ok = match claims.get("aud") {
                Some(Value::String(aud)) => aud == AUDIENCE,
                Some(Value::Array(auds)) => auds.contains(&json!(AUDIENCE)),
                _ => false,
            };
            assert!(aud_ok, "wrong audience accepted: {:?}", claims.get("aud"));
        }
    }
}

fn check_refusal(
    provider: &Provider,
    error: &AuthError,
    token: &str,
    claims: Option<&Map<String, Value>>,
) {
    let text = error.to_string();
    // A token with whitespace never gets past a bearer header, and such a token can be a run of
    // words from the message itself (`oken is not a well-formed JWT`, regression 3).
    if token.len() >= 24 && !token.contains(char::is_whitespace) {
        assert!(!text.contains(token), "the error message echoes the token");
    }
    let Some(claims) = claims else { return };
    match error {
        AuthError::MissingUserId { .. } => assert_eq!(
            user_id_candidate(provider, claims),
            None,
            "MissingUserId although a user id claim is present"
        ),
        AuthError::InvalidUserId => {
            assert!(user_id_candidate(provider, claims).is_some(), "InvalidUserId without an id")
        }
        _ => {}
    }
}

/// The user id the documented order picks: the configured claim, then `userId`, then `sub`; the
/// first that is a non-empty string or an integer.
fn user_id_candidate(provider: &Provider, claims: &Map<String, Value>) -> Option<String> {
    [provider.user_id_claim, "userId", "sub"].into_iter().find_map(|name| {
        match claims.get(name)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
            _ => None,
        }
    })
}

/// Claims with typed edge values.
#[derive(Arbitrary, Debug)]
struct Claims {
    sub: Option<Scalar>,
    user_id: Option<Scalar>,
    uid: Option<Scalar>,
    exp: Option<Time>,
    nbf: Option<Time>,
    iat: Option<Time>,
    iss: Option<Named>,
    aud: Option<Audience>,
    scope: Option<Scope>,
    tokens: Option<Tokens>,
    extra: Vec<(String, Scalar)>,
}

impl Claims {
    fn to_json(&self) -> Value {
        let mut map = Map::new();
        let mut put = |name: &str, value: Option<Value>| {
            if let Some(value) = value {
                map.insert(name.to_owned(), value);
            }
        };
        put("sub", self.sub.as_ref().map(Scalar::to_json));
        put("userId", self.user_id.as_ref().map(Scalar::to_json));
        put("uid", self.uid.as_ref().map(Scalar::to_json));
        put("exp", self.exp.as_ref().map(Time::to_json));
        put("nbf", self.nbf.as_ref().map(Time::to_json));
        put("iat", self.iat.as_ref().map(Time::to_json));
        put("iss", self.iss.as_ref().map(|n| n.to_json(ISSUER)));
        put("aud", self.aud.as_ref().map(Audience::to_json));
        put("scope", self.scope.as_ref().map(Scope::to_json));
        if let Some(tokens) = &self.tokens {
            // Under both names, so each provider finds its own.
            put("tokens", Some(tokens.to_json()));
            put("creds", Some(tokens.to_json()));
        }
        for (name, value) in &self.extra {
            map.entry(name.clone()).or_insert_with(|| value.to_json());
        }
        Value::Object(map)
    }
}

/// A JSON scalar, or an edge-case user id.
#[derive(Arbitrary, Debug)]
enum Scalar {
    Str(String),
    Edge(u8),
    U64(u64),
    I64(i64),
    F64(f64),
    Bool(bool),
    Null,
    Array(Vec<String>),
}

impl Scalar {
    fn to_json(&self) -> Value {
        match self {
            Scalar::Str(s) => json!(s),
            Scalar::Edge(i) => {
                let edges = [
                    String::new(),
                    " ".to_owned(),
                    "a\nb".to_owned(),
                    "\u{0}".to_owned(),
                    "\u{202e}alice".to_owned(),
                    "a".repeat(255),
                    "a".repeat(256),
                    "é".repeat(128),
                    "é".repeat(127) + "a",
                    "../../etc/passwd".to_owned(),
                ];
                json!(edges[usize::from(*i) % edges.len()])
            }
            Scalar::U64(n) => json!(n),
            Scalar::I64(n) => json!(n),
            Scalar::F64(n) => json!(n),
            Scalar::Bool(b) => json!(b),
            Scalar::Null => Value::Null,
            Scalar::Array(items) => json!(items),
        }
    }
}

/// A NumericDate (RFC 7519 §2), near now or at the edges.
#[derive(Arbitrary, Debug)]
enum Time {
    FromNow(i32),
    Edge(u8),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(String),
}

impl Time {
    fn to_json(&self) -> Value {
        let now = now() as i64;
        match self {
            Time::FromNow(delta) => json!(now + i64::from(*delta)),
            Time::Edge(i) => {
                let edges: [Value; 10] = [
                    json!(0),
                    json!(-1),
                    json!(i64::MAX),
                    json!(i64::MAX as u64 + 1),
                    json!(u64::MAX),
                    json!(i64::MIN),
                    json!(now as f64 + 3600.5),
                    json!(1e300),
                    json!(now.to_string()),
                    json!(253_402_300_800_u64), // year 10000
                ];
                edges[usize::from(*i) % edges.len()].clone()
            }
            Time::U64(n) => json!(n),
            Time::I64(n) => json!(n),
            Time::F64(n) => json!(n),
            Time::Str(s) => json!(s),
        }
    }
}

/// An issuer: the expected one, or something else.
#[derive(Arbitrary, Debug)]
enum Named {
    Expected,
    Other(String),
    Number(i64),
    List(Vec<String>),
}

impl Named {
    fn to_json(&self, expected: &str) -> Value {
        match self {
            Named::Expected => json!(expected),
            Named::Other(s) => json!(s),
            Named::Number(n) => json!(n),
            Named::List(items) => json!(items),
        }
    }
}

/// An audience: one, several (RFC 7519 §4.1.3), or nonsense.
#[derive(Arbitrary, Debug)]
enum Audience {
    One(Named),
    Many(Vec<Named>),
}

impl Audience {
    fn to_json(&self) -> Value {
        match self {
            Audience::One(named) => named.to_json(AUDIENCE),
            Audience::Many(items) => {
                Value::Array(items.iter().map(|n| n.to_json(AUDIENCE)).collect())
            }
        }
    }
}

/// `scope` as a space-separated string, an array, or nonsense.
#[derive(Arbitrary, Debug)]
enum Scope {
    Str(String),
    List(Vec<Scalar>),
    Other(Scalar),
}

impl Scope {
    fn to_json(&self) -> Value {
        match self {
            Scope::Str(s) => json!(s),
            Scope::List(items) => Value::Array(items.iter().map(Scalar::to_json).collect()),
            Scope::Other(s) => s.to_json(),
        }
    }
}

/// The embedded-token claim: resource → token, or nonsense.
#[derive(Arbitrary, Debug)]
enum Tokens {
    Map(Vec<(String, Scalar)>),
    Other(Scalar),
}

impl Tokens {
    fn to_json(&self) -> Value {
        match self {
            Tokens::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(resource, token)| (resource.clone(), token.to_json()))
                    .collect(),
            ),
            Tokens::Other(s) => s.to_json(),
        }
    }
}
