//! Moving from Django: `tessera import-django` reads a Django project's
//! users, DRF and knox tokens and database sessions, from its database
//! ([`database`]) or from `dumpdata` JSON ([`dumpdata`]), and writes them
//! into Tessera's store ([`import`]), so that no password is reset, no
//! client needs a new key and no browser is logged out.
//!
//! - Passwords keep Django's hash and are verified and upgraded to argon2id
//!   at the next login ([`tessera_core::password::django`]).
//! - A DRF key is stored as its SHA-256 only; a knox token as SHA-256 of
//!   knox's SHA-512 digest ([`tessera_core::token`]): `Authorization: Token
//!   <key>` keeps working, and no plaintext key lands anywhere.
//! - A database session is carried over under its own key (the `sessionid`
//!   cookie keeps working) when its signature checks out with Django's
//!   `SECRET_KEY` and its user's password has not changed since
//!   ([`signing`]); the `csrftoken` cookie needs nothing, as Tessera's CSRF
//!   check is Django's.

pub mod columns;
pub mod database;
pub mod dumpdata;
pub mod import;
pub mod signing;
pub mod source;
