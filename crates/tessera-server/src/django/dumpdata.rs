//! `manage.py dumpdata auth.group auth.user authtoken.token knox sessions`
//! JSON, read as a stream: one object of the top-level array at a time (a
//! sequence visitor over serde_json's reader), so that memory stays flat
//! whatever the file's size.
//!
//! A user's `groups` are group ids, or `["name"]` natural keys when dumped
//! with `--natural-foreign`; they name `auth.group` objects, which dumpdata
//! writes before the users. A custom user model is read with
//! `--user-model app_label.model` and `--user-column` ([`super::columns`],
//! applied to the names in `fields`).
//!
//! A file that ends early or breaks off in the middle yields every object
//! before the break, then the break as an unreadable row: what was read is
//! imported, and the report says where it stopped.

use super::columns::UserColumns;
use super::source::{parse_time, GroupRef, GroupRow, Row, SessionRow, TokenRow, UserRow};
use serde::de::{Deserializer as _, SeqAccess, Visitor};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::Path;
use tessera_core::import::TokenKind;
use tokio::sync::mpsc::Sender;

/// Reads `path` and sends its rows, on the calling (blocking) thread. How
/// many objects were read; an error when the file cannot be opened or holds
/// no array at all.
pub fn read(
    path: &Path,
    user_model: &str,
    columns: &UserColumns,
    rows: &Sender<Row>,
) -> Result<u64, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut deserializer = serde_json::Deserializer::from_reader(BufReader::new(file));
    let mut objects = Objects {
        rows,
        user_model,
        columns,
        count: 0,
        broke: None,
        others: BTreeMap::new(),
    };
    let outcome = (&mut deserializer).deserialize_seq(&mut objects);
    let others: Vec<String> = objects
        .others
        .iter()
        .map(|(model, n)| format!("{n} {model}"))
        .collect();
    if !others.is_empty() {
        let _ = rows.blocking_send(Row::Note(format!(
            "objects of models that are not imported were left out: {}",
            others.join(", ")
        )));
    }
    let broke = objects
        .broke
        .or_else(|| outcome.err().map(|e| e.to_string()));
    match broke {
        Some(reason) if objects.count == 0 => Err(format!(
            "{}: not a dumpdata JSON array: {reason}",
            path.display()
        )),
        Some(reason) => {
            let _ = rows.blocking_send(Row::Unreadable {
                what: format!("{} after {} objects", path.display(), objects.count),
                reason: format!(
                    "the file ends early or is malformed ({reason}); the objects before were read"
                ),
            });
            Ok(objects.count)
        }
        None => Ok(objects.count),
    }
}

struct Objects<'a> {
    rows: &'a Sender<Row>,
    user_model: &'a str,
    columns: &'a UserColumns,
    count: u64,
    /// The error that stopped the array, if one did.
    broke: Option<String>,
    /// Objects of other models, by model.
    others: BTreeMap<String, u64>,
}

impl<'de> Visitor<'de> for &mut Objects<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of Django objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            match seq.next_element::<Value>() {
                Ok(Some(object)) => {
                    self.count += 1;
                    let Some(row) = self.row(object) else {
                        continue;
                    };
                    if self.rows.blocking_send(row).is_err() {
                        // The importer stopped: read no further.
                        return Ok(());
                    }
                }
                Ok(None) => return Ok(()),
                Err(e) => {
                    self.broke = Some(e.to_string());
                    return Ok(());
                }
            }
        }
    }
}

impl Objects<'_> {
    /// The row of one object; `None` for a model that is not imported.
    fn row(&mut self, object: Value) -> Option<Row> {
        let model = object["model"].as_str().unwrap_or_default().to_owned();
        let what = format!("{model} pk {}", object["pk"]);
        let fields = &object["fields"];
        let converted = match model.as_str() {
            m if m.eq_ignore_ascii_case(self.user_model) => {
                user(&object["pk"], fields, self.columns).map(Row::User)
            }
            "auth.group" => group(&object["pk"], fields).map(Row::Group),
            "authtoken.token" => token(TokenKind::Drf, &object["pk"], fields).map(Row::Token),
            "knox.authtoken" => token(TokenKind::Knox, &object["pk"], fields).map(Row::Token),
            "sessions.session" => session(&object["pk"], fields).map(Row::Session),
            "" => Err("not a Django object (no \"model\")".to_owned()),
            _ => {
                *self.others.entry(model).or_default() += 1;
                return None;
            }
        };
        Some(converted.unwrap_or_else(|reason| {
            // A DRF key or session key is the object's pk: not in a report.
            let what = match model.as_str() {
                "authtoken.token" | "knox.authtoken" | "sessions.session" => model,
                _ => what,
            };
            Row::Unreadable { what, reason }
        }))
    }
}

