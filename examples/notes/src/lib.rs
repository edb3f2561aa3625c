//! Notes: DRF's object-level permissions, written with `tessera-axum`.
//!
//! The shape of DRF's tutorial ("snippets"): every note has an owner; the
//! list shows the caller's own notes (a `get_queryset` filtered by owner);
//! anyone signed in may read a note they have the id of; only its owner
//! may change or delete it ([`IsOwnerOrReadOnly`], checked per object in the
//! handler as DRF's `get_object` does); staff may moderate any note, but a
//! scoped token of theirs needs the `notes:moderate` scope for it
//! ([`HasScope`] inside the permission expression). A scoped token needs
//! `notes:read` to read and `notes:write` to write (the policy's scopes).
//!
//! | Route | Who |
//! |---|---|
//! | `GET /notes` | signed in: the caller's notes |
//! | `POST /notes` | signed in: a new note, owned by the caller |
//! | `GET /notes/{id}` | signed in |
//! | `PUT /notes/{id}`, `DELETE /notes/{id}` | the owner, or staff with `notes:moderate` |
//! | `GET /openapi.json` | anyone: the description of all of the above and the ready views |
//!
//! The notes live in memory ([`Notes`]); users, tokens and sessions in
//! Tessera's store. See `README.md` for a walk through the code.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use tessera_axum::body::JsonObject;
use tessera_axum::fields::{CharField, Fields};
use tessera_axum::openapi::{object_schema, op, Auth, Returns, Routes};
use tessera_axum::prelude::*;

/// The scope a scoped token needs to read notes.
pub const READ: &str = "notes:read";
/// The scope a scoped token needs to create, change or delete notes.
pub const WRITE: &str = "notes:write";
/// The scope a staff member's scoped token needs to change others' notes.
pub const MODERATE: &str = "notes:moderate";

/// A note, owned by the user who wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The note's id.
    pub id: i64,
    /// The owner's user id.
    pub owner: i64,
    /// The owner's username, as shown.
    pub owner_name: String,
    /// A title, 1 to 100 characters.
    pub title: String,
    /// The text, possibly empty.
    pub body: String,
}

impl Note {
    /// The note as the API shows it (DRF's tutorial serializer: the owner
    /// by username, read-only).
    pub fn to_json(&self) -> Value {
        json!({"id": self.id, "owner": self.owner_name, "title": self.title, "body": self.body})
    }
}

/// The notes, in memory (a real application would keep them in its
/// database, beside Tessera's tables).
#[derive(Debug, Clone, Default)]
pub struct Notes(Arc<Mutex<NotesInner>>);

#[derive(Debug, Default)]
struct NotesInner {
    next_id: i64,
    by_id: BTreeMap<i64, Note>,
}

impl Notes {
    fn with<T>(&self, f: impl FnOnce(&mut NotesInner) -> T) -> T {
        // A panic while the lock was held leaves whole notes behind: go on.
        let mut inner = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut inner)
    }

    /// Stores a new note of `owner`.
    pub fn insert(&self, owner: &User, title: String, body: String) -> Note {
        self.with(|inner| {
            inner.next_id += 1;
            let note = Note {
                id: inner.next_id,
                owner: owner.id,
                owner_name: owner.username.clone(),
                title,
                body,
            };
            inner.by_id.insert(note.id, note.clone());
            note
        })
    }

    /// The note with this id.
    pub fn get(&self, id: i64) -> Option<Note> {
        self.with(|inner| inner.by_id.get(&id).cloned())
    }

    /// The notes of `owner`, by id.
    pub fn owned_by(&self, owner: i64) -> Vec<Note> {
        self.with(|inner| {
            inner
                .by_id
                .values()
                .filter(|n| n.owner == owner)
                .cloned()
                .collect()
        })
    }

    fn update(&self, id: i64, title: String, body: String) -> Option<Note> {
        self.with(|inner| {
            let note = inner.by_id.get_mut(&id)?;
            note.title = title;
            note.body = body;
            Some(note.clone())
        })
    }

    fn remove(&self, id: i64) -> Option<Note> {
        self.with(|inner| inner.by_id.remove(&id))
    }
}

/// DRF's tutorial `IsOwnerOrReadOnly`: reading is open to whoever the rest
/// of the policy admits; changing a note needs to own it.
///
/// It has no opinion at request level (`true`, as DRF's
/// `BasePermission.has_permission`): the decision is per object, taken when
/// the handler calls [`PolicyContext::check_object`] with the note.
#[derive(Debug, Clone, Copy)]
pub struct IsOwnerOrReadOnly;

impl Permission for IsOwnerOrReadOnly {
    fn has_permission(&self, _: &RequestInfo, _: &Identity) -> bool {
        true
    }

    fn has_object_permission(
        &self,
        request: &RequestInfo,
        identity: &Identity,
        object: &dyn Any,
    ) -> bool {
        if request.is_safe_method() {
            return true;
        }
        // Another type of object is not ours to grant.
        match (identity.user(), object.downcast_ref::<Note>()) {
            (Some(user), Some(note)) => note.owner == user.id,
            _ => false,
        }
    }
}

// `&`, `|` and `!` for our permission.
permission_ops!(IsOwnerOrReadOnly);

