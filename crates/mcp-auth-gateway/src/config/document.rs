//! From TOML text to the raw sections, every mistake located by its key path.
//!
//! The text is parsed once into toml's span-preserving tree. Unknown keys are found by walking
//! that tree against the fields serde expects (all of them, with a "did you mean"), then each
//! section — and each `[[servers]]` entry — is deserialized on its own, so that a mistake in
//! one does not hide the others. serde reports where it failed as a byte span; the tree turns
//! the span back into a key path such as `servers[1].instances.idle_timeout`.

use std::ops::Range;

use serde::de::{self, DeserializeOwned, Visitor};
use toml::{
    Spanned,
    de::{DeTable, DeValue},
};

use super::{
    ConfigProblem, ConfigReport, did_you_mean,
    raw::{
        RawAuth, RawConfig, RawCredentials, RawInstances, RawLimits, RawLog, RawProgress,
        RawRateLimit, RawRedis, RawServer, RawServerEntry,
    },
};

/// The sections of a file: `Some` when read (or absent, hence the default), `None` when the
/// section has a problem already reported.
pub(crate) struct Sections {
    pub server: Option<RawServer>,
    pub auth: Option<RawAuth>,
    pub credentials: Option<RawCredentials>,
    /// One item per `[[servers]]` entry, `None` for an entry with a problem; `None` as a whole
    /// when `servers` is not an array of tables.
    pub servers: Option<Vec<Option<RawServerEntry>>>,
    /// `[log]`.
    pub log: Option<RawLog>,
    /// `[redis]`: `Some(None)` when the file has none.
    pub redis: Option<Option<RawRedis>>,
}

/// Reads `text` into its sections, reporting syntax errors, unknown keys and wrongly typed
/// values. `None` when the text is not TOML at all.
pub(crate) fn read(text: &str, report: &mut ConfigReport) -> Option<Sections> {
    let root = match DeTable::parse(text) {
        Ok(root) => root.into_inner(),
        Err(error) => {
            let at = error.span().map_or(String::from("(file)"), |span| line_column(text, span));
            report.push(ConfigProblem::new(at, format!("not valid TOML: {}", error.message())));
            return None;
        }
    };
    let mut unknown = Vec::new();
    unknown_keys(&root, &mut unknown);
    unknown.sort_by_key(|(at, _)| *at);
    report.problems.extend(unknown.into_iter().map(|(_, problem)| problem));

    let mut sections = Sections {
        server: Some(Default::default()),
        auth: Some(Default::default()),
        credentials: Some(Default::default()),
        servers: Some(Vec::new()),
        log: Some(Default::default()),
        redis: Some(None),
    };
    for (key, value) in root.iter() {
        match key.get_ref().as_ref() {
            "server" => sections.server = section(value, "server", report),
            "auth" => sections.auth = section(value, "auth", report),
            "credentials" => sections.credentials = section(value, "credentials", report),
            "log" => sections.log = section(value, "log", report),
            "redis" => sections.redis = section(value, "redis", report).map(Some),
            "servers" => match value.get_ref() {
                DeValue::Array(entries) => {
                    let entries = entries.iter().enumerate();
                    sections.servers = Some(
                        entries
                            .map(|(i, e)| section(e, &format!("servers[{i}]"), report))
                            .collect(),
                    );
                }
                _ => {
                    report.push(ConfigProblem::new(
                        "servers",
                        "expected [[servers]] tables, one per upstream server",
                    ));
                    sections.servers = None;
                }
            },
            _ => {} // reported by `unknown_keys`
        }
    }
    Some(sections)
}

/// `line L, column C` of a byte offset, for syntax errors (no key path exists yet).
fn line_column(text: &str, span: Range<usize>) -> String {
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}")
}

/// Deserializes one table, or reports why it cannot be.
fn section<T: DeserializeOwned>(
    value: &Spanned<DeValue<'_>>,
    path: &str,
    report: &mut ConfigReport,
) -> Option<T> {
    let DeValue::Table(table) = value.get_ref() else {
        report.push(ConfigProblem::new(path, "expected a table"));
        return None;
    };
    let document = toml::de::Deserializer::from(Spanned::new(value.span(), table.clone()));
    match T::deserialize(document) {
        Ok(section) => Some(section),
        Err(error) => {
            if let Some(problem) = serde_problem(&error, table, path)
                && report.at(&problem.key).is_none()
            {
                report.push(problem);
            }
            None
        }
    }
}

/// A problem for serde's error, located by its span; `None` for an unknown key (the walker
/// reported every one of those already).
fn serde_problem(
    error: &toml::de::Error,
    table: &DeTable<'_>,
    path: &str,
) -> Option<ConfigProblem> {
    let message = error.message();
    let key = error
        .span()
        .and_then(|span| path_in_table(table, span.start))
        .map_or_else(|| path.to_owned(), |inner| join(path, &inner));
    if message.starts_with("unknown field") {
        return None;
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        let field = backticked(rest).into_iter().next().unwrap_or_default();
        return Some(ConfigProblem::new(join(&key, field), "required key is missing"));
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let mut words = backticked(rest).into_iter();
        let got = words.next().unwrap_or_default();
        let expected: Vec<&str> = words.collect();
        let hint = match did_you_mean(got, expected.iter().copied()) {
            Some(close) => format!("did you mean \"{close}\"?"),
            None => format!("expected one of: {}", expected.join(", ")),
        };
        return Some(ConfigProblem::new(key, format!("unknown value \"{got}\"; {hint}")));
    }
    Some(ConfigProblem::new(key, message.trim_end()))
}

