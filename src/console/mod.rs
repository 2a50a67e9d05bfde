//! The analyst console (`cellwatch console`, and `cellwatch run` with `[http]
//! console = true`): a web page with a live map of cases, the case queue and case
//! pages with evidence and lifecycle, logins and roles, and the JSON API the page
//! uses (docs/console.md).
//!
//! A tool over the inspector's store ([`crate::inspect`]): cases come from the same
//! `FolderStore` / `ClickHouseStore` as `cellwatch cases`, filters are the same
//! `CaseFilter`, status changes go through the same lifecycle and audit trail, with
//! the logged-in user as the actor. The service never imports this module; the
//! binary hands the console's router to the service's HTTP endpoint.
//!
//! Files: `server.rs` (routes, listener), `api/` (handlers), `query.rs` (request
//! parsing as pure functions), `auth/` (users file, sessions, CSRF), `live.rs` (the
//! live case index and its poller), `records.rs` (the evidence records of the last
//! cases opened), `store.rs` (the store handle), `limits.rs`
//! (request limits, session cookie, security headers), `assets.rs` (the embedded page).

pub(crate) mod api;
pub(crate) mod assets;
pub mod auth;
pub mod error;
pub(crate) mod limits;
pub mod live;
pub mod query;
pub(crate) mod records;
pub mod server;
pub mod store;

pub use auth::session::CSRF_HEADER;
pub use auth::users::{Role, UsersFile};
pub use error::ConsoleError;
pub use live::StoreSource;
pub use server::{bind, listen_is_loopback, router, serve, ConsoleOptions};
pub use store::ConsoleStore;
