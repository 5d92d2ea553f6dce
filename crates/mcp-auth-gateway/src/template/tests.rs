use mcp_auth::{Secret, extras::Extras};

use super::*;

const KEY: &str = "servers[0].env.X";

fn parse(text: &str) -> Template {
    Template::parse(text, KEY, &["x-tenant-id".to_owned()]).unwrap()
}

fn parse_err(text: &str) -> String {
    Template::parse(text, KEY, &["x-tenant-id".to_owned()]).unwrap_err().to_string()
}

/// Renders `text` for user `user` with access token `token` and extra `x-tenant-id` = `tenant`.
fn render(
    text: &str,
    position: Position,
    user: &str,
    token: &str,
    tenant: &str,
) -> Result<String, RenderError> {
    let token = Secret::new(token);
    let extras = Extras::from_pairs([("tenant_id", tenant)]);
    let hash = user_id_hash(user);
    let vars =
        TemplateVars { access_token: &token, user_id: user, user_id_hash: &hash, extras: &extras };
    parse(text).render(&vars, position)
}

fn ok(text: &str, position: Position, user: &str) -> String {
    render(text, position, user, "tok", "acme").unwrap()
}

#[test]
fn every_variable_is_substituted() {
    let out =
        ok("{access_token}|{user_id}|{user_id_hash}|{extra.x-tenant-id}", Position::Env, "alice");
    assert_eq!(out, "tok|alice|2bd806c97f0e00af|acme");
}

#[test]
fn user_id_hash_is_16_hex_digits_of_sha256() {
    assert_eq!(user_id_hash("alice"), "2bd806c97f0e00af");
    assert_eq!(user_id_hash("").len(), 16);
    assert!(user_id_hash("../../etc").bytes().all(|b| b.is_ascii_hexdigit()));
}

#[test]
fn doubled_braces_are_literal_braces() {
    let template = parse("{{user_id}} is {{{user_id}}}");
    assert_eq!(template.variables().count(), 1);
    assert_eq!(ok("{{user_id}} is {{{user_id}}}", Position::Env, "bob"), "{user_id} is {bob}");
    assert!(parse("{{}}").is_literal());
}

#[test]
fn an_unknown_variable_lists_the_known_ones_and_suggests_the_closest() {
    assert_eq!(
        parse_err("Bearer {acess_token}"),
        "servers[0].env.X: unknown template variable {acess_token}; did you mean \
         {access_token}? known: {access_token}, {user_id}, {user_id_hash}, {extra.NAME} for \
         NAME in extras"
    );
    assert_eq!(
        parse_err("{password}"),
        "servers[0].env.X: unknown template variable {password}; known: {access_token}, \
         {user_id}, {user_id_hash}, {extra.NAME} for NAME in extras"
    );
}

#[test]
fn an_extra_must_be_allow_listed() {
    assert_eq!(
        parse_err("{extra.x-tenant}"),
        "servers[0].env.X: {extra.x-tenant} names a header that is not in this server's extras \
         (allowed: \"x-tenant-id\"); add \"x-tenant\" to extras to use it; did you mean \
         {extra.x-tenant-id}?"
    );
    let none = Template::parse("{extra.x-a}", KEY, &[]).unwrap_err();
    assert!(none.message.contains("(allowed: none)"), "{none}");
    assert_eq!(
        parse("{extra.X-Tenant-Id}").variables().next(),
        Some(&Variable::Extra("x-tenant-id".into()))
    );
}

#[test]
fn unbalanced_braces_and_nul_are_refused_at_parse_time() {
    assert!(parse_err("a}b").contains("a lone `}`"));
    assert!(parse_err("{user_id").contains("is not closed"));
    assert!(parse_err("{a{user_id}").contains("is not closed"));
    assert!(parse_err("{}").contains("empty `{}`"));
    assert!(parse_err("a\0b").contains("NUL"));
}

#[test]
fn a_missing_extra_renders_empty_outside_paths() {
    assert_eq!(render("t={extra.x-tenant-id}", Position::Env, "a", "", "").unwrap(), "t=");
}

#[test]
fn nul_and_line_breaks_are_refused_everywhere() {
    for position in [Position::Arg, Position::Env, Position::Cwd, Position::Header] {
        let nul = render("a{access_token}", position, "u", "x\0y", "t").unwrap_err();
        assert!(matches!(nul, RenderError::Nul { .. }), "{position:?}");
        for bad in ["x\ny", "x\ry"] {
            let err = render("a{access_token}", position, "u", bad, "t").unwrap_err();
            assert!(matches!(err, RenderError::LineBreak { .. }), "{position:?}");
        }
    }
}