/// The policy of every notes route: signed in; per note, the owner (or a
/// moderator) to change it; a scoped token needs `notes:read` to read and
/// `notes:write` to write.
///
/// `|` grants a note when one side grants it whole (request and object
/// check): `IsStaff` alone would grant every object at object level (DRF's
/// default `True`), the bug of DRF #7117 that Tessera's `|` does not have.
pub fn policy() -> Policy {
    let moderator = IsStaff & HasScope::new(MODERATE);
    Policy::new()
        .permission(IsAuthenticated & (IsOwnerOrReadOnly | moderator))
        .scopes(READ, WRITE)
}

/// The notes routes, with Tessera's ready views (`/api-token-auth/`,
/// `/auth/*`) merged in and `GET /openapi.json` describing them all.
///
/// Each route is declared once, in the route table: its operations (their
/// scopes, bodies and answers) document the route and put the scopes on its
/// policy, so the description cannot drift from what is enforced.
pub fn app(tessera: &Tessera, notes: Notes) -> Router {
    let d = Auth::Default;
    let routes: Routes<Notes> = Routes::new()
        .guarded(
            tessera,
            "/notes",
            vec![
                op(Method::GET, "The caller's notes", d, &[], &[200, 401, 403])
                    .scope(READ)
                    .returns(Returns::ListOf("Note")),
                op(
                    Method::POST,
                    "A new note, owned by the caller",
                    d,
                    &["title", "body?"],
                    &[201, 400, 401, 403],
                )
                .scope(WRITE)
                .returns(Returns::Schema("Note")),
            ],
            policy(),
            get(list).post(create),
        )
        .guarded(
            tessera,
            "/notes/{id}",
            vec![
                op(Method::GET, "A note", d, &[], &[200, 401, 403, 404])
                    .scope(READ)
                    .returns(Returns::Schema("Note")),
                op(
                    Method::PUT,
                    "Replace a note: its owner, or a moderator",
                    d,
                    &["title", "body?"],
                    &[200, 400, 401, 403, 404],
                )
                .scope(WRITE)
                .returns(Returns::Schema("Note")),
                op(
                    Method::DELETE,
                    "Delete a note: its owner, or a moderator",
                    d,
                    &[],
                    &[204, 401, 403, 404],
                )
                .scope(WRITE),
            ],
            policy(),
            get(detail).put(update).delete(remove),
        )
        .schema("Note", object_schema(&["id", "owner", "title", "body"]))
        .views(tessera, &Views::new());
    let (router, _docs) = routes.into_router("Notes", env!("CARGO_PKG_VERSION"));
    router.with_state(notes)
}

/// `GET /notes`: the caller's own notes (DRF's `get_queryset` filtered by
/// owner), so the list needs no object check.
async fn list(State(notes): State<Notes>, AuthUser(me): AuthUser) -> Json<Value> {
    let mine = notes.owned_by(me.user.id);
    Json(mine.iter().map(Note::to_json).collect())
}

/// `POST /notes`: a note owned by the caller (DRF's `perform_create`
/// setting `owner=self.request.user`).
async fn create(
    State(notes): State<Notes>,
    AuthUser(me): AuthUser,
    JsonObject(data): JsonObject,
) -> Result<(StatusCode, Json<Value>), Rejection> {
    let (title, body) = read_note(&data)?;
    let note = notes.insert(&me.user, title, body);
    Ok((StatusCode::CREATED, Json(note.to_json())))
}

/// `GET /notes/{id}`.
async fn detail(
    State(notes): State<Notes>,
    context: PolicyContext,
    Caller(identity): Caller,
    method: Method,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let note = object(&notes, &context, &identity, method, &id)?;
    Ok(Json(note.to_json()))
}

/// `PUT /notes/{id}`: the owner (or a moderator) replaces title and body.
async fn update(
    State(notes): State<Notes>,
    context: PolicyContext,
    Caller(identity): Caller,
    method: Method,
    Path(id): Path<String>,
    JsonObject(data): JsonObject,
) -> Result<Json<Value>, Rejection> {
    let note = object(&notes, &context, &identity, method, &id)?;
    let (title, body) = read_note(&data)?;
    let note = notes
        .update(note.id, title, body)
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(note.to_json()))
}

/// `DELETE /notes/{id}`: the owner (or a moderator) deletes it.
async fn remove(
    State(notes): State<Notes>,
    context: PolicyContext,
    Caller(identity): Caller,
    method: Method,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let note = object(&notes, &context, &identity, method, &id)?;
    notes.remove(note.id).ok_or_else(ApiError::not_found)?;
    Ok(StatusCode::NO_CONTENT)
}

/// DRF's `get_object`: the note, `404` when there is none (an id that is not
/// an integer does not match Django's `<int:pk>` either), then the
/// policy's object-level check (`403` when it refuses).
fn object(
    notes: &Notes,
    context: &PolicyContext,
    identity: &Identity,
    method: Method,
    id: &str,
) -> Result<Note, ApiError> {
    let note = id
        .parse::<i64>()
        .ok()
        .and_then(|id| notes.get(id))
        .ok_or_else(ApiError::not_found)?;
    context.check_object(&RequestInfo::new(method), identity, &note)?;
    Ok(note)
}

/// The fields of a note, DRF's serializer style: every field's errors at
/// once, `400` `{"title": ["This field is required."]}`.
fn read_note(data: &serde_json::Map<String, Value>) -> Result<(String, String), Rejection> {
    let mut fields = Fields::new(data);
    let title = fields.char("title", CharField::required().max_length(100));
    let body = fields.char("body", CharField::optional().allow_blank());
    fields.finish()?;
    let title = title.ok_or_else(ApiError::internal)?;
    Ok((title, body.unwrap_or_default()))
}
