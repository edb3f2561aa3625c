//! The import itself: rows from a source are checked, gathered in batches
//! of one kind (groups, users, then tokens, then sessions, as Django's order
//! puts them) and written a batch per transaction ([`ImportStore`]). A rejected
//! row is reported with its reason and the import goes on; an interrupted
//! import is re-run (what was committed is found again, unchanged).

use super::signing::{decode_session, session_auth_hashes, session_hash_matches, SecretKeys};
use super::source::{GroupRef, GroupRow, Row, SessionRow, TokenRow, UserRow};
use std::collections::{BTreeMap, HashMap, HashSet};
use tessera_core::import::{
    ImportBatch, ImportStore, Imported, ImportedSession, ImportedToken, ImportedUser, TokenKind,
    GROUP_NAME_MAX_CHARS,
};
use tessera_core::password::django;
use tessera_core::session::SessionKey;
use tessera_core::store::StoreError;
use tessera_core::token::{KeyDigest, TokenKey, DRF_KEY_LEN};
use tessera_core::user::{normalize_username, validate_username};
use time::OffsetDateTime;

/// How to import.
#[derive(Debug, Clone)]
pub struct Options {
    /// Rows per transaction.
    pub batch_size: usize,
    /// Roll every batch back: report what would happen.
    pub dry_run: bool,
    /// Django's `SECRET_KEY` (then its fallbacks), to read sessions.
    pub keys: SecretKeys,
    /// The time of the import.
    pub now: OffsetDateTime,
}

/// knox 5's `token_key` length without a prefix (knox 4's was 8): the
/// knox version a token was made by.
const KNOX_5_TOKEN_KEY_LEN: usize = 15;

/// The kinds of rows, as the summary names them. A membership is one
/// (user, group) pair of an imported user; only `created` (set on the user)
/// and `skipped` count for them.
pub const KINDS: [&str; 5] = ["users", "groups", "memberships", "tokens", "sessions"];

/// Counts of one kind of row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// New in Tessera.
    pub created: u64,
    /// Changed since an earlier import.
    pub updated: u64,
    /// Already as imported.
    pub unchanged: u64,
    /// Not imported, by reason.
    pub skipped: BTreeMap<String, u64>,
}

impl Counts {
    /// How many were skipped, all reasons together.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Rows read from the source.
    pub read: u64,
    /// Users, tokens and sessions ([`KINDS`]).
    pub counts: BTreeMap<&'static str, Counts>,
    /// Rows, or parts of the source, that could not be read at all.
    pub unreadable: u64,
}

impl Summary {
    fn count(&mut self, kind: &'static str) -> &mut Counts {
        self.counts.entry(kind).or_default()
    }

    /// How many rows were written or found unchanged.
    pub fn imported(&self) -> u64 {
        self.counts
            .values()
            .map(|c| c.created + c.updated + c.unchanged)
            .sum()
    }
}

/// What the import tells as it goes.
pub enum Progress<'a> {
    /// A row not imported: its kind, which row, and why (never a secret).
    Skipped {
        /// `users`, `tokens`, `sessions`, or `source`.
        kind: &'static str,
        /// Which row.
        what: &'a str,
        /// Why.
        reason: &'a str,
    },
    /// Something about the source.
    Note(&'a str),
    /// A batch was written: the counts so far.
    Batch(&'a Summary),
}

enum Pending {
    Groups(Vec<(String, String)>),
    Users(Vec<(ImportedUser, String, Vec<[u8; 32]>)>),
    Tokens(Vec<(ImportedToken, String)>),
    Sessions(Vec<(ImportedSession, String)>),
}

/// Imports rows into a store.
pub struct Importer<'a, S: ?Sized> {
    store: &'a S,
    options: Options,
    summary: Summary,
    pending: Option<Pending>,
    /// Each imported user's possible `_auth_user_hash` values (one per key),
    /// by Django id, to check the user's sessions against.
    session_hashes: HashMap<i64, Vec<[u8; 32]>>,
    /// In a dry run, the Django ids of users that would be created: their
    /// credentials would be written too, though the store has no user yet.
    dry_created: HashSet<i64>,
    /// The source's groups: Django id to name, and the names.
    group_ids: HashMap<i64, String>,
    group_names: HashSet<String>,
    report: &'a mut (dyn FnMut(Progress<'_>) + Send),
}