/// The words between backticks in serde's messages (`` unknown variant `x`, expected `a` ``).
fn backticked(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// `prefix.key`, or `key` alone at the top level; array indexes attach without a dot.
fn join(prefix: &str, key: &str) -> String {
    match (prefix.is_empty(), key.starts_with('[')) {
        (true, _) => key.to_owned(),
        (false, true) => format!("{prefix}{key}"),
        (false, false) => format!("{prefix}.{key}"),
    }
}

/// The key path (relative to `table`) of the deepest key or value covering byte `at`.
fn path_in_table(table: &DeTable<'_>, at: usize) -> Option<String> {
    table.iter().find_map(|(key, value)| {
        let name = key.get_ref().as_ref();
        if let Some(inner) = path_in_value(value.get_ref(), at) {
            return Some(format!("{name}{inner}"));
        }
        (key.span().contains(&at) || value.span().contains(&at)).then(|| name.to_owned())
    })
}

/// The path inside `value` covering `at`, starting with `.` or `[`.
fn path_in_value(value: &DeValue<'_>, at: usize) -> Option<String> {
    match value {
        DeValue::Table(table) => path_in_table(table, at).map(|inner| format!(".{inner}")),
        DeValue::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            path_in_value(item.get_ref(), at)
                .map(|inner| format!("[{i}]{inner}"))
                .or_else(|| item.span().contains(&at).then(|| format!("[{i}]")))
        }),
        _ => None,
    }
}

/// Every key the raw structs do not know, with its byte offset (to sort by).
fn unknown_keys(root: &DeTable<'_>, out: &mut Vec<(usize, ConfigProblem)>) {
    check_keys(root, "", fields_of::<RawConfig>(), out);
    let sections = [
        ("server", Some("limits")),
        ("auth", None),
        ("credentials", None),
        ("log", None),
        ("redis", None),
    ];
    for (name, nested) in sections {
        let Some(table) = table_at(root, name) else { continue };
        let fields = match name {
            "server" => fields_of::<RawServer>(),
            "auth" => fields_of::<RawAuth>(),
            "log" => fields_of::<RawLog>(),
            "redis" => fields_of::<RawRedis>(),
            _ => fields_of::<RawCredentials>(),
        };
        check_keys(table, name, fields, out);
        if let Some(limits) = nested.and_then(|nested| table_at(table, nested)) {
            check_keys(limits, "server.limits", fields_of::<RawLimits>(), out);
        }
        if let Some(progress) = (name == "server").then(|| table_at(table, "progress")).flatten() {
            check_keys(progress, "server.progress", fields_of::<RawProgress>(), out);
        }
    }
    let servers = root.iter().find(|(k, _)| k.get_ref() == "servers").map(|(_, v)| v.get_ref());
    let Some(DeValue::Array(entries)) = servers else { return };
    for (i, entry) in entries.iter().enumerate() {
        let DeValue::Table(entry) = entry.get_ref() else { continue };
        let path = format!("servers[{i}]");
        check_keys(entry, &path, fields_of::<RawServerEntry>(), out);
        if let Some(table) = table_at(entry, "instances") {
            check_keys(table, &format!("{path}.instances"), fields_of::<RawInstances>(), out);
        }
        if let Some(table) = table_at(entry, "rate_limit") {
            check_keys(table, &format!("{path}.rate_limit"), fields_of::<RawRateLimit>(), out);
        }
    }
}

fn table_at<'a, 'i>(table: &'a DeTable<'i>, name: &str) -> Option<&'a DeTable<'i>> {
    table.iter().find(|(k, _)| k.get_ref() == name).and_then(|(_, v)| match v.get_ref() {
        DeValue::Table(table) => Some(table),
        _ => None,
    })
}

fn check_keys(
    table: &DeTable<'_>,
    path: &str,
    fields: &[&str],
    out: &mut Vec<(usize, ConfigProblem)>,
) {
    for (key, _) in table.iter() {
        let name = key.get_ref().as_ref();
        if fields.contains(&name) {
            continue;
        }
        let message = match did_you_mean(name, fields.iter().copied()) {
            Some(close) => format!("unknown key; did you mean \"{close}\"?"),
            None => format!("unknown key; expected one of: {}", fields.join(", ")),
        };
        out.push((key.span().start, ConfigProblem::new(join(path, name), message)));
    }
}

/// The field names a derived `Deserialize` struct expects: serde hands them to
/// `deserialize_struct`, which this deserializer records instead of reading anything.
pub(super) fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Introspect { fields: &mut fields });
    fields
}

struct Introspect<'a> {
    fields: &'a mut &'static [&'static str],
}

impl<'de> de::Deserializer<'de> for Introspect<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("introspection only"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.fields = fields;
        Err(de::Error::custom("introspection only"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_fields_are_introspected() {
        let fields = fields_of::<RawRateLimit>();
        assert_eq!(fields, ["per_second", "burst", "enabled", "shared", "fail_mode"]);
    }

    #[test]
    fn a_span_maps_back_to_its_key_path() {
        let text = "[[servers]]\nname = \"a\"\n[[servers]]\nname = \"b\"\n[servers.instances]\n\
                    idle_timeout = \"x\"\n";
        let root = DeTable::parse(text).unwrap().into_inner();
        let at = text.find("\"x\"").unwrap();
        assert_eq!(path_in_table(&root, at).as_deref(), Some("servers[1].instances.idle_timeout"));
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let mut report = ConfigReport::new("f");
        assert!(read("[server]\nlisten = \n", &mut report).is_none());
        assert!(report.problems[0].key.starts_with("line 2, column"), "{report}");
    }
}
