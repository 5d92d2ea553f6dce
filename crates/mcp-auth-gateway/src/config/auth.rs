//! `[auth]`, checked: who is calling. The secret or key the file names is read here, once,
//! straight into [`Secret`].

use std::{fmt, path::Path, str::FromStr};

use jsonwebtoken::{Algorithm, DecodingKey};
use mcp_auth::{Principal, Secret, auth::DEFAULT_USER_ID, auth::DEFAULT_USER_ID_VAR};
use url::Url;

use super::{
    ConfigProblem, ConfigReport,
    authorization::Metadata,
    env::{EnvSource, non_empty, valid_var_name},
    raw::{RawAuth, RawAuthMode},
    server::Basics,
    urls::UrlRule,
};
use crate::token::SECRET_ENV_VAR;

/// `[auth]`, checked.
#[derive(Debug, Clone)]
pub enum AuthSection {
    /// `mode = "jwt"`: a verified bearer JWT on every request.
    Jwt(Box<JwtAuth>),
    /// `mode = "env"`: every caller is the one user `MCP_USER_ID` names (default `local-user`).
    Env {
        /// The user id served.
        user_id: String,
    },
    /// `mode = "none"`: anonymous callers, from loopback only (never in production).
    None,
}

/// `[auth]` with `mode = "jwt"`.
#[derive(Debug, Clone)]
pub struct JwtAuth {
    /// The verification key.
    pub key: JwtKey,
    /// `auth.issuer`: the required `iss`.
    pub issuer: Option<String>,
    /// `auth.audience`: the required `aud`; `None`: each mount's URL.
    pub audience: Option<String>,
    /// `auth.user_claim`: the claim holding the user id; `None`: `sub`.
    pub user_claim: Option<String>,
    /// `auth.tokens_claim`: the claim holding embedded upstream tokens; `None`: `tokens`.
    pub tokens_claim: Option<String>,
    /// `auth.authorization_servers` and `auth.scopes_supported`: each mount's Protected
    /// Resource Metadata.
    pub metadata: Metadata,
}

/// Where JWT signatures are verified against.
#[derive(Clone)]
pub enum JwtKey {
    /// A shared secret (`secret_env` or `secret_file`).
    Secret {
        /// HS256 (default), HS384 or HS512.
        algorithm: Algorithm,
        /// The secret.
        secret: Secret,
        /// The key it came from (`auth.secret_env` or `auth.secret_file`), for messages.
        key: &'static str,
    },
    /// A PEM public key (`public_key_file`).
    PublicKeyPem {
        /// RS256 (default) or another asymmetric algorithm.
        algorithm: Algorithm,
        /// The PEM text.
        pem: Vec<u8>,
    },
    /// The identity provider's key set (`jwks_url`).
    Jwks {
        /// The JWKS URL.
        url: Url,
    },
}

impl fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Secret { algorithm, key, .. } => write!(f, "Secret({algorithm:?} from {key})"),
            Self::PublicKeyPem { algorithm, .. } => write!(f, "PublicKeyPem({algorithm:?})"),
            Self::Jwks { url } => write!(f, "Jwks({url})"),
        }
    }
}

/// Every key source of a JWT key, for messages.
const KEY_SOURCES: &str = "secret_env/secret_file/public_key_file/jwks_url";
/// The key sources besides an environment variable.
const OTHER_KEY_SOURCES: &str = "secret_file/public_key_file/jwks_url";

