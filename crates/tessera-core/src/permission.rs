//! Permission classes, as DRF's `rest_framework/permissions.py`, composable with
//! `&`, `|` and `!`.
//!
//! Every permission answers twice: [`Permission::has_permission`] for the
//! request, [`Permission::has_object_permission`] for one object. A view grants
//! an object only when both hold. Composition keeps that rule *per operand*:
//! `a | b` grants an object when `a` grants it (request and object) or `b` does.
//! DRF's `OR` before 3.15 checked the object-level answers alone, so
//! `IsOwner | IsStaff` let a non-owner through whenever `IsStaff.has_permission`
//! failed but its default `has_object_permission` said yes (DRF #7117).
//!
//! ```
//! use tessera_core::permission::{IsAuthenticated, IsStaff, IsAuthenticatedOrReadOnly, Permission, RequestInfo};
//! use tessera_core::Identity;
//!
//! let policy = IsAuthenticated & (IsStaff | !IsAuthenticatedOrReadOnly);
//! let get = RequestInfo::new(http::Method::GET);
//! assert!(!policy.has_permission(&get, &Identity::Anonymous));
//! ```

use crate::identity::Identity;
use http::Method;
use std::any::Any;
use std::fmt::Debug;
use std::ops::{BitAnd, BitOr, Not};
use std::sync::Arc;

/// What a permission may know of the request besides the identity.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    /// The request method.
    pub method: Method,
}

impl RequestInfo {
    /// Information about a request with this method.
    pub fn new(method: Method) -> Self {
        RequestInfo { method }
    }

    /// DRF's `SAFE_METHODS`: GET, HEAD, OPTIONS.
    pub fn is_safe_method(&self) -> bool {
        matches!(self.method, Method::GET | Method::HEAD | Method::OPTIONS)
    }
}

/// A permission class.
pub trait Permission: Send + Sync + Debug + 'static {
    /// Whether the request may proceed at all.
    fn has_permission(&self, request: &RequestInfo, identity: &Identity) -> bool;

    /// Whether the request may act on `object`. Called only after
    /// [`has_permission`](Permission::has_permission) held. The default allows,
    /// as DRF's `BasePermission`.
    fn has_object_permission(
        &self,
        request: &RequestInfo,
        identity: &Identity,
        object: &dyn Any,
    ) -> bool {
        let _ = (request, identity, object);
        true
    }

    /// The message of the 403 this permission's refusal gives, if not DRF's
    /// default "You do not have permission to perform this action."
    fn message(&self) -> Option<&str> {
        None
    }
}

/// Whether `permission` grants `object`: both of its checks hold.
pub fn grants_object<P: Permission + ?Sized>(
    permission: &P,
    request: &RequestInfo,
    identity: &Identity,
    object: &dyn Any,
) -> bool {
    permission.has_permission(request, identity)
        && permission.has_object_permission(request, identity, object)
}

/// A type-erased permission, cheap to clone; what a route's policy holds.
#[derive(Debug, Clone)]
pub struct Perm(pub Arc<dyn Permission>);

impl Perm {
    /// Erases a permission's type.
    pub fn new(permission: impl Permission) -> Self {
        Perm(Arc::new(permission))
    }
}

impl Permission for Perm {
    fn has_permission(&self, request: &RequestInfo, identity: &Identity) -> bool {
        self.0.has_permission(request, identity)
    }
    fn has_object_permission(&self, r: &RequestInfo, i: &Identity, o: &dyn Any) -> bool {
        self.0.has_object_permission(r, i, o)
    }
    fn message(&self) -> Option<&str> {
        self.0.message()
    }
}

/// `a & b`: both must hold, at request and at object level.
#[derive(Debug, Clone)]
pub struct And<A, B>(pub A, pub B);

impl<A: Permission, B: Permission> Permission for And<A, B> {
    fn has_permission(&self, r: &RequestInfo, i: &Identity) -> bool {
        self.0.has_permission(r, i) && self.1.has_permission(r, i)
    }
    fn has_object_permission(&self, r: &RequestInfo, i: &Identity, o: &dyn Any) -> bool {
        self.0.has_object_permission(r, i, o) && self.1.has_object_permission(r, i, o)
    }
    fn message(&self) -> Option<&str> {
        self.0.message().or(self.1.message())
    }
}

