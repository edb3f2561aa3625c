//! Users and credentials carried over from a Django project
//! (`tessera import-django`), and the store ability that writes them.
//!
//! An import is re-runnable: each Django user is linked to the Tessera user
//! it became by its Django id, so a second run updates what changed in
//! Django and adds what is new, and never makes a second user. Tokens and
//! sessions are found again by their digests. Nothing is ever deleted by an
//! import.
//!
//! A store writes one batch in one transaction ([`ImportStore`]), each row
//! with its audit event (`user_created` / `user_updated`, `token_created`,
//! `login_succeeded` for a carried-over session, all with
//! `"via": "import-django"`), and answers each row with an [`Imported`]. A
//! row that cannot be written (a username another user holds, a credential
//! whose user was never imported) is [`Imported::Rejected`] with its reason,
//! and the batch goes on. With [`ImportBatch::dry_run`] the transaction is
//! rolled back: the answers say what would happen.

use crate::audit::{EventKind, NewAuditEvent};
use crate::error::StoreError;
use crate::token::KeyDigest;
use async_trait::async_trait;
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

/// The `"via"` of every event an import writes.
pub const VIA: &str = "import-django";

/// A Django `auth_user` row, checked and normalised.
#[derive(Clone, PartialEq, Eq)]
pub struct ImportedUser {
    /// Django's primary key: the link to the Tessera user across runs.
    pub django_id: i64,
    /// NFKC-normalised and valid by Django's rules.
    pub username: String,
    /// E-mail address.
    pub email: String,
    /// Django's `first_name`.
    pub first_name: String,
    /// Django's `last_name`.
    pub last_name: String,
    /// Django's `password`, kept as it is (verified at login, then upgraded).
    pub password_hash: String,
    /// `is_active`.
    pub is_active: bool,
    /// `is_staff`.
    pub is_staff: bool,
    /// `is_superuser`.
    pub is_superuser: bool,
    /// `date_joined`; `None` when the (custom) user model has none: a new
    /// user joins at the import's time, an existing one keeps its date.
    pub date_joined: Option<OffsetDateTime>,
    /// `last_login`.
    pub last_login: Option<OffsetDateTime>,
    /// The names of the user's Django groups: the membership a store sets,
    /// exactly (groups not yet in the store are created).
    pub groups: Vec<String>,
}

impl std::fmt::Debug for ImportedUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportedUser")
            .field("django_id", &self.django_id)
            .field("username", &self.username)
            .field("password_hash", &"[redacted]")
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

impl ImportedUser {
    /// What a store keeps to tell, on a later run, whether Django's hash
    /// changed (the user changed the password in Django meanwhile): SHA-256
    /// of the imported hash, not the hash itself, so that a weaker legacy
    /// hash does not outlive its upgrade at login.
    pub fn password_digest(&self) -> [u8; 32] {
        Sha256::digest(self.password_hash.as_bytes()).into()
    }
}

/// Which Django app a token comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TokenKind {
    /// DRF's `authtoken_token` (a 40-hex key kept in plain text by Django).
    Drf,
    /// django-rest-knox's `knox_authtoken` (a SHA-512 digest of the key).
    Knox,
}

impl TokenKind {
    /// `"drf"` or `"knox"`.
    pub fn name(self) -> &'static str {
        match self {
            TokenKind::Drf => "drf",
            TokenKind::Knox => "knox",
        }
    }
}

/// A token to import, as its digest only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedToken {
    /// Where it comes from.
    pub kind: TokenKind,
    /// The owner's Django id.
    pub django_user_id: i64,
    /// The digest Tessera looks the key up by ([`crate::token::TokenKey::digest`]).
    pub digest: KeyDigest,
    /// Django's `created`.
    pub created: OffsetDateTime,
    /// knox's `expiry`; DRF keys never expire.
    pub expires: Option<OffsetDateTime>,
}

impl ImportedToken {
    /// The name the token gets in Tessera: `drf` or `knox`.
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }
}

/// A Django database session whose signature and user were checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedSession {
    /// The owner's Django id (`_auth_user_id`).
    pub django_user_id: i64,
    /// SHA-256 of Django's session key (the `sessionid` cookie).
    pub digest: KeyDigest,
    /// The session's other data (`_auth_user_*` keys removed).
    pub data: serde_json::Value,
    /// Django's `expire_date`.
    pub expires: OffsetDateTime,
}

