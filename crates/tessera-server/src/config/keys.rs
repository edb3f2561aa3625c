//! The configuration's keys, read from the config structs themselves: their
//! order from serialising [`Config::default`], their documentation and
//! examples from the JSON Schema that `schemars` derives from the doc
//! comments. Three things are built on them, so none can drift from the code:
//!
//! - [`example_toml`]: `tessera.example.toml`, every key with its default and
//!   what it does (`tessera config --example`; a test compares the file);
//! - [`check_environment`]: a `TESSERA_*` variable that looks like
//!   configuration but names no key is an error that suggests the nearest
//!   key, instead of being silently ignored;
//! - [`explain`]: `tessera config`, the configuration in effect, where each
//!   value came from, secrets redacted.

use super::Config;
use figment::Figment;
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// One key of a section.
#[derive(Debug, Clone)]
pub struct Key {
    /// The key's name in its section (`bind`).
    pub name: String,
    /// Its doc comment.
    pub description: String,
    /// A table of any keys (`throttle.rates`).
    pub table: bool,
    /// An example value (from `#[schemars(example)]`), for keys unset by default.
    pub example: Option<Json>,
}

/// One `[section]`.
#[derive(Debug, Clone)]
pub struct Section {
    /// The section's name (`server`).
    pub name: String,
    /// Its doc comment.
    pub description: String,
    /// Its keys, in declaration order (keys unset by default last).
    pub keys: Vec<Key>,
}

/// Non-configuration `TESSERA_*` variables that Tessera itself reads; named
/// in the error so that nobody renames one into a configuration key.
pub const OTHER_VARIABLES: [&str; 4] = [
    "TESSERA_DATA_DIR",
    "TESSERA_SUPERUSER_PASSWORD",
    "TESSERA_LOG_FORMAT",
    "TESSERA_TEST_DATABASE_URL",
];

/// Every section and key of [`Config`], worked out once per process.
pub fn sections() -> &'static [Section] {
    static SECTIONS: std::sync::OnceLock<Vec<Section>> = std::sync::OnceLock::new();
    SECTIONS.get_or_init(read_sections)
}

fn read_sections() -> Vec<Section> {
    let schema = schemars::schema_for!(Config);
    let schema = schema.as_value();
    let defs = schema.get("$defs").cloned().unwrap_or(Json::Null);
    let resolve = |node: &Json| -> Json {
        match node.get("$ref").and_then(Json::as_str) {
            Some(reference) => reference
                .strip_prefix("#/$defs/")
                .and_then(|name| defs.get(name))
                .cloned()
                .unwrap_or(Json::Null),
            None => node.clone(),
        }
    };
    let defaults = defaults_document();
    let mut sections = Vec::new();
    for (name, item) in defaults.iter() {
        let Some(node) = schema.pointer(&format!("/properties/{name}")) else {
            continue;
        };
        let def = resolve(node);
        let properties = def
            .get("properties")
            .and_then(Json::as_object)
            .cloned()
            .unwrap_or_default();
        let present: Vec<String> = item
            .as_table_like()
            .map(|t| t.iter().map(|(k, _)| k.to_owned()).collect())
            .unwrap_or_default();
        let absent = properties.keys().filter(|k| !present.contains(k)).cloned();
        let keys = present
            .iter()
            .cloned()
            .chain(absent)
            .map(|key| {
                let property = properties.get(&key).cloned().unwrap_or(Json::Null);
                let resolved = resolve(&property);
                Key {
                    description: text(&property)
                        .or_else(|| text(&resolved))
                        .unwrap_or_default(),
                    table: resolved.get("additionalProperties").is_some(),
                    example: property.get("examples").and_then(|e| e.get(0)).cloned(),
                    name: key,
                }
            })
            .collect();
        sections.push(Section {
            name: name.to_owned(),
            description: text(&def).unwrap_or_default(),
            keys,
        });
    }
    sections
}

fn text(node: &Json) -> Option<String> {
    node.get("description")
        .and_then(Json::as_str)
        .map(str::to_owned)
}

/// [`Config::default`] as a TOML document, in declaration order.
fn defaults_document() -> toml_edit::DocumentMut {
    document(&Config::default())
}

fn document(config: &Config) -> toml_edit::DocumentMut {
    // Serialising plain structs of strings, numbers and tables cannot fail.
    toml_edit::ser::to_document(config).unwrap_or_default()
}

