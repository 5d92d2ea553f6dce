//! [`VerifyKey`]: one verification key together with the only algorithms it may verify.

use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::AlgorithmParameters};

/// A key plus the validation rules for tokens signed with it.
///
/// Pairing the key with its own algorithm list is what defeats algorithm confusion: an RSA key
/// only ever verifies RS*/PS* tokens, so an HS256 token "signed" with the public key as an HMAC
/// secret is refused before any signature check.
#[derive(Clone)]
pub(crate) struct VerifyKey {
    pub(crate) key: DecodingKey,
    pub(crate) validation: Validation,
}

impl VerifyKey {
    pub(crate) fn new(key: DecodingKey, algorithms: Vec<Algorithm>, template: &Validation) -> Self {
        let mut validation = template.clone();
        validation.algorithms = algorithms;
        Self { key, validation }
    }
}

/// The algorithms a JWK may verify: its declared `alg`, or else every asymmetric algorithm of
/// its key type. Symmetric (`oct`) keys are never accepted from a JWKS: a key set is public.
pub(crate) fn jwk_algorithms(jwk: &jsonwebtoken::jwk::Jwk) -> Option<Vec<Algorithm>> {
    let family: &[Algorithm] = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => &[
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ],
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            jsonwebtoken::jwk::EllipticCurve::P256 => &[Algorithm::ES256],
            jsonwebtoken::jwk::EllipticCurve::P384 => &[Algorithm::ES384],
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(_) => &[Algorithm::EdDSA],
        _ => return None,
    };
    match jwk.common.key_algorithm.map(Algorithm::try_from) {
        None => Some(family.to_vec()),
        Some(Ok(declared)) if family.contains(&declared) => Some(vec![declared]),
        Some(_) => None,
    }
}
