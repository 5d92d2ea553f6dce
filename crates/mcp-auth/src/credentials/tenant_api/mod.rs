//! [`ApiTokenResolver`]: credentials from a tenant manager over HTTP. (Being written.)

/// Placeholder.
pub struct ApiTokenResolver;
/// Placeholder.
pub struct ApiTokenResolverBuilder;
