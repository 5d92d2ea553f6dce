//! Templated values of the gateway config: the per-user parts of how an upstream server is
//! started (a stdio server's `args`, `env` and `cwd`) or called (an HTTP server's `headers`).
//!
//! A template is parsed and checked once, when the config is loaded ([`Template::parse`]), and
//! rendered for each user when that user's instance is built ([`Template::render`]).
//!
//! # Syntax
//!
//! Text with variables in braces: `"Bearer {access_token}"`, `"/srv/data/{user_id_hash}"`.
//! `{{` and `}}` stand for literal `{` and `}`. The variables are:
//!
//! | variable | value |
//! |---|---|
//! | `{access_token}` | the caller's upstream credential from the token resolver (empty without one) |
//! | `{user_id}` | the authenticated user id, as the auth provider gave it |
//! | `{user_id_hash}` | the first 16 hex digits of SHA-256 of the user id ([`user_id_hash`]) |
//! | `{extra.NAME}` | the request header `NAME`, when `NAME` is in the server's `extras` (empty when the request had none) |
//!
//! Any other name is a config error, reported with the known names and a "did you mean".
//!
//! # Safety rules
//!
//! Values come from callers (the user id is whatever the identity provider put in the token;
//! extras are request headers), so a substituted value is checked against where it lands, and
//! the instance is refused rather than built with a value that breaks out of its place:
//!
//! - **No shell, ever.** Arguments are passed to the program as an argument vector; `;`, `$( )`
//!   or quotes in a value mean nothing.
//! - **No NUL, CR or LF** in any substituted value: NUL cannot be passed to a program, and a
//!   line break could start a new header or a new line in a file the server writes.
//! - **Arguments (`args`)**: a value that would make the argument begin with `-` is refused
//!   (argument injection: `{user_id}` = `--config=/etc/shadow` would become an option). A
//!   template that begins with literal text (`--user={user_id}`) is never affected.
//! - **Paths**: in `cwd`, and in any template whose literal text contains `/` (it names a
//!   path), a value that is empty, `.` or `..`, or contains `/` or `\`, is refused (path
//!   traversal: `/srv/{user_id}` must stay below `/srv`, and must not be `/srv/` itself).
//!   `{user_id_hash}` is always safe there; prefer it to `{user_id}` in paths.
//! - **Headers**: a value must be a valid HTTP header value (visible ASCII, spaces and tabs).
//!   Header values are not paths: the path rule does not apply to them.
//!
//! A refusal ([`RenderError`]) names the variable and the rule, never the value: the value may
//! be the caller's credential.
//!
//! The rendered string is a plain `String`. An argument vector, an environment and a header map
//! need one, so a rendered `{access_token}` lives as long as the child's spec or the upstream's
//! headers; the callers mark header values sensitive and never log rendered values.

use std::fmt;

use mcp_auth::{Secret, extras::Extras};
use sha2::{Digest, Sha256};

use crate::config::{ConfigProblem, did_you_mean};

#[cfg(test)]
mod tests;

/// The fixed variable names, without braces.
pub const VARIABLES: [&str; 3] = ["access_token", "user_id", "user_id_hash"];

/// The known variables as listed in error messages.
const KNOWN: &str = "{access_token}, {user_id}, {user_id_hash}, {extra.NAME} for NAME in extras";

/// The first 16 hex digits of SHA-256 of `user_id`: a stable, path-safe name for a user's files
/// that does not reveal the id.
///
/// ```
/// use mcp_auth_gateway::template::user_id_hash;
/// assert_eq!(user_id_hash("alice"), "2bd806c97f0e00af");
/// ```
pub fn user_id_hash(user_id: &str) -> String {
    let digest = Sha256::digest(user_id.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The name under which [`ExtrasAllowList::header`](mcp_auth::extras::ExtrasAllowList::header)
/// stores header `header`: lower-cased, without a leading `x-`, `-` turned into `_`
/// (`X-Tenant-Id` → `tenant_id`).
pub fn extra_key(header: &str) -> String {
    let lower = header.to_ascii_lowercase();
    lower.strip_prefix("x-").unwrap_or(&lower).replace('-', "_")
}

/// A template variable.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Variable {
    /// `{access_token}`.
    AccessToken,
    /// `{user_id}`.
    UserId,
    /// `{user_id_hash}`.
    UserIdHash,
    /// `{extra.NAME}`: the header name as written in the server's `extras`, lower-cased.
    Extra(String),
}

impl fmt::Display for Variable {
    /// The variable as written in a template, braces included: `{extra.x-tenant-id}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AccessToken => f.write_str("{access_token}"),
            Self::UserId => f.write_str("{user_id}"),
            Self::UserIdHash => f.write_str("{user_id_hash}"),
            Self::Extra(name) => write!(f, "{{extra.{name}}}"),
        }
    }
}