/// `a | b`: either must hold; at object level, either *operand* must grant the
/// object on its own (request and object check), which fixes DRF #7117.
#[derive(Debug, Clone)]
pub struct Or<A, B>(pub A, pub B);

impl<A: Permission, B: Permission> Permission for Or<A, B> {
    fn has_permission(&self, r: &RequestInfo, i: &Identity) -> bool {
        self.0.has_permission(r, i) || self.1.has_permission(r, i)
    }
    fn has_object_permission(&self, r: &RequestInfo, i: &Identity, o: &dyn Any) -> bool {
        grants_object(&self.0, r, i, o) || grants_object(&self.1, r, i, o)
    }
}

/// `!a`: holds where `a`'s request-level check does not (DRF's `~`). Its
/// object-level check refuses any object `a` would grant whole, which, once the
/// request-level check passed, is none: `!a` is a request-level negation.
#[derive(Debug, Clone)]
pub struct NotPerm<A>(pub A);

impl<A: Permission> Permission for NotPerm<A> {
    fn has_permission(&self, r: &RequestInfo, i: &Identity) -> bool {
        !self.0.has_permission(r, i)
    }
    fn has_object_permission(&self, r: &RequestInfo, i: &Identity, o: &dyn Any) -> bool {
        !grants_object(&self.0, r, i, o)
    }
}

/// Implements `&`, `|` and `!` for permission types, so that they compose with
/// operators. Use it for your own permissions:
///
/// ```
/// use tessera_core::permission::{IsStaff, Permission, RequestInfo};
/// use tessera_core::{permission_ops, Identity};
///
/// #[derive(Debug, Clone)]
/// struct IsOwner;
/// impl Permission for IsOwner {
///     fn has_permission(&self, _: &RequestInfo, _: &Identity) -> bool { true }
/// }
/// permission_ops!(IsOwner);
///
/// let either = IsOwner | IsStaff;
/// ```
#[macro_export]
macro_rules! permission_ops {
    ($($ty:ty),* $(,)?) => {$(
        impl<R: $crate::permission::Permission> ::std::ops::BitAnd<R> for $ty {
            type Output = $crate::permission::And<$ty, R>;
            fn bitand(self, rhs: R) -> Self::Output { $crate::permission::And(self, rhs) }
        }
        impl<R: $crate::permission::Permission> ::std::ops::BitOr<R> for $ty {
            type Output = $crate::permission::Or<$ty, R>;
            fn bitor(self, rhs: R) -> Self::Output { $crate::permission::Or(self, rhs) }
        }
        impl ::std::ops::Not for $ty {
            type Output = $crate::permission::NotPerm<$ty>;
            fn not(self) -> Self::Output { $crate::permission::NotPerm(self) }
        }
    )*};
}

impl<A: Permission, B: Permission, R: Permission> BitAnd<R> for And<A, B> {
    type Output = And<Self, R>;
    fn bitand(self, rhs: R) -> Self::Output {
        And(self, rhs)
    }
}
impl<A: Permission, B: Permission, R: Permission> BitOr<R> for And<A, B> {
    type Output = Or<Self, R>;
    fn bitor(self, rhs: R) -> Self::Output {
        Or(self, rhs)
    }
}
impl<A: Permission, B: Permission> Not for And<A, B> {
    type Output = NotPerm<Self>;
    fn not(self) -> Self::Output {
        NotPerm(self)
    }
}
impl<A: Permission, B: Permission, R: Permission> BitAnd<R> for Or<A, B> {
    type Output = And<Self, R>;
    fn bitand(self, rhs: R) -> Self::Output {
        And(self, rhs)
    }
}
impl<A: Permission, B: Permission, R: Permission> BitOr<R> for Or<A, B> {
    type Output = Or<Self, R>;
    fn bitor(self, rhs: R) -> Self::Output {
        Or(self, rhs)
    }
}
impl<A: Permission, B: Permission> Not for Or<A, B> {
    type Output = NotPerm<Self>;
    fn not(self) -> Self::Output {
        NotPerm(self)
    }
}
impl<A: Permission, R: Permission> BitAnd<R> for NotPerm<A> {
    type Output = And<Self, R>;
    fn bitand(self, rhs: R) -> Self::Output {
        And(self, rhs)
    }
}
impl<A: Permission, R: Permission> BitOr<R> for NotPerm<A> {
    type Output = Or<Self, R>;
    fn bitor(self, rhs: R) -> Self::Output {
        Or(self, rhs)
    }
}
impl<A: Permission> Not for NotPerm<A> {
    type Output = NotPerm<Self>;
    fn not(self) -> Self::Output {
        NotPerm(self)
    }
}