/// `tessera.example.toml`: every key, its default, and its documentation.
pub fn example_toml() -> String {
    let defaults = defaults_document();
    let mut out = String::new();
    out.push_str(
        "# Tessera's configuration: every key, its default, and what it does.\n\
         #\n\
         # `tessera --config FILE` reads a file like this one (keys left out keep\n\
         # their defaults). An environment variable named after a key's path\n\
         # overrides the file: TESSERA_<SECTION>__<KEY>, two underscores, e.g.\n\
         # TESSERA_DATABASE__URL for database.url; lists and tables are written as in\n\
         # TOML: TESSERA_SERVER__ALLOWED_HOSTS='[\"api.example.com\"]'.\n\
         # `tessera config` prints the configuration in effect and where each value\n\
         # comes from.\n\
         #\n\
         # Generated from the code by `tessera config --example`; a test fails when\n\
         # this file and the code disagree.\n",
    );
    for section in sections() {
        out.push('\n');
        comment(&mut out, &section.description);
        out.push_str(&format!("[{}]\n", section.name));
        let values = defaults.get(&section.name).and_then(|i| i.as_table_like());
        let mut tables = Vec::new();
        for key in &section.keys {
            if key.table {
                tables.push(key);
                continue;
            }
            out.push('\n');
            comment(&mut out, &key.description);
            match values
                .and_then(|t| t.get(&key.name))
                .and_then(|i| i.as_value())
            {
                Some(value) => out.push_str(&format!("{} = {}\n", key.name, inline(value))),
                None => {
                    out.push_str("# Unset by default. For example:\n");
                    out.push_str(&format!(
                        "# {} = {}\n",
                        key.name,
                        key.example.as_ref().map(json_inline).unwrap_or_default()
                    ));
                }
            }
        }
        for key in tables {
            out.push('\n');
            comment(&mut out, &key.description);
            out.push_str(&format!("[{}.{}]\n", section.name, key.name));
            if let Some(Json::Object(example)) = &key.example {
                out.push_str("# Empty by default. For example:\n");
                for (name, value) in example {
                    out.push_str(&format!("# {name} = {}\n", json_inline(value)));
                }
            }
        }
    }
    out
}

/// `text` as `#` lines of at most 79 columns.
fn comment(out: &mut String, text: &str) {
    for paragraph in text.split("\n\n") {
        let mut line = String::from("#");
        for word in paragraph.split_whitespace() {
            if line.len() > 1 && line.len() + 1 + word.len() > 79 {
                out.push_str(&line);
                out.push('\n');
                line = String::from("#");
            }
            line.push(' ');
            line.push_str(word);
        }
        out.push_str(&line);
        out.push('\n');
    }
}

fn inline(value: &toml_edit::Value) -> String {
    let mut value = value.clone();
    value.decor_mut().clear();
    value.to_string()
}

fn json_inline(value: &Json) -> String {
    // Examples are strings, numbers and tables of strings.
    match toml_edit::ser::to_string(value) {
        Ok(text) if !matches!(value, Json::Object(_)) => text,
        _ => match value {
            Json::String(s) => format!("{s:?}"),
            other => other.to_string(),
        },
    }
}

/// Every key's dotted path (`server.bind`), and whether it is a table.
fn paths() -> Vec<(String, bool)> {
    sections()
        .iter()
        .flat_map(|s| {
            s.keys
                .iter()
                .map(move |k| (format!("{}.{}", s.name, k.name), k.table))
        })
        .collect()
}

fn variable(path: &str) -> String {
    format!("TESSERA_{}", path.replace('.', "__").to_ascii_uppercase())
}

