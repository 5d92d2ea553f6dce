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
//! refusal never quotes a value, not even its first or last part.
#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use mcp_auth::{Secret, extras::Extras};
use mcp_auth_gateway::template::{Position, RenderError, Template, TemplateVars, user_id_hash};

const POSITIONS: [Position; 4] = [Position::Arg, Position::Env, Position::Cwd, Position::Header];

fuzz_target!(|data: &[u8]| {
    let mut fields = data.split(|&b| b == 0xFF).map(String::from_utf8_lossy);
    let mut next = || fields.next().unwrap_or(Cow::Borrowed(""));
    let text = next();
    let (token, user, extra_a, extra_b) = (next(), next(), next(), next());
    let allowed = ["x-a".to_owned(), "x-b".to_owned()];
    let Ok(template) = Template::parse(&text, "servers[0].args[0]", &allowed) else { return };
    let literal = template.literal_text();
    let values = [token.as_ref(), user.as_ref(), extra_a.as_ref(), extra_b.as_ref()];

    for position in POSITIONS {
        let out = match render(&template, position, values) {
            Ok(out) => out,
            Err(_) => {
                assert_no_refusal_quotes_a_value(&template, position, values);
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

/// Marks the values of a re-render so that a quote is told apart from the refusal's fixed
/// wording: the fuzzer can make a value that *is* a piece of that wording (it did: "the value
/// of {user_id} is"), but no wording holds this mark. ASCII letters and digits, so the mark
/// changes no refusal's cause (separators, line breaks, a leading `-` when marked at the end) —
/// except for a value that is empty, `.` or `..`, which stays unmarked (and is too short to
/// count as a quote).
const MARK: &str = "Qz7QUOTEDk3X";

/// Renders again with every value marked at its start, then at its end, and checks that no
/// refusal holds the mark.
fn assert_no_refusal_quotes_a_value(template: &Template, position: Position, values: [&str; 4]) {
    let mark =
        |v: &str, marked: String| if matches!(v, "" | "." | "..") { v.to_owned() } else { marked };
    let marked_at_start = values.map(|v| mark(v, format!("{MARK}{v}")));
    let marked_at_end = values.map(|v| mark(v, format!("{v}{MARK}")));
    for marked in [marked_at_start, marked_at_end] {
        if let Err(error) = render(template, position, marked.each_ref().map(String::as_str)) {
            let message = format!("{error} {error:?}");
            assert!(!message.contains(MARK), "a refusal quotes a value: {message}");
        }
    }
}

/// `values`: `{access_token}`, `{user_id}`, `{extra.x-a}`, `{extra.x-b}`.
fn render(
    template: &Template,
    position: Position,
    values: [&str; 4],
) -> Result<String, RenderError> {
    let [token, user, extra_a, extra_b] = values;
    let access_token = Secret::new(token);
    let hash = user_id_hash(user);
    let extras = Extras::from_pairs([("a", extra_a), ("b", extra_b)]);
    let vars = TemplateVars {
        access_token: &access_token,
        user_id: user,
        user_id_hash: &hash,
        extras: &extras,
    };
    template.render(&vars, position)
}