/// DRF's `AllowAny`.
#[derive(Debug, Clone, Copy)]
pub struct AllowAny;

impl Permission for AllowAny {
    fn has_permission(&self, _: &RequestInfo, _: &Identity) -> bool {
        true
    }
}

/// DRF's `IsAuthenticated`.
#[derive(Debug, Clone, Copy)]
pub struct IsAuthenticated;

impl Permission for IsAuthenticated {
    fn has_permission(&self, _: &RequestInfo, identity: &Identity) -> bool {
        identity.is_authenticated()
    }
}

/// DRF's `IsAdminUser`: an authenticated user with `is_staff`.
#[derive(Debug, Clone, Copy)]
pub struct IsStaff;

impl Permission for IsStaff {
    fn has_permission(&self, _: &RequestInfo, identity: &Identity) -> bool {
        identity.user().is_some_and(|u| u.is_staff)
    }
}

/// DRF's `IsAuthenticatedOrReadOnly`.
#[derive(Debug, Clone, Copy)]
pub struct IsAuthenticatedOrReadOnly;

impl Permission for IsAuthenticatedOrReadOnly {
    fn has_permission(&self, request: &RequestInfo, identity: &Identity) -> bool {
        request.is_safe_method() || identity.is_authenticated()
    }
}

/// Holds when the request's credential carries `scope`. A session, or a token
/// without scopes, carries the owner's full rights and so every scope.
#[derive(Debug, Clone)]
pub struct HasScope(pub String);

impl HasScope {
    /// A scope requirement.
    pub fn new(scope: impl Into<String>) -> Self {
        HasScope(scope.into())
    }
}

impl Permission for HasScope {
    fn has_permission(&self, _: &RequestInfo, identity: &Identity) -> bool {
        crate::scope::grants(identity, &self.0)
    }
}

/// Holds when the authenticated user belongs to one of the named groups
/// (Django's `auth_group` membership, as `tessera import-django` carries it
/// over, shown in [`User::groups`](crate::User::groups)). Group names are
/// compared exactly, as Django's `Group.name` is unique exactly.
///
/// An anonymous caller fails it, and the route answers `401` as it does for
/// [`IsAuthenticated`] (when the route has an authenticator with a
/// challenge); a signed-in user outside the groups gets `403` with DRF's
/// default message.
///
/// A superuser does **not** pass implicitly: Django's `has_perm` grants a
/// superuser every *permission*, but group membership is a fact about the
/// account, not a permission, and `user.groups.filter(name=...)` is false for
/// a superuser outside the group. Compose to let others in, for example
/// `HasGroup::new("editors") | IsStaff`, or with a permission of your own on
/// `is_superuser`.
///
/// ```
/// use tessera_core::permission::{HasGroup, IsStaff, Permission, RequestInfo};
/// use tessera_core::Identity;
///
/// let editors = HasGroup::new("editors");
/// let either = HasGroup::any_of(["editors", "reviewers"]) | IsStaff;
/// let get = RequestInfo::new(http::Method::GET);
/// assert!(!editors.has_permission(&get, &Identity::Anonymous));
/// assert!(!either.has_permission(&get, &Identity::Anonymous));
/// ```
#[derive(Debug, Clone)]
pub struct HasGroup(Vec<String>);

impl HasGroup {
    /// Membership of `group` is required.
    pub fn new(group: impl Into<String>) -> Self {
        HasGroup(vec![group.into()])
    }