impl<'a, S: ImportStore + ?Sized> Importer<'a, S> {
    /// An importer writing into `store`, telling `report` as it goes.
    pub fn new(
        store: &'a S,
        options: Options,
        report: &'a mut (dyn FnMut(Progress<'_>) + Send),
    ) -> Self {
        Importer {
            store,
            options,
            summary: Summary::default(),
            pending: None,
            session_hashes: HashMap::new(),
            dry_created: HashSet::new(),
            group_ids: HashMap::new(),
            group_names: HashSet::new(),
            report,
        }
    }

    fn skip(&mut self, kind: &'static str, what: &str, code: &str, reason: &str) {
        *self
            .summary
            .count(kind)
            .skipped
            .entry(code.to_owned())
            .or_default() += 1;
        (self.report)(Progress::Skipped { kind, what, reason });
    }

    /// Takes one row; writes a batch when one is full or the kind changes.
    pub async fn push(&mut self, row: Row) -> Result<(), StoreError> {
        if !matches!(row, Row::Note(_)) {
            self.summary.read += 1;
        }
        match row {
            Row::Group(group) => {
                let what = match group.id {
                    Some(id) => format!("group {id} {:?}", group.name),
                    None => format!("group {:?}", group.name),
                };
                match check_group(&group) {
                    Ok(()) => {
                        if let Some(id) = group.id {
                            self.group_ids.insert(id, group.name.clone());
                        }
                        self.group_names.insert(group.name.clone());
                        self.add(Pending::Groups(vec![(group.name, what)])).await?;
                    }
                    Err(reason) => self.skip("groups", &what, "invalid name", reason),
                }
            }
            Row::User(mut user) => {
                let what = format!("user {} {:?}", user.id, user.username);
                let groups = std::mem::take(&mut user.groups);
                match self.check_user(user) {
                    Ok(mut user) => {
                        user.groups = self.resolve_groups(&what, groups);
                        let hashes = if self.options.keys.is_empty() {
                            Vec::new()
                        } else {
                            session_auth_hashes(&user.password_hash, &self.options.keys)
                        };
                        self.add(Pending::Users(vec![(user, what, hashes)])).await?;
                    }
                    Err((code, reason)) => self.skip("users", &what, code, &reason),
                }
            }
            Row::Token(token) => {
                let what = token.label();
                match self.check_token(token) {
                    Ok(token) => self.add(Pending::Tokens(vec![(token, what)])).await?,
                    Err((code, reason)) => self.skip("tokens", &what, code, reason),
                }
            }
            Row::Session(session) => match self.check_session(session) {
                Ok((session, what)) => self.add(Pending::Sessions(vec![(session, what)])).await?,
                Err((what, code, reason)) => self.skip("sessions", &what, code, reason),
            },
            Row::Unreadable { what, reason } => {
                self.summary.unreadable += 1;
                (self.report)(Progress::Skipped {
                    kind: "source",
                    what: &what,
                    reason: &reason,
                });
            }
            Row::Note(note) => (self.report)(Progress::Note(&note)),
        }
        Ok(())
    }

    /// Writes what is pending and returns the summary.
    pub async fn finish(mut self) -> Result<Summary, StoreError> {
        self.flush().await?;
        Ok(self.summary)
    }

    /// The names of a user's groups; a group the source did not hold is
    /// skipped, and reported.
    fn resolve_groups(&mut self, user: &str, groups: Vec<GroupRef>) -> Vec<String> {
        let mut names = Vec::with_capacity(groups.len());
        for group in groups {
            let name = match &group {
                GroupRef::Id(id) => self.group_ids.get(id).cloned(),
                GroupRef::Name(name) => self.group_names.get(name).cloned(),
            };
            match name {
                Some(name) => names.push(name),
                None => self.skip(
                    "memberships",
                    &format!("{user} in {group}"),
                    "unknown group",
                    "no such group in the source (groups come before the users in it)",
                ),
            }
        }
        names.sort_unstable();
        names.dedup();
        names
    }

    fn check_user(&self, row: UserRow) -> Result<ImportedUser, (&'static str, String)> {
        let username = normalize_username(&row.username);
        if username.is_empty() {
            return Err(("invalid username", "the username is empty".to_owned()));
        }
        let errors = validate_username(&username);
        if !errors.is_empty() {
            return Err(("invalid username", errors.join(" ")));
        }
        if let Err(error) = django::check(&row.password) {
            let code = match error {
                django::FormatError::UnknownAlgorithm(_) | django::FormatError::Unrecognised => {
                    "unknown hash algorithm"
                }
                django::FormatError::Malformed { .. } => "malformed hash",
                django::FormatError::TooCostly { .. } => "hash too costly",
            };
            return Err((code, error.to_string()));
        }
        Ok(ImportedUser {
            django_id: row.id,
            username,
            email: row.email,
            first_name: row.first_name,
            last_name: row.last_name,
            password_hash: row.password,
            is_active: row.is_active,
            is_staff: row.is_staff,
            is_superuser: row.is_superuser,
            date_joined: row.date_joined,
            last_login: row.last_login,
            groups: Vec::new(),
        })
    }

    fn check_token(&self, row: TokenRow) -> Result<ImportedToken, (&'static str, &'static str)> {
        if row.kind == TokenKind::Knox
            && row
                .token_key
                .as_deref()
                .is_none_or(|k| k.len() < KNOX_5_TOKEN_KEY_LEN)
        {
            return Err((
                "knox before 5.0",
                "made by django-rest-knox before 5.0, whose digest (salted before 4.2, of the key's bytes in 4.2) cannot be carried over: its client logs in again",
            ));
        }
        let digest = match row.kind {
            TokenKind::Drf => TokenKey::parse(&row.secret)
                .filter(|_| row.secret.len() == DRF_KEY_LEN)
                .map(|key| key.digest())
                .ok_or(("malformed key", "not a 40-character hexadecimal DRF key"))?,
            TokenKind::Knox => KeyDigest::of_knox_hex(&row.secret).ok_or((
                "malformed key",
                "not a 128-character hexadecimal knox digest",
            ))?,
        };
        if row.expires.is_some_and(|e| e <= self.options.now) {
            return Err(("expired", "expired"));
        }
        Ok(ImportedToken {
            kind: row.kind,
            django_user_id: row.user_id,
            digest,
            created: row.created,
            expires: row.expires,
        })
    }

    fn check_session(
        &self,
        row: SessionRow,
    ) -> Result<(ImportedSession, String), (String, &'static str, &'static str)> {
        let what = "session".to_owned();
        if self.options.keys.is_empty() {
            return Err((
                what,
                "no secret key",
                "no --secret-key (or DJANGO_SECRET_KEY): a session's data cannot be read",
            ));
        }
        let Some(key) = SessionKey::parse(&row.key) else {
            return Err((what, "malformed key", "not a Django session key"));
        };
        if row.expires <= self.options.now {
            return Err((what, "expired", "expired"));
        }
        let mut data = decode_session(&row.data, &self.options.keys).map_err(|e| {
            let code = match e {
                super::signing::SessionError::BadSignature => "bad signature (wrong --secret-key?)",
                _ => "undecodable",
            };
            (what.clone(), code, code)
        })?;
        let user_id = data
            .get("_auth_user_id")
            .and_then(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .or_else(|| v.as_i64().map(|n| n.to_string()))
            })
            .and_then(|id| id.parse::<i64>().ok());
        let Some(user_id) = user_id else {
            return Err((what, "not logged in", "not a logged-in session"));
        };
        let what = format!("session of user {user_id}");
        let Some(expected) = self.session_hashes.get(&user_id) else {
            return Err((
                what,
                "user not imported",
                "its user was not imported by this run",
            ));
        };
        let hash = data
            .get("_auth_user_hash")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        if !session_hash_matches(hash, expected) {
            return Err((
                what,
                "password changed",
                "the user's password changed since this login (Django would log it out)",
            ));
        }
        for auth_key in ["_auth_user_id", "_auth_user_backend", "_auth_user_hash"] {
            data.remove(auth_key);
        }
        Ok((
            ImportedSession {
                django_user_id: user_id,
                digest: key.digest(),
                data: serde_json::Value::Object(data),
                expires: row.expires,
            },
            what,
        ))
    }

    /// Adds a row (a one-row `Pending`) to the pending batch, writing that
    /// batch first when it is of another kind, and after when it is full.
    async fn add(&mut self, row: Pending) -> Result<(), StoreError> {
        let pending = match (self.pending.take(), row) {
            (Some(Pending::Groups(mut batch)), Pending::Groups(row)) => {
                batch.extend(row);
                Pending::Groups(batch)
            }
            (Some(Pending::Users(mut batch)), Pending::Users(row)) => {
                batch.extend(row);
                Pending::Users(batch)
            }
            (Some(Pending::Tokens(mut batch)), Pending::Tokens(row)) => {
                batch.extend(row);
                Pending::Tokens(batch)
            }
            (Some(Pending::Sessions(mut batch)), Pending::Sessions(row)) => {
                batch.extend(row);
                Pending::Sessions(batch)
            }
            (other, row) => {
                self.pending = other;
                self.flush().await?;
                row
            }
        };
        let full = match &pending {
            Pending::Groups(b) => b.len(),
            Pending::Users(b) => b.len(),
            Pending::Tokens(b) => b.len(),
            Pending::Sessions(b) => b.len(),
        } >= self.options.batch_size.max(1);
        self.pending = Some(pending);
        if full {
            self.flush().await?;
        }
        Ok(())
    }

    fn batch(&self) -> ImportBatch {
        ImportBatch {
            at: self.options.now,
            dry_run: self.options.dry_run,
        }
    }

    async fn flush(&mut self) -> Result<(), StoreError> {
        let Some(pending) = self.pending.take() else {
            return Ok(());
        };
        match pending {
            Pending::Groups(rows) => {
                let names: Vec<String> = rows.iter().map(|(n, _)| n.clone()).collect();
                let outcomes = self.store.import_groups(&names, self.batch()).await?;
                for ((_, what), outcome) in rows.into_iter().zip(outcomes) {
                    self.tally("groups", &what, outcome);
                }
            }
            Pending::Users(rows) => {
                let users: Vec<ImportedUser> = rows.iter().map(|(u, _, _)| u.clone()).collect();
                let outcomes = self.store.import_users(&users, self.batch()).await?;
                for ((user, what, hashes), outcome) in rows.into_iter().zip(outcomes) {
                    if !matches!(outcome, Imported::Rejected(_)) {
                        self.session_hashes.insert(user.django_id, hashes);
                        self.summary.count("memberships").created += user.groups.len() as u64;
                    }
                    if self.options.dry_run && matches!(outcome, Imported::Created(_)) {
                        self.dry_created.insert(user.django_id);
                    }
                    self.tally("users", &what, outcome);
                }
            }
            Pending::Tokens(rows) => {
                let (local, stored): (Vec<_>, Vec<_>) = rows
                    .into_iter()
                    .partition(|(t, _)| self.dry_created.contains(&t.django_user_id));
                for (_, what) in local {
                    self.tally("tokens", &what, Imported::Created(0));
                }
                let tokens: Vec<ImportedToken> = stored.iter().map(|(t, _)| t.clone()).collect();
                let outcomes = self.store.import_tokens(&tokens, self.batch()).await?;
                for ((_, what), outcome) in stored.into_iter().zip(outcomes) {
                    self.tally("tokens", &what, outcome);
                }
            }
            Pending::Sessions(rows) => {
                let (local, stored): (Vec<_>, Vec<_>) = rows
                    .into_iter()
                    .partition(|(s, _)| self.dry_created.contains(&s.django_user_id));
                for (_, what) in local {
                    self.tally("sessions", &what, Imported::Created(0));
                }
                let sessions: Vec<ImportedSession> =
                    stored.iter().map(|(s, _)| s.clone()).collect();
                let outcomes = self.store.import_sessions(&sessions, self.batch()).await?;
                for ((_, what), outcome) in stored.into_iter().zip(outcomes) {
                    self.tally("sessions", &what, outcome);
                }
            }
        }
        let summary = self.summary.clone();
        (self.report)(Progress::Batch(&summary));
        Ok(())
    }

    fn tally(&mut self, kind: &'static str, what: &str, outcome: Imported) {
        match outcome {
            Imported::Created(_) => self.summary.count(kind).created += 1,
            Imported::Updated(_) => self.summary.count(kind).updated += 1,
            Imported::Unchanged(_) => self.summary.count(kind).unchanged += 1,
            Imported::Rejected(rejection) => {
                self.skip(kind, what, rejection.code(), &rejection.to_string())
            }
        }
    }
}

/// A group's name as Django's `Group.name` holds it: not empty, at most
/// [`GROUP_NAME_MAX_CHARS`] characters.
fn check_group(group: &GroupRow) -> Result<(), &'static str> {
    if group.name.is_empty() {
        Err("the group's name is empty")
    } else if group.name.chars().count() > GROUP_NAME_MAX_CHARS {
        Err("the group's name is longer than 150 characters")
    } else {
        Ok(())
    }
}