fn text(fields: &Value, name: &str) -> Result<String, String> {
    fields[name]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("field {name:?} is missing or not text"))
}

fn flag(fields: &Value, name: &str) -> Result<bool, String> {
    fields[name]
        .as_bool()
        .ok_or_else(|| format!("field {name:?} is missing or not true/false"))
}

fn time(fields: &Value, name: &str) -> Result<time::OffsetDateTime, String> {
    parse_time(&text(fields, name)?).ok_or_else(|| format!("field {name:?} is not a time"))
}

fn optional_time(fields: &Value, name: &str) -> Result<Option<time::OffsetDateTime>, String> {
    match &fields[name] {
        Value::Null => Ok(None),
        _ => time(fields, name).map(Some),
    }
}

fn id(value: &Value, name: &str) -> Result<i64, String> {
    value.as_i64().ok_or_else(|| {
        format!("{name} is not an integer id (dumped with natural keys? dump without --natural-primary and --natural-foreign)")
    })
}

fn user(pk: &Value, fields: &Value, columns: &UserColumns) -> Result<UserRow, String> {
    let field = |name: &str| columns.get(name);
    let text_or_empty = |name: &str| {
        field(name).map_or(Ok(String::new()), |f| match &fields[f] {
            Value::Null => Ok(String::new()),
            _ => text(fields, f),
        })
    };
    let flag_or = |name: &str, default: bool| field(name).map_or(Ok(default), |f| flag(fields, f));
    let required = |name: &str| field(name).unwrap_or(name).to_owned();
    Ok(UserRow {
        id: id(pk, "pk")?,
        username: text(fields, &required("username"))?,
        email: text_or_empty("email")?,
        first_name: text_or_empty("first_name")?,
        last_name: text_or_empty("last_name")?,
        password: text(fields, &required("password"))?,
        is_active: flag_or("is_active", true)?,
        is_staff: flag_or("is_staff", false)?,
        is_superuser: flag_or("is_superuser", false)?,
        date_joined: field("date_joined").map_or(Ok(None), |f| optional_time(fields, f))?,
        last_login: field("last_login").map_or(Ok(None), |f| optional_time(fields, f))?,
        groups: groups(fields)?,
    })
}

/// A user's `groups`: ids, or `["name"]` natural keys; none when absent.
fn groups(fields: &Value) -> Result<Vec<GroupRef>, String> {
    let bad = || "field \"groups\" is not a list of group ids or [\"name\"] keys".to_owned();
    match &fields["groups"] {
        Value::Null => Ok(Vec::new()),
        Value::Array(list) => list
            .iter()
            .map(|entry| match entry {
                Value::Number(n) => n.as_i64().map(GroupRef::Id).ok_or_else(bad),
                Value::Array(key) => match &key[..] {
                    [Value::String(name)] => Ok(GroupRef::Name(name.clone())),
                    _ => Err(bad()),
                },
                _ => Err(bad()),
            })
            .collect(),
        _ => Err(bad()),
    }
}

fn group(pk: &Value, fields: &Value) -> Result<GroupRow, String> {
    Ok(GroupRow {
        id: match pk {
            Value::Null => None,
            _ => Some(id(pk, "pk")?),
        },
        name: text(fields, "name")?,
    })
}

fn token(kind: TokenKind, pk: &Value, fields: &Value) -> Result<TokenRow, String> {
    let secret = pk
        .as_str()
        .ok_or_else(|| "pk is not text".to_owned())?
        .to_owned();
    Ok(TokenRow {
        kind,
        secret,
        token_key: fields["token_key"].as_str().map(str::to_owned),
        user_id: id(&fields["user"], "field \"user\"")?,
        created: time(fields, "created")?,
        expires: match kind {
            TokenKind::Drf => None,
            TokenKind::Knox => optional_time(fields, "expiry")?,
        },
    })
}