    /// Membership of any one of `groups` is required (none given: nobody
    /// passes).
    pub fn any_of<I, G>(groups: I) -> Self
    where
        I: IntoIterator<Item = G>,
        G: Into<String>,
    {
        HasGroup(groups.into_iter().map(Into::into).collect())
    }

    /// The groups, any one of which is enough.
    pub fn groups(&self) -> &[String] {
        &self.0
    }
}

impl Permission for HasGroup {
    fn has_permission(&self, _: &RequestInfo, identity: &Identity) -> bool {
        identity
            .user()
            .is_some_and(|u| u.groups.iter().any(|g| self.0.contains(g)))
    }
}

permission_ops!(
    Perm,
    AllowAny,
    IsAuthenticated,
    IsStaff,
    IsAuthenticatedOrReadOnly,
    HasScope,
    HasGroup
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{Credential, Principal};
    use crate::user::User;
    use time::OffsetDateTime;

    fn user(id: i64, staff: bool) -> Identity {
        Identity::Authenticated(Principal {
            user: User {
                id,
                username: format!("u{id}"),
                email: String::new(),
                is_active: true,
                is_staff: staff,
                is_superuser: false,
                date_joined: OffsetDateTime::UNIX_EPOCH,
                last_login: None,
                groups: Vec::new(),
            },
            credential: Credential::Token {
                id: 1,
                scopes: vec![],
                authenticated_at: None,
            },
        })
    }

    fn get() -> RequestInfo {
        RequestInfo::new(Method::GET)
    }
    fn post() -> RequestInfo {
        RequestInfo::new(Method::POST)
    }

    /// An app object owned by a user.
    struct Note {
        owner: i64,
    }

    /// Object-level only, as DRF's typical `IsOwner`.
    #[derive(Debug, Clone, Copy)]
    struct IsOwner;
    impl Permission for IsOwner {
        fn has_permission(&self, _: &RequestInfo, i: &Identity) -> bool {
            i.is_authenticated()
        }
        fn has_object_permission(&self, _: &RequestInfo, i: &Identity, o: &dyn Any) -> bool {
            match (i.user(), o.downcast_ref::<Note>()) {
                (Some(u), Some(note)) => note.owner == u.id,
                _ => false,
            }
        }
    }
    permission_ops!(IsOwner);

    #[test]
    fn builtins_match_drf() {
        let anon = Identity::Anonymous;
        assert!(AllowAny.has_permission(&post(), &anon));
        assert!(!IsAuthenticated.has_permission(&get(), &anon));
        assert!(IsAuthenticated.has_permission(&get(), &user(1, false)));
        assert!(!IsStaff.has_permission(&get(), &user(1, false)));
        assert!(IsStaff.has_permission(&get(), &user(1, true)));
        assert!(!IsStaff.has_permission(&get(), &anon));
        assert!(IsAuthenticatedOrReadOnly.has_permission(&get(), &anon));
        assert!(IsAuthenticatedOrReadOnly.has_permission(&RequestInfo::new(Method::HEAD), &anon));
        assert!(IsAuthenticatedOrReadOnly.has_permission(&RequestInfo::new(Method::OPTIONS), &anon));
        assert!(!IsAuthenticatedOrReadOnly.has_permission(&post(), &anon));
        assert!(IsAuthenticatedOrReadOnly.has_permission(&post(), &user(1, false)));
    }

    #[test]
    fn operators_compose_at_request_level() {
        let anon = Identity::Anonymous;
        let p = IsAuthenticated & IsStaff;
        assert!(!p.has_permission(&get(), &user(1, false)));
        assert!(p.has_permission(&get(), &user(1, true)));
        let p = IsStaff | IsAuthenticatedOrReadOnly;
        assert!(p.has_permission(&get(), &anon));
        assert!(!p.has_permission(&post(), &anon));
        let p = !IsAuthenticated;
        assert!(p.has_permission(&get(), &anon));
        assert!(!p.has_permission(&get(), &user(1, false)));
        // `!IsStaff` never admits an anonymous write when combined as DRF's docs suggest.
        let p = IsAuthenticated & !IsStaff;
        assert!(!p.has_permission(&post(), &anon));
    }

    #[test]
    fn or_grants_an_object_only_through_an_operand_that_grants_it_whole() {
        // `IsStaff | IsOwner` where IsStaff has only a request-level check:
        // DRF's pre-3.15 `OR.has_object_permission` asked only the object-level
        // answers, and IsStaff's default `True` let any non-owner through.
        let p = IsStaff | IsOwner;
        let alice = user(1, false);
        let staff = user(2, true);
        let mine = Note { owner: 1 };
        let theirs = Note { owner: 3 };
        assert!(p.has_permission(&get(), &alice));
        assert!(grants_object(&p, &get(), &alice, &mine));
        assert!(!grants_object(&p, &get(), &alice, &theirs), "DRF #7117");
        assert!(grants_object(&p, &get(), &staff, &theirs));
        assert!(!p.has_permission(&get(), &Identity::Anonymous));
    }

    #[test]
    fn and_and_not_at_object_level() {
        let alice = user(1, false);
        let mine = Note { owner: 1 };
        let theirs = Note { owner: 3 };
        let p = IsAuthenticated & IsOwner;
        assert!(grants_object(&p, &get(), &alice, &mine));
        assert!(!grants_object(&p, &get(), &alice, &theirs));
        // `!` negates the request-level answer, as DRF's `~`: IsOwner holds at
        // request level for any signed-in user, so `!IsOwner` refuses them,
        // whatever the object; it admits only those IsOwner refuses outright.
        let p = !IsOwner;
        assert!(!p.has_permission(&get(), &alice));
        assert!(!grants_object(&p, &get(), &alice, &theirs));
        assert!(grants_object(&p, &get(), &Identity::Anonymous, &theirs));
    }

    #[test]
    fn scopes() {
        let mut scoped = user(1, false);
        if let Identity::Authenticated(p) = &mut scoped {
            p.credential = Credential::Token {
                id: 1,
                scopes: vec!["notes:read".into()],
                authenticated_at: None,
            };
        }
        assert!(HasScope::new("notes:read").has_permission(&get(), &scoped));
        assert!(!HasScope::new("notes:write").has_permission(&get(), &scoped));
        assert!(HasScope::new("notes:write").has_permission(&get(), &user(1, false)));
        assert!(!HasScope::new("x").has_permission(&get(), &Identity::Anonymous));
    }

    fn in_groups(id: i64, groups: &[&str], superuser: bool) -> Identity {
        let mut identity = user(id, superuser);
        if let Identity::Authenticated(p) = &mut identity {
            p.user.groups = groups.iter().map(|g| (*g).to_owned()).collect();
            p.user.is_superuser = superuser;
        }
        identity
    }

    #[test]
    fn groups() {
        let editor = in_groups(1, &["editors", "staff-room"], false);
        let reader = in_groups(2, &["readers"], false);
        let nobody = in_groups(3, &[], false);
        let editors = HasGroup::new("editors");
        assert!(editors.has_permission(&get(), &editor));
        assert!(editors.has_permission(&post(), &editor));
        assert!(!editors.has_permission(&get(), &reader));
        assert!(!editors.has_permission(&get(), &nobody));
        assert!(!editors.has_permission(&get(), &Identity::Anonymous));
        // Exact names, as Django's unique `Group.name`.
        assert!(!HasGroup::new("Editors").has_permission(&get(), &editor));
        assert!(!HasGroup::new("editor").has_permission(&get(), &editor));
        let either = HasGroup::any_of(["readers", "editors"]);
        assert!(either.has_permission(&get(), &editor));
        assert!(either.has_permission(&get(), &reader));
        assert!(!either.has_permission(&get(), &nobody));
        assert_eq!(either.groups(), ["readers", "editors"]);
        assert!(!HasGroup::any_of(Vec::<String>::new()).has_permission(&get(), &editor));
        // A superuser (and staff) outside the group does not pass: membership
        // is a fact, not a permission.
        let root = in_groups(4, &[], true);
        assert!(!editors.has_permission(&get(), &root));
        assert!((editors.clone() | IsStaff).has_permission(&get(), &root));
        assert!(!(editors & IsStaff).has_permission(&get(), &editor));
    }
}
