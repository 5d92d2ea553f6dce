//! The gateway's config templates (`mcp_auth_gateway::template`): arbitrary template text
//! parsed, then rendered in every position with arbitrary values.
//!
//! The input is fields separated by `0xFF` (a byte no UTF-8 text contains): the template text,
//! then the values of `{access_token}`, `{user_id}`, `{extra.x-a}` and `{extra.x-b}` (the two
//! allow-listed extras). Fields are read as UTF-8, invalid bytes replaced.
//!
//! Checks: no panic; every successful render holds no NUL; a line break only where the
//! template's own text has one; in an argument, a leading `-` only from the template's text; a
//! header value valid whenever the template's text is; in the working directory, no `/` or `\`
//! beyond the template's own, and a `..` segment only where the template's text has `..`; and a
//! refusal never quotes a (long) value.
#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use mcp_auth::{Secret, extras::Extras};
use mcp_auth_gateway::template::{Position, Template, TemplateVars, user_id_hash};

const POSITIONS: [Position; 4] = [Position::Arg, Position::Env, Position::Cwd, Position::Header];

fuzz_target!(|data: &[u8]| {
    let mut fields = data.split(|&b| b == 0xFF).map(String::from_utf8_lossy);
    let mut next = || fields.next().unwrap_or(Cow::Borrowed(""));
    let text = next();
    let (token, user, extra_a, extra_b) = (next(), next(), next(), next());
    let allowed = ["x-a".to_owned(), "x-b".to_owned()];
    let Ok(template) = Template::parse(&text, "servers[0].args[0]", &allowed) else { return };
    let literal = template.literal_text();

    let access_token = Secret::new(token.as_ref());
    let hash = user_id_hash(&user);
    let extras = Extras::from_pairs([("a", extra_a.as_ref()), ("b", extra_b.as_ref())]);
    let vars = TemplateVars {
        access_token: &access_token,
        user_id: &user,
        user_id_hash: &hash,
        extras: &extras,
    };
    let values = [token.as_ref(), user.as_ref(), extra_a.as_ref(), extra_b.as_ref()];

    for position in POSITIONS {
        let out = match template.render(&vars, position) {
            Ok(out) => out,
            Err(error) => {
                let message = format!("{error} {error:?}");
                for value in values.iter().filter(|v| v.len() >= 20) {
                    assert!(!message.contains(*value), "a refusal quotes a value: {message}");
                }
                continue;
            }
        };
        assert!(!out.contains('\0'), "NUL in {position:?}");
        if !literal.contains(['\r', '\n']) {
            assert!(!out.contains(['\r', '\n']), "line break from a value in {position:?}");
        }
        match position {
            Position::Arg if out.starts_with('-') => {
                assert!(literal.starts_with('-'), "leading dash from a value");
            }
            Position::Header if http::HeaderValue::from_str(&literal).is_ok() => {
                assert!(http::HeaderValue::from_str(&out).is_ok(), "invalid header value");
            }
            Position::Cwd => {
                for separator in ['/', '\\'] {
                    assert_eq!(
                        out.matches(separator).count(),
                        literal.matches(separator).count(),
                        "a `{separator}` from a value in the working directory"
                    );
                }
                if out.split(['/', '\\']).any(|segment| segment == "..") {
                    assert!(literal.contains(".."), "a `..` segment made of values");
                }
            }
            _ => {}
        }
    }
});