/// Checks `[auth]`; `server` (when `[server]` could be read) gives the listen address and
/// environment.
pub(super) fn validate_auth(
    raw: RawAuth,
    server: Option<Basics>,
    env: &dyn EnvSource,
    report: &mut ConfigReport,
) -> Option<AuthSection> {
    let problems = report.problems.len();
    let mode_name = format!("{:?}", raw.mode).to_ascii_lowercase();
    if raw.mode != RawAuthMode::Jwt {
        let jwt_only = [
            ("secret_env", raw.secret_env.is_some()),
            ("secret_file", raw.secret_file.is_some()),
            ("public_key_file", raw.public_key_file.is_some()),
            ("jwks_url", raw.jwks_url.is_some()),
            ("algorithm", raw.algorithm.is_some()),
            ("issuer", raw.issuer.is_some()),
            ("audience", raw.audience.is_some()),
            ("user_claim", raw.user_claim.is_some()),
            ("tokens_claim", raw.tokens_claim.is_some()),
            ("authorization_servers", !raw.authorization_servers.is_empty()),
            ("scopes_supported", !raw.scopes_supported.is_empty()),
        ];
        for (key, _) in jwt_only.iter().filter(|(_, given)| *given) {
            report.push(ConfigProblem::new(
                format!("auth.{key}"),
                format!("only used with mode = \"jwt\" (mode is \"{mode_name}\")"),
            ));
        }
    }
    let listen = server.map(|s| s.listen);
    let production = server.filter(|s| s.environment.is_production());
    let section = match raw.mode {
        RawAuthMode::Jwt => jwt(raw, env, report).map(|jwt| AuthSection::Jwt(Box::new(jwt))),
        RawAuthMode::Env => {
            let user_id = non_empty(env, DEFAULT_USER_ID_VAR).unwrap_or(DEFAULT_USER_ID.to_owned());
            if Principal::new(user_id.clone()).is_err() {
                report.push(ConfigProblem::new(
                    "auth.mode",
                    format!(
                        "mode = \"env\" serves the user {DEFAULT_USER_ID_VAR} names, which is not a \
                         valid user id (1 to 255 bytes, no control characters)"
                    ),
                ));
            }
            if let Some(listen) = listen.filter(|l| !l.ip().is_loopback()) {
                report.push(ConfigProblem::new(
                    "auth.mode",
                    format!(
                        "mode = \"env\" serves every caller as one user without checking who \
                         they are, so it is allowed only on a loopback listen address (listen \
                         is {listen}); use mode = \"jwt\""
                    ),
                ));
            }
            Some(AuthSection::Env { user_id })
        }
        RawAuthMode::None => {
            if let Some(listen) = listen.filter(|l| !l.ip().is_loopback()) {
                report.push(ConfigProblem::new(
                    "auth.mode",
                    format!(
                        "mode = \"none\" admits every caller as one anonymous user, so it is \
                         allowed only on a loopback listen address such as 127.0.0.1:8080 \
                         (listen is {listen}); use mode = \"jwt\""
                    ),
                ));
            }
            if let Some(server) = production {
                report.push(ConfigProblem::new(
                    "auth.mode",
                    format!(
                        "mode = \"none\" is refused {}: it admits callers without \
                         credentials; use mode = \"jwt\"",
                        server.in_production()
                    ),
                ));
            }
            Some(AuthSection::None)
        }
    };
    section.filter(|_| report.problems.len() == problems)
}

/// `[auth]` with `mode = "jwt"`: exactly one key source, read and checked.
fn jwt(raw: RawAuth, env: &dyn EnvSource, report: &mut ConfigReport) -> Option<JwtAuth> {
    let given: Vec<&str> = [
        ("secret_env", raw.secret_env.is_some()),
        ("secret_file", raw.secret_file.is_some()),
        ("public_key_file", raw.public_key_file.is_some()),
        ("jwks_url", raw.jwks_url.is_some()),
    ]
    .into_iter()
    .filter_map(|(key, given)| given.then_some(key))
    .collect();
    if given.len() > 1 {
        report.push(ConfigProblem::new(
            "auth",
            format!(
                "several key sources ({}); give exactly one of {KEY_SOURCES}",
                given.join(", ")
            ),
        ));
        return None;
    }
    let algorithm = match raw.algorithm.as_deref().map(Algorithm::from_str) {
        None => None,
        Some(Ok(algorithm)) => Some(algorithm),
        Some(Err(_)) => {
            report.push(
                ConfigProblem::new(
                    "auth.algorithm",
                    "expected HS256, HS384 or HS512 (shared secret), or RS256, RS384, RS512, \
                     PS256, PS384, PS512, ES256, ES384 or EdDSA (public key)",
                )
                .with_value(raw.algorithm.as_deref().unwrap_or_default()),
            );
            return None;
        }
    };
    let key = if let Some(url) = &raw.jwks_url {
        if algorithm.is_some() {
            report.push(ConfigProblem::new(
                "auth.algorithm",
                "not used with jwks_url: each key of the set names its own algorithm",
            ));
        }
        let rule = UrlRule {
            key: "auth.jwks_url",
            example: "https://idp.example.com/.well-known/jwks.json",
            insecure_switch: None,
            allow_insecure_http: false,
            server: None,
        };
        JwtKey::Jwks { url: rule.check(url, report)? }
    } else if let Some(path) = &raw.public_key_file {
        public_key(path, algorithm.unwrap_or(Algorithm::RS256), report)?
    } else if let Some(path) = &raw.secret_file {
        let text = std::fs::read_to_string(path).map_err(|error| {
            report.push(ConfigProblem::new(
                "auth.secret_file",
                format!("cannot read {}: {error}", path.display()),
            ));
        });
        let mut text = text.ok()?;
        text.truncate(text.trim_end_matches(['\r', '\n']).len());
        let secret = Secret::new(text);
        shared_secret(
            secret,
            "auth.secret_file",
            &format!("{}", path.display()),
            algorithm,
            report,
        )?
    } else {
        let name = raw.secret_env.as_deref().unwrap_or(SECRET_ENV_VAR);
        let Some(secret) = valid_var_name(name).then(|| non_empty(env, name)).flatten() else {
            let how = if raw.secret_env.is_some() {
                "names environment variable"
            } else {
                "not given, so the JWT secret is read from the default"
            };
            let length = min_secret_len(algorithm.unwrap_or(Algorithm::HS256))
                .map(|min| format!(" (at least {min} bytes)"))
                .unwrap_or_default();
            report.push(ConfigProblem::new(
                "auth.secret_env",
                format!(
                    "{how} {name}, which is not set (or is empty); set {name} to the JWT \
                     signing secret{length}, or use {OTHER_KEY_SOURCES}"
                ),
            ));
            return None;
        };
        shared_secret(Secret::new(secret), "auth.secret_env", name, algorithm, report)?
    };
    for (key, value) in [
        ("issuer", &raw.issuer),
        ("audience", &raw.audience),
        ("user_claim", &raw.user_claim),
        ("tokens_claim", &raw.tokens_claim),
    ] {
        if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            report.push(ConfigProblem::new(format!("auth.{key}"), "must not be empty"));
        }
    }
    let metadata = super::authorization::metadata(
        raw.authorization_servers,
        raw.scopes_supported,
        raw.issuer.as_deref(),
        report,
    );
    Some(JwtAuth {
        key,
        metadata,
        issuer: raw.issuer,
        audience: raw.audience,
        user_claim: raw.user_claim,
        tokens_claim: raw.tokens_claim,
    })
}