#[test]
fn an_argument_may_not_begin_with_a_dash_from_a_value() {
    let err = render("{user_id}", Position::Arg, "--config=/etc/shadow", "", "t").unwrap_err();
    assert_eq!(err, RenderError::LeadingDash { variable: Variable::UserId });
    // An empty value first does not hide the next one.
    let err = render("{extra.x-tenant-id}{user_id}", Position::Arg, "-x", "", "").unwrap_err();
    assert_eq!(err, RenderError::LeadingDash { variable: Variable::UserId });
    // Literal text first, or another position: the author chose it.
    assert_eq!(ok("--user={user_id}", Position::Arg, "-x"), "--user=-x");
    assert_eq!(ok("{user_id}", Position::Env, "-x"), "-x");
    assert_eq!(ok("-{user_id}", Position::Arg, "v"), "-v");
}

#[test]
fn a_path_value_may_not_traverse() {
    for user in ["a/b", "..", ".", "a\\b", "/etc"] {
        let err = render("{user_id}", Position::Cwd, user, "", "t").unwrap_err();
        assert_eq!(err, RenderError::PathTraversal { variable: Variable::UserId }, "{user:?}");
        let err = render("/srv/{user_id}/data", Position::Arg, user, "", "t").unwrap_err();
        assert_eq!(err, RenderError::PathTraversal { variable: Variable::UserId }, "{user:?}");
        let err = render("/tmp/{user_id}.json", Position::Env, user, "", "t").unwrap_err();
        assert_eq!(err, RenderError::PathTraversal { variable: Variable::UserId }, "{user:?}");
    }
    // An empty value would name the parent, shared by every user.
    let err = render("/srv/{extra.x-tenant-id}", Position::Cwd, "u", "", "").unwrap_err();
    assert!(matches!(err, RenderError::PathTraversal { .. }));
    assert_eq!(ok("/srv/{user_id}", Position::Cwd, "a..b"), "/srv/a..b");
    assert_eq!(ok("/srv/{user_id_hash}", Position::Cwd, "../../etc"), "/srv/74ccf3c5b4c19a81");
}

#[test]
fn the_path_rule_applies_only_where_the_text_is_a_path() {
    assert_eq!(ok("{user_id}", Position::Env, "a/b"), "a/b");
    assert_eq!(ok("--user={user_id}", Position::Arg, "a/b"), "--user=a/b");
    assert_eq!(
        ok("https://x.example/{user_id}", Position::Header, "a/.."),
        "https://x.example/a/.."
    );
}

#[test]
fn a_header_value_must_be_valid() {
    let err = render("Bearer {access_token}", Position::Header, "u", "a\u{7f}b", "t").unwrap_err();
    assert_eq!(err, RenderError::InvalidHeader { variable: Variable::AccessToken });
    assert_eq!(
        render("Bearer {access_token}", Position::Header, "u", "abc", "t").unwrap(),
        "Bearer abc"
    );
}

#[test]
fn errors_name_the_variable_and_rule_never_the_value() {
    let secret = "s3cr3t-token\n";
    let err = render("{access_token}", Position::Env, "u", secret, "t").unwrap_err();
    let message = format!("{err} {err:?}");
    assert!(message.contains("{access_token}") && message.contains("line break"), "{message}");
    assert!(!message.contains("s3cr3t"), "{message}");
    let dash = render("{user_id}", Position::Arg, "-rf", "", "t").unwrap_err().to_string();
    assert!(dash.contains("`--name={user_id}`") && !dash.contains("-rf"), "{dash}");
}

#[test]
fn introspection_reports_what_a_template_uses() {
    assert!(parse("plain").is_literal() && !parse("plain").uses_identity());
    assert!(parse("{user_id_hash}").uses_identity());
    assert!(parse("Bearer {access_token}").uses_access_token());
    assert!(!parse("{user_id}").uses_access_token());
    assert_eq!(parse("/a/{user_id}/b").literal_text(), "/a//b");
    assert_eq!(Template::literal("x").literal_text(), "x");
}

#[test]
fn debug_output_hides_literal_text() {
    let template = parse("Bearer sk-live-123 {user_id}");
    let debug = format!("{template:?}");
    assert!(debug.contains("{user_id}") && !debug.contains("sk-live"), "{debug}");
}

#[test]
fn extra_keys_follow_the_allow_list_naming() {
    assert_eq!(extra_key("X-Tenant-Id"), "tenant_id");
    assert_eq!(extra_key("workspace"), "workspace");
}