/// Where a rendered template is used; each place has its own [safety rules](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// A command-line argument of a stdio server.
    Arg,
    /// An environment variable value of a stdio server.
    Env,
    /// The working directory of a stdio server.
    Cwd,
    /// A request header value sent to an HTTP server.
    Header,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Arg => "an argument",
            Self::Env => "an environment variable",
            Self::Cwd => "the working directory",
            Self::Header => "a header value",
        })
    }
}

/// The values a template is rendered with: one user's.
#[derive(Clone, Copy)]
pub struct TemplateVars<'a> {
    /// The caller's upstream credential (empty when no token resolver is configured).
    pub access_token: &'a Secret,
    /// The authenticated user id.
    pub user_id: &'a str,
    /// [`user_id_hash`] of the user id.
    pub user_id_hash: &'a str,
    /// The allow-listed request values of the request that created the instance.
    pub extras: &'a Extras,
}

impl TemplateVars<'_> {
    fn value(&self, variable: &Variable) -> &str {
        match variable {
            Variable::AccessToken => self.access_token.expose(),
            Variable::UserId => self.user_id,
            Variable::UserIdHash => self.user_id_hash,
            Variable::Extra(name) => self.extras.get(&extra_key(name)).unwrap_or(""),
        }
    }
}

/// Why a template could not be rendered for a user. The message names the variable and the
/// rule that refused its value, never the value itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The value contains a NUL byte.
    #[error(
        "the value of {variable} contains a NUL byte, which no argument, environment variable, \
         path or header can hold"
    )]
    Nul {
        /// The variable whose value was refused.
        variable: Variable,
    },
    /// The value contains CR or LF.
    #[error("the value of {variable} contains a line break (CR or LF), refused in {position}")]
    LineBreak {
        /// The variable whose value was refused.
        variable: Variable,
        /// Where the template is used.
        position: Position,
    },
    /// The value would begin an argument with `-`.
    #[error(
        "the value of {variable} would begin the argument with `-` and be read as an option \
         (argument injection); begin the template with literal text, e.g. `--name={variable}`"
    )]
    LeadingDash {
        /// The variable whose value was refused.
        variable: Variable,
    },
    /// The value could leave the directory a path names.
    #[error(
        "the value of {variable} is empty, `.` or `..`, or contains `/` or `\\`, which in a path \
         could leave the intended directory (path traversal); {{user_id_hash}} is always safe \
         in paths"
    )]
    PathTraversal {
        /// The variable whose value was refused.
        variable: Variable,
    },
    /// The value is not a valid HTTP header value.
    #[error(
        "the value of {variable} is not a valid HTTP header value (visible ASCII characters, \
         spaces and tabs)"
    )]
    InvalidHeader {
        /// The variable whose value was refused.
        variable: Variable,
    },
}

#[derive(Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Var(Variable),
}