/// Checks the `TESSERA_*` variables among `vars`: one of the form
/// `TESSERA_SECTION__KEY` must name a key, and one that would name a key but
/// for its underscores (`TESSERA_DATABASE_URL`), or a near miss of one in a
/// known section (`TESSERA_DATABASE_ULR`), is refused. Each error suggests
/// the variable meant. Other `TESSERA_*` variables (`TESSERA_DATA_DIR`,
/// `TESSERA_SUPERUSER_PASSWORD`, a client's `TESSERA_URL`) are left alone.
pub fn check_environment<I, K>(vars: I) -> Result<(), String>
where
    I: IntoIterator<Item = K>,
    K: AsRef<str>,
{
    let paths = paths();
    let sections: Vec<&str> = sections().iter().map(|s| s.name.as_str()).collect();
    let mut errors = Vec::new();
    for name in vars {
        let name = name.as_ref();
        // figment matches the prefix whatever its case.
        let upper = name.to_ascii_uppercase();
        let Some(rest) = upper.strip_prefix("TESSERA_") else {
            continue;
        };
        if OTHER_VARIABLES.contains(&upper.as_str()) {
            continue;
        }
        let rest = rest.to_ascii_lowercase();
        if rest.contains("__") {
            let parts: Vec<&str> = rest.split("__").collect();
            let known = paths.iter().any(|(path, table)| {
                let mut wanted = path.split('.');
                let (section, key) = (wanted.next(), wanted.next());
                parts.len() >= 2
                    && section == Some(parts[0])
                    && key == Some(parts[1])
                    && (parts.len() == 2 || (*table && parts.len() == 3 && !parts[2].is_empty()))
            });
            if !known {
                let dotted = parts.join(".");
                errors.push(format!(
                    "{name} names no configuration key ({dotted}){}",
                    suggestion(&paths, &dotted)
                ));
            }
            continue;
        }
        // No double underscore: configuration only if it would name a key.
        for (at, _) in rest.match_indices('_') {
            let (section, key) = (&rest[..at], &rest[at + 1..]);
            if !sections.contains(&section) {
                continue;
            }
            let exact = paths.iter().find(|(path, table)| {
                path.strip_prefix(section)
                    .and_then(|p| p.strip_prefix('.'))
                    .is_some_and(|k| {
                        k == key
                            || (*table && key.strip_prefix(k).is_some_and(|r| r.starts_with('_')))
                    })
            });
            if let Some((path, table)) = exact {
                let meant = if *table && key.len() > path.len() - section.len() - 1 {
                    let entry = &key[path.len() - section.len()..];
                    format!("{}__{}", variable(path), entry.to_ascii_uppercase())
                } else {
                    variable(path)
                };
                errors.push(format!(
                    "{name} is not read: a configuration variable separates the section \
                     and the key with two underscores: {meant} ({path})"
                ));
                break;
            }
            let dotted = format!("{section}.{key}");
            if let Some(near) = nearest(&paths, &dotted, 2) {
                errors.push(format!(
                    "{name} is not read: did you mean {} ({near})?",
                    variable(&near)
                ));
                break;
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// The key nearest `dotted`, within `within` edits.
fn nearest(paths: &[(String, bool)], dotted: &str, within: usize) -> Option<String> {
    paths
        .iter()
        .map(|(path, _)| (strsim::levenshtein(path, dotted), path))
        .filter(|(distance, _)| *distance <= within)
        .min()
        .map(|(_, path)| path.clone())
}

fn suggestion(paths: &[(String, bool)], dotted: &str) -> String {
    let within = (dotted.len() / 3).max(3);
    match nearest(paths, dotted, within) {
        Some(near) => format!("; did you mean {} ({near})?", variable(&near)),
        None => "; tessera.example.toml lists every key".to_owned(),
    }
}

/// Where a value of the configuration in effect came from.
pub fn source(figment: &Figment, overrides: &BTreeMap<String, String>, path: &str) -> String {
    if let Some(by) = overrides.get(path) {
        return by.clone();
    }
    match figment.find_metadata(path) {
        Some(meta) => match &meta.source {
            Some(figment::Source::File(file)) => format!("file {}", file.display()),
            _ if meta.name.contains("environment") => {
                format!("environment {}", variable(path))
            }
            _ => "default".to_owned(),
        },
        None => "default".to_owned(),
    }
}

/// Keys whose values are secrets, and how each is shown.
fn redact(path: &str, value: &toml_edit::Value) -> String {
    let text = value.as_str().unwrap_or_default();
    match path {
        "database.url" | "redis.url" => format!("{:?}", crate::redact_url(text)),
        "metrics.bearer_token" => "\"[redacted]\"".to_owned(),
        "alerts.webhook_url" => match url::Url::parse(text) {
            Ok(url) => format!(
                "\"{}://{}/[redacted]\"",
                url.scheme(),
                url.host_str().unwrap_or_default()
            ),
            Err(_) => "\"[redacted]\"".to_owned(),
        },
        _ => inline(value),
    }
}

/// `tessera config`: `config` as TOML, each value followed by where it came
/// from (`default`, `file PATH`, `environment VARIABLE`, or an override from
/// `overrides`: a path to the command-line option that set it); secrets
/// redacted; keys unset listed as comments.
pub fn explain(config: &Config, figment: &Figment, overrides: &BTreeMap<String, String>) -> String {
    let effective = document(config);
    let mut out = String::from(
        "# The configuration in effect; after each value, where it came from.\n\
         # Secrets are redacted. tessera.example.toml documents every key.\n",
    );
    for section in sections() {
        out.push_str(&format!("\n[{}]\n", section.name));
        let values = effective.get(&section.name).and_then(|i| i.as_table_like());
        let mut tables = Vec::new();
        for key in &section.keys {
            let path = format!("{}.{}", section.name, key.name);
            let item = values.and_then(|t| t.get(&key.name));
            if key.table {
                tables.push((path, item));
                continue;
            }
            match item.and_then(|i| i.as_value()) {
                Some(value) => out.push_str(&format!(
                    "{} = {}  # {}\n",
                    key.name,
                    redact(&path, value),
                    source(figment, overrides, &path)
                )),
                None => out.push_str(&format!(
                    "# {} is unset  # {}\n",
                    key.name,
                    source(figment, overrides, &path)
                )),
            }
        }
        for (path, item) in tables {
            out.push_str(&format!("\n[{path}]\n"));
            let Some(table) = item.and_then(|i| i.as_table_like()) else {
                continue;
            };
            for (name, entry) in table.iter() {
                if let Some(value) = entry.as_value() {
                    let entry_path = format!("{path}.{name}");
                    out.push_str(&format!(
                        "{name} = {}  # {}\n",
                        inline(value),
                        source(figment, overrides, &entry_path)
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use std::path::Path;

    const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tessera.example.toml");

    #[test]
    fn the_example_file_is_the_one_the_code_generates() {
        let on_disk = std::fs::read_to_string(EXAMPLE).unwrap_or_default();
        assert!(
            on_disk == example_toml(),
            "tessera.example.toml differs from the code's keys: regenerate it with\n  \
             cargo run --bin tessera -- config --example > tessera.example.toml"
        );
    }

    #[test]
    fn every_key_is_documented_and_every_unset_key_has_an_example() {
        let defaults = defaults_document();
        for section in sections() {
            assert!(!section.description.is_empty(), "[{}]", section.name);
            for key in &section.keys {
                let path = format!("{}.{}", section.name, key.name);
                assert!(!key.description.is_empty(), "{path} has no doc comment");
                let set = defaults
                    .get(&section.name)
                    .and_then(|t| t.as_table_like())
                    .and_then(|t| t.get(&key.name))
                    .is_some();
                assert!(
                    set || key.example.is_some(),
                    "{path} is unset by default and has no #[schemars(example)]"
                );
            }
        }
    }

    #[test]
    fn the_example_loads_as_the_defaults_and_its_examples_load_too() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("example.toml", &example_toml())?;
            let loaded = Config::load(Some(Path::new("example.toml")))?;
            assert_eq!(
                document(&loaded).to_string(),
                defaults_document().to_string()
            );
            // Every commented example, uncommented, is a valid value.
            let mut uncommented = String::new();
            let mut example = false;
            for line in example_toml().lines() {
                if line.ends_with("by default. For example:") {
                    example = true;
                } else if example && line.starts_with("# ") && line.contains(" = ") {
                    uncommented.push_str(&line[2..]);
                    uncommented.push('\n');
                    continue;
                } else {
                    example = false;
                }
                uncommented.push_str(line);
                uncommented.push('\n');
            }
            jail.create_file("examples.toml", &uncommented)?;
            let loaded = Config::load(Some(Path::new("examples.toml")))?;
            assert_eq!(
                loaded.server.admin_bind,
                Some("127.0.0.1:9000".parse().unwrap())
            );
            assert_eq!(
                loaded.throttle.rates.get("anon").map(String::as_str),
                Some("100/day")
            );
            assert!(loaded.metrics.bearer_token.is_some());
            Ok(())
        });
    }

    fn refused(vars: &[&str]) -> String {
        check_environment(vars).err().unwrap_or_default()
    }

    #[test]
    fn variables_that_name_no_key_are_refused_with_the_key_meant() {
        assert_eq!(
            refused(&["TESSERA_DATABASE_URL"]),
            "TESSERA_DATABASE_URL is not read: a configuration variable separates the \
             section and the key with two underscores: TESSERA_DATABASE__URL (database.url)"
        );
        assert_eq!(
            refused(&["TESSERA_SERVER__BINDD"]),
            "TESSERA_SERVER__BINDD names no configuration key (server.bindd); did you \
             mean TESSERA_SERVER__BIND (server.bind)?"
        );
        assert!(refused(&["TESSERA_DATABSE__URL"])
            .ends_with("did you mean TESSERA_DATABASE__URL (database.url)?"));
        assert!(refused(&["TESSERA_SERVER_ALLOWED_HOSTS"])
            .ends_with("two underscores: TESSERA_SERVER__ALLOWED_HOSTS (server.allowed_hosts)"));
        assert!(refused(&["TESSERA_THROTTLE_RATES_ANON"])
            .ends_with("two underscores: TESSERA_THROTTLE__RATES__ANON (throttle.rates)"));
        assert_eq!(
            refused(&["TESSERA_DATABASE_ULR"]),
            "TESSERA_DATABASE_ULR is not read: did you mean TESSERA_DATABASE__URL (database.url)?"
        );
        // figment reads the prefix in any case; so does the check.
        assert!(refused(&["tessera_server__bindd"]).contains("TESSERA_SERVER__BIND"));
        // Too deep, or a table entry of a key that is no table.
        assert!(refused(&["TESSERA_SERVER__BIND__X"]).contains("names no configuration key"));
        assert!(refused(&["TESSERA_THROTTLE__RATES__"]).contains("names no configuration key"));
        // Far from every key: no guess, a pointer to the list.
        assert!(refused(&["TESSERA_QQQQQQ__ZZZZZZZZZ"])
            .ends_with("; tessera.example.toml lists every key"));
        // Several at once: each is named.
        let both = refused(&["TESSERA_DATABASE_URL", "TESSERA_SERVER__BINDD"]);
        assert!(both.contains("TESSERA_DATABASE_URL") && both.contains("TESSERA_SERVER__BINDD"));
    }

    #[test]
    fn other_tessera_variables_are_left_alone() {
        assert_eq!(
            check_environment([
                "TESSERA_SUPERUSER_PASSWORD",
                "TESSERA_DATA_DIR",
                "TESSERA_URL",
                "TESSERA_LOG_FORMAT",
                "TESSERA_TEST_DATABASE_URL",
                "TESSERA_ADMIN_PASSWORD",
                "TESSERA_DATABASE__URL",
                "TESSERA_THROTTLE__RATES__ANON",
                "TESSERA_COOKIES__SECURE",
                "PATH",
                "DATABASE_URL",
            ]),
            Ok(())
        );
    }

    #[test]
    fn tessera_config_says_where_each_value_came_from_and_hides_secrets() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "t.toml",
                "[tokens]\nmax_per_user = 3\n[throttle.rates]\nuser = \"10/min\"\n\
                 [alerts]\nwebhook_url = \"https://hooks.example.com/T000/B000/s3cr3tpath\"\n",
            )?;
            jail.set_env(
                "TESSERA_DATABASE__URL",
                "postgres://tessera:hunter2@db.internal/auth",
            );
            jail.set_env(
                "TESSERA_METRICS__BEARER_TOKEN",
                "0123456789abcdef0123456789abcdef-metrics",
            );
            jail.set_env("TESSERA_COOKIES__SECURE", "true");
            let (config, figment) = Config::load_with_sources(Some(Path::new("t.toml")))?;
            let overrides =
                BTreeMap::from([("demo.enabled".to_owned(), "command line --x".to_owned())]);
            let out = explain(&config, &figment, &overrides);
            let file = format!("file {}", jail.directory().join("t.toml").display());
            for line in [
                "bind = \"127.0.0.1:8000\"  # default",
                "# admin_bind is unset  # default",
                &format!("max_per_user = 3  # {file}"),
                &format!("user = \"10/min\"  # {file}"),
                "url = \"postgres://tessera:***@db.internal/auth\"  # environment TESSERA_DATABASE__URL",
                "bearer_token = \"[redacted]\"  # environment TESSERA_METRICS__BEARER_TOKEN",
                &format!("webhook_url = \"https://hooks.example.com/[redacted]\"  # {file}"),
                "secure = true  # environment TESSERA_COOKIES__SECURE",
                "enabled = true  # command line --x",
                "hsts_max_age = \"365d\"  # default",
            ] {
                assert!(out.lines().any(|l| l == line), "no line {line:?} in\n{out}");
            }
            for secret in ["hunter2", "0123456789abcdef", "s3cr3tpath", "T000"] {
                assert!(!out.contains(secret), "{secret} shown");
            }
            // What it prints is itself a configuration file.
            let shown = out
                .parse::<toml_edit::DocumentMut>()
                .map_err(|e| e.to_string())?;
            assert_eq!(shown["tokens"]["max_per_user"].as_integer(), Some(3));
            Ok(())
        });
    }
}