/// A batch and how to write it.
#[derive(Debug, Clone, Copy)]
pub struct ImportBatch {
    /// The time of the import: events, and a session's creation.
    pub at: OffsetDateTime,
    /// Roll back instead of committing.
    pub dry_run: bool,
}

/// What became of one imported row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Imported {
    /// A new row, with its Tessera id (in a dry run, the id it would have had).
    Created(i64),
    /// An existing row changed.
    Updated(i64),
    /// An existing row, already as imported.
    Unchanged(i64),
    /// Not written, with the reason.
    Rejected(Rejection),
}

/// Why a store did not write a row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Another Tessera user, not imported from this Django user, has the
    /// username, or one differing from it only in letter case.
    #[error("username {username:?} is taken by Tessera user {existing:?} (usernames are compared ignoring case)")]
    UsernameTaken {
        /// The imported username.
        username: String,
        /// The existing user's username.
        existing: String,
    },
    /// The credential's Django user was not imported (it does not exist, or
    /// was rejected).
    #[error("its user (Django id {django_user_id}) was not imported")]
    NoSuchUser {
        /// The Django id.
        django_user_id: i64,
    },
}

impl Rejection {
    /// A short, stable name of the reason, for the summary.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::UsernameTaken { .. } => "username taken (ignoring case)",
            Rejection::NoSuchUser { .. } => "user not imported",
        }
    }
}

/// The audit event of an imported row: `kind` at `at`, by nobody in
/// particular (a command), with `"via": "import-django"` and `detail`'s
/// other keys.
pub fn event(
    at: OffsetDateTime,
    kind: EventKind,
    username: &str,
    detail: serde_json::Value,
) -> NewAuditEvent {
    let mut detail = match detail {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    detail.insert("via".to_owned(), serde_json::Value::from(VIA));
    NewAuditEvent {
        username: username.to_owned(),
        detail: serde_json::Value::Object(detail),
        ..NewAuditEvent::new(at, kind)
    }
}

/// The longest group name Django's `Group.name` holds.
pub const GROUP_NAME_MAX_CHARS: usize = 150;

/// Writes imported rows, a batch per transaction. Each method answers every
/// row of its batch, in order.
#[async_trait]
pub trait ImportStore: Send + Sync + 'static {
    /// Groups, by name (Django's natural key for `auth_group`): an existing
    /// one is [`Imported::Unchanged`], a new one is created. A group renamed
    /// in Django arrives as a new group; the old one loses its members on the
    /// users' next import and is kept (an import deletes nothing).
    async fn import_groups(
        &self,
        names: &[String],
        batch: ImportBatch,
    ) -> Result<Vec<Imported>, StoreError>;

    /// Users: one linked to this Django id is updated (`user_updated`) when
    /// a field differs, its password hash only when Django's changed since
    /// the last run ([`ImportedUser::password_digest`]); otherwise a new user
    /// is created and linked (`user_created`), unless another user holds the
    /// username or one equal to it ignoring ASCII letter case
    /// ([`Rejection::UsernameTaken`]). Rows of one batch see each other.
    ///
    /// Each written user's group membership becomes exactly
    /// [`ImportedUser::groups`] (groups missing from the store are created);
    /// a user whose membership alone changed is [`Imported::Updated`] too.
    async fn import_users(
        &self,
        users: &[ImportedUser],
        batch: ImportBatch,
    ) -> Result<Vec<Imported>, StoreError>;

    /// Tokens, by digest: an existing one is moved to the right user and
    /// given the imported expiry when they differ; a new one is stored,
    /// never expiring unless Django said so, without scopes
    /// (`token_created`, with its kind). A token whose Django user is not
    /// linked is [`Rejection::NoSuchUser`].
    async fn import_tokens(
        &self,
        tokens: &[ImportedToken],
        batch: ImportBatch,
    ) -> Result<Vec<Imported>, StoreError>;

    /// Sessions, by digest, as tokens are; a new one is created at
    /// `batch.at` (its `last_seen`), without a password proof
    /// (`authenticated_at`), and audited as `login_succeeded`.
    async fn import_sessions(
        &self,
        sessions: &[ImportedSession],
        batch: ImportBatch,
    ) -> Result<Vec<Imported>, StoreError>;

    /// The Tessera id of the user linked to this Django id.
    async fn imported_user_id(&self, django_id: i64) -> Result<Option<i64>, StoreError>;
}