/// A shared secret long enough for its HMAC algorithm (RFC 7518 §3.2).
fn shared_secret(
    secret: Secret,
    key: &'static str,
    source: &str,
    algorithm: Option<Algorithm>,
    report: &mut ConfigReport,
) -> Option<JwtKey> {
    let algorithm = algorithm.unwrap_or(Algorithm::HS256);
    let Some(min_len) = min_secret_len(algorithm) else {
        report.push(ConfigProblem::new(
            "auth.algorithm",
            format!(
                "{algorithm:?} needs a public key (public_key_file or jwks_url); a shared \
                 secret takes HS256, HS384 or HS512"
            ),
        ));
        return None;
    };
    if secret.expose().len() < min_len {
        report.push(
            ConfigProblem::new(
                key,
                format!(
                    "the secret in {source} is shorter than {min_len} bytes, the minimum for \
                     {algorithm:?} (RFC 7518 §3.2); generate one with `openssl rand -base64 48`"
                ),
            )
            .with_secret_value(),
        );
        return None;
    }
    Some(JwtKey::Secret { algorithm, secret, key })
}

/// The shortest secret an HMAC algorithm accepts (RFC 7518 §3.2); `None` for the others.
fn min_secret_len(algorithm: Algorithm) -> Option<usize> {
    match algorithm {
        Algorithm::HS256 => Some(32),
        Algorithm::HS384 => Some(48),
        Algorithm::HS512 => Some(64),
        _ => None,
    }
}

/// A PEM public key of the kind `algorithm` needs.
fn public_key(path: &Path, algorithm: Algorithm, report: &mut ConfigReport) -> Option<JwtKey> {
    const KEY: &str = "auth.public_key_file";
    let pem = match std::fs::read(path) {
        Ok(pem) => pem,
        Err(error) => {
            report
                .push(ConfigProblem::new(KEY, format!("cannot read {}: {error}", path.display())));
            return None;
        }
    };
    use Algorithm::*;
    let (parsed, kind) = match algorithm {
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => (DecodingKey::from_rsa_pem(&pem), "RSA"),
        ES256 | ES384 => (DecodingKey::from_ec_pem(&pem), "EC (P-256 or P-384)"),
        EdDSA => (DecodingKey::from_ed_pem(&pem), "Ed25519"),
        other => {
            report.push(ConfigProblem::new(
                "auth.algorithm",
                format!("{other:?} takes a shared secret (secret_env or secret_file); a public key takes RS*, PS*, ES256, ES384 or EdDSA"),
            ));
            return None;
        }
    };
    if parsed.is_err() {
        report.push(ConfigProblem::new(
            KEY,
            format!(
                "{} is not a PEM-encoded {kind} public key (for {algorithm:?})",
                path.display()
            ),
        ));
        return None;
    }
    Some(JwtKey::PublicKeyPem { algorithm, pem })
}