/// A parsed template; see the [module docs](self) for the syntax and the safety rules.
///
/// `Debug` shows the variables only: literal text may hold a secret (a fixed API key in a
/// header).
#[derive(Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Template")
            .field("variables", &self.variables().map(ToString::to_string).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Template {
    /// Parses `text`. `key_path` names the config key in the problem reported (e.g.
    /// `servers[0].env.MEMORY_FILE_PATH`); `allowed_extras` are the header names the server's
    /// `extras` allow, which `{extra.NAME}` may use (compared case-insensitively).
    pub fn parse(
        text: &str,
        key_path: &str,
        allowed_extras: &[String],
    ) -> Result<Template, ConfigProblem> {
        let problem = |message: String| ConfigProblem::new(key_path, message);
        if text.contains('\0') {
            return Err(problem("contains a NUL byte, which no value can hold".into()));
        }
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '{' if chars.peek().is_some_and(|(_, next)| *next == '{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().is_some_and(|(_, next)| *next == '}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => {
                    return Err(problem(format!(
                        "a lone `}}` at byte {at}; write `}}}}` for a literal brace"
                    )));
                }
                '{' => {
                    let rest = &text[at + 1..];
                    let Some(end) =
                        rest.find(['{', '}']).filter(|end| rest[*end..].starts_with('}'))
                    else {
                        return Err(problem(format!(
                            "`{{` at byte {at} is not closed by `}}`; write `{{{{` for a literal \
                             brace"
                        )));
                    };
                    let name = &rest[..end];
                    for _ in 0..=name.chars().count() {
                        chars.next();
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Var(variable(name, allowed_extras).map_err(problem)?));
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Template { parts })
    }

    /// A template of literal text only (no variables, no brace escapes).
    pub fn literal(text: impl Into<String>) -> Template {
        let text = text.into();
        Template { parts: if text.is_empty() { Vec::new() } else { vec![Part::Literal(text)] } }
    }

    /// Renders the template with one user's values, for use at `position`, or refuses a value
    /// that breaks a [safety rule](self).
    pub fn render(
        &self,
        vars: &TemplateVars<'_>,
        position: Position,
    ) -> Result<String, RenderError> {
        let path = position == Position::Cwd
            || (position != Position::Header && self.literal_text().contains('/'));
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Var(variable) => {
                    let value = vars.value(variable);
                    check_value(variable, value, position, path, out.is_empty())?;
                    out.push_str(value);
                }
            }
        }
        Ok(out)
    }

    /// True when the template uses any variable: its value depends on who is calling.
    pub fn uses_identity(&self) -> bool {
        !self.is_literal()
    }

    /// True when the template uses `{access_token}`.
    pub fn uses_access_token(&self) -> bool {
        self.variables().any(|v| *v == Variable::AccessToken)
    }

    /// True when the template is fixed text (no variables).
    pub fn is_literal(&self) -> bool {
        self.variables().next().is_none()
    }

    /// The variables used, in order of appearance.
    pub fn variables(&self) -> impl Iterator<Item = &Variable> {
        self.parts.iter().filter_map(|part| match part {
            Part::Var(variable) => Some(variable),
            Part::Literal(_) => None,
        })
    }

    /// The literal text, variables left out (braces unescaped).
    pub fn literal_text(&self) -> String {
        self.parts
            .iter()
            .filter_map(|part| match part {
                Part::Literal(text) => Some(text.as_str()),
                Part::Var(_) => None,
            })
            .collect()
    }
}

/// The variable named `name` (the text between braces).
fn variable(name: &str, allowed_extras: &[String]) -> Result<Variable, String> {
    match name {
        "access_token" => return Ok(Variable::AccessToken),
        "user_id" => return Ok(Variable::UserId),
        "user_id_hash" => return Ok(Variable::UserIdHash),
        _ => {}
    }
    if let Some(extra) = name.strip_prefix("extra.").filter(|extra| !extra.is_empty()) {
        if allowed_extras.iter().any(|allowed| allowed.eq_ignore_ascii_case(extra)) {
            return Ok(Variable::Extra(extra.to_ascii_lowercase()));
        }
        let hint = did_you_mean(extra, allowed_extras.iter().map(String::as_str))
            .map(|close| format!("; did you mean {{extra.{close}}}?"))
            .unwrap_or_default();
        let allowed = if allowed_extras.is_empty() {
            "none".to_owned()
        } else {
            allowed_extras.iter().map(|e| format!("\"{e}\"")).collect::<Vec<_>>().join(", ")
        };
        return Err(format!(
            "{{extra.{extra}}} names a header that is not in this server's extras (allowed: \
             {allowed}); add \"{extra}\" to extras to use it{hint}"
        ));
    }
    let extras: Vec<String> = allowed_extras.iter().map(|e| format!("extra.{e}")).collect();
    let candidates = VARIABLES.iter().copied().chain(extras.iter().map(String::as_str));
    let hint = did_you_mean(name, candidates)
        .map(|close| format!("did you mean {{{close}}}? "))
        .unwrap_or_default();
    if name.is_empty() {
        return Err(format!("empty `{{}}`; write `{{{{}}}}` for literal braces; known: {KNOWN}"));
    }
    Err(format!("unknown template variable {{{name}}}; {hint}known: {KNOWN}"))
}

/// Applies the safety rules to one substituted value.
fn check_value(
    variable: &Variable,
    value: &str,
    position: Position,
    path: bool,
    starts_argument: bool,
) -> Result<(), RenderError> {
    let variable = || variable.clone();
    if value.contains('\0') {
        return Err(RenderError::Nul { variable: variable() });
    }
    if value.contains(['\r', '\n']) {
        return Err(RenderError::LineBreak { variable: variable(), position });
    }
    if position == Position::Header && http::HeaderValue::from_str(value).is_err() {
        return Err(RenderError::InvalidHeader { variable: variable() });
    }
    if path && (matches!(value, "" | "." | "..") || value.contains(['/', '\\'])) {
        return Err(RenderError::PathTraversal { variable: variable() });
    }
    if position == Position::Arg && starts_argument && value.starts_with('-') {
        return Err(RenderError::LeadingDash { variable: variable() });
    }
    Ok(())
}