fn session(pk: &Value, fields: &Value) -> Result<SessionRow, String> {
    Ok(SessionRow {
        key: pk
            .as_str()
            .ok_or_else(|| "pk is not text".to_owned())?
            .to_owned(),
        data: text(fields, "session_data")?,
        expires: time(fields, "expire_date")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(json: &str) -> (Result<u64, String>, Vec<Row>) {
        read_model(json, "auth.user", &UserColumns::default())
    }

    fn read_model(
        json: &str,
        model: &str,
        columns: &UserColumns,
    ) -> (Result<u64, String>, Vec<Row>) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("dump.json");
        std::fs::write(&path, json).unwrap_or_else(|e| panic!("{e}"));
        let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
        let result = read(&path, model, columns, &tx);
        drop(tx);
        let mut rows = Vec::new();
        while let Ok(row) = rx.try_recv() {
            rows.push(row);
        }
        (result, rows)
    }

    const USER: &str = r#"{"model": "auth.user", "pk": 1, "fields": {"password": "!x", "last_login": null, "is_superuser": false, "username": "ann", "first_name": "", "last_name": "", "email": "a@example.com", "is_staff": false, "is_active": true, "date_joined": "2024-05-06T07:08:09.123Z", "groups": [], "user_permissions": []}}"#;

    #[test]
    fn objects_are_read_one_by_one() {
        let json = format!(
            r#"[{USER}, {{"model": "auth.group", "pk": 1, "fields": {{"name": "g"}}}},
            {{"model": "authtoken.token", "pk": "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b", "fields": {{"user": 1, "created": "2024-05-06T07:08:09Z"}}}}]"#
        );
        let (result, rows) = read_all(&json);
        assert_eq!(result, Ok(3));
        assert!(matches!(&rows[0], Row::User(u) if u.username == "ann" && u.last_login.is_none()));
        assert!(matches!(&rows[1], Row::Group(g) if g.id == Some(1) && g.name == "g"));
        assert!(matches!(&rows[2], Row::Token(t) if t.user_id == 1 && t.kind == TokenKind::Drf));
        assert_eq!(rows.len(), 3);
    }

    #[test]
    fn a_truncated_file_yields_what_came_before_the_break() {
        let json = format!("[{USER}, {USER}, {{\"model\": \"auth.us");
        let (result, rows) = read_all(&json);
        assert_eq!(result, Ok(2));
        assert_eq!(rows.len(), 3);
        assert!(
            matches!(&rows[2], Row::Unreadable { reason, .. } if reason.contains("ends early")),
        );
    }

    #[test]
    fn a_file_that_is_not_an_array_reads_nothing() {
        let (result, rows) = read_all("{\"not\": \"an array\"}");
        assert!(result.is_err());
        assert!(rows.is_empty());
        let (result, _) = read_all("");
        assert!(result.is_err());
    }

    #[test]
    fn a_bad_object_is_reported_and_the_rest_read() {
        let json =
            format!(r#"[{{"model": "auth.user", "pk": 2, "fields": {{"username": 5}}}}, {USER}]"#);
        let (result, rows) = read_all(&json);
        assert_eq!(result, Ok(2));
        assert!(matches!(&rows[0], Row::Unreadable { what, .. } if what == "auth.user pk 2"));
        assert!(matches!(&rows[1], Row::User(_)));
    }

    #[test]
    fn groups_by_id_or_natural_key_and_a_custom_user_model_mapped() {
        let json = r#"[{"model": "auth.group", "fields": {"name": "editors"}},
            {"model": "auth.group", "pk": 3, "fields": {"name": "readers"}},
            {"model": "accounts.member", "pk": 4, "fields": {"email": "m@example.com",
             "password": "!x", "is_active": false, "groups": [["editors"], 3]}},
            {"model": "accounts.member", "pk": 5, "fields": {"email": "n@example.com",
             "password": "!x", "is_active": true, "groups": ["readers"]}},
            {"model": "auth.user", "pk": 6, "fields": {}}]"#;
        let columns = UserColumns::parse(&[
            "username=email",
            "first_name=-",
            "last_name=-",
            "is_staff=-",
            "is_superuser=-",
            "date_joined=-",
            "last_login=-",
        ])
        .unwrap_or_default();
        let (result, rows) = read_model(json, "accounts.member", &columns);
        assert_eq!(result, Ok(5));
        assert!(matches!(&rows[0], Row::Group(g) if g.id.is_none() && g.name == "editors"));
        assert!(matches!(&rows[1], Row::Group(g) if g.id == Some(3) && g.name == "readers"));
        let Row::User(member) = &rows[2] else {
            panic!("not a user");
        };
        assert_eq!(
            (member.id, member.username.as_str(), member.email.as_str()),
            (4, "m@example.com", "m@example.com")
        );
        assert!(!member.is_active && !member.is_staff && !member.is_superuser);
        assert_eq!((member.date_joined, member.last_login), (None, None));
        assert_eq!(
            member.groups,
            [GroupRef::Name("editors".to_owned()), GroupRef::Id(3)]
        );
        assert!(matches!(&rows[3], Row::Unreadable { what, reason }
            if what == "accounts.member pk 5" && reason.contains("\"groups\" is not a list")));
        // auth.user is not the user model here: left out, and noted.
        assert!(matches!(&rows[4], Row::Note(n) if n.contains("1 auth.user")));
    }
}
