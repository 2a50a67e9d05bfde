//! Who may do what in the console: the users file ([`users`]), sessions and CSRF
//! tokens ([`session`]), and the checks every request goes through: reading is open
//! on loopback unless configured otherwise, every change needs a logged-in user with
//! a role that allows it, and the user's role is read from the users file at each
//! check (a removed user is logged out at once).

pub(crate) mod session;
pub mod users;

use crate::config::ConsoleConfig;
use crate::console::error::ConsoleError;
use dashmap::DashMap;
use session::{Sessions, Visitor};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use users::{Role, UserDirectory};

/// Password checks (argon2, 19 MiB each) running at once, at most.
const CONCURRENT_LOGINS: usize = 2;

/// A logged-in user as the users file says now.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Identity {
    pub(crate) name: String,
    pub(crate) role: Role,
}

/// Why a login failed.
#[derive(Debug)]
pub(crate) enum LoginRefusal {
    Wrong,
    Locked { minutes: u64 },
    Unavailable(String),
}

/// Users, sessions and the login throttle.
pub(crate) struct Auth {
    pub(crate) users: UserDirectory,
    pub(crate) sessions: Sessions,
    /// Whether reading needs a login.
    pub(crate) login_to_read: bool,
    failures: DashMap<String, (u32, Instant)>,
    max_failures: u32,
    lockout: Duration,
    checks: Arc<Semaphore>,
}

impl Auth {
    /// Open the users file and the session key; `loopback` says whether the console
    /// listens on loopback only (else reading needs a login too).
    pub(crate) fn open(config: &ConsoleConfig, loopback: bool) -> Result<Auth, ConsoleError> {
        let sessions = Sessions::open(
            &config.session_key_path(),
            Duration::from_secs(config.session_hours * 3600),
            config.cookie_secure,
        )?;
        let users = UserDirectory::new(config.users_file.clone().into());
        let n = users.current()?.users().len();
        if n == 0 {
            tracing::warn!(
                users_file = %users.path().display(),
                "the console has no users yet: nobody can log in or change a status; add one with `cellwatch console user add NAME --role inspector`"
            );
        }
        Ok(Auth {
            users,
            sessions,
            login_to_read: config.login_to_read || !loopback,
            failures: DashMap::new(),
            max_failures: config.login_max_failures,
            lockout: Duration::from_secs(config.login_lockout_minutes * 60),
            checks: Arc::new(Semaphore::new(CONCURRENT_LOGINS)),
        })
    }

    /// The visitor's user, if logged in and still in the users file.
    pub(crate) fn identity(&self, visitor: &Visitor) -> Result<Option<Identity>, ConsoleError> {
        let Some(name) = &visitor.user else {
            return Ok(None);
        };
        let file = self.users.current()?;
        match file.get(name) {
            Some(u) => Ok(Some(Identity {
                name: u.name.clone(),
                role: u.role,
            })),
            None => {
                self.sessions.forget_user(name);
                Ok(None)
            }
        }
    }

    /// Check a user name and password; on success the user is logged in under a new
    /// session id, returned with the identity.
    pub(crate) async fn login(
        &self,
        name: &str,
        password: String,
    ) -> Result<(Identity, String), LoginRefusal> {
        if let Some(minutes) = self.locked(name) {
            return Err(LoginRefusal::Locked { minutes });
        }
        let file = self
            .users
            .current()
            .map_err(|e| LoginRefusal::Unavailable(e.to_string()))?;
        let _permit = self
            .checks
            .acquire()
            .await
            .map_err(|_| LoginRefusal::Unavailable("shutting down".into()))?;
        let name_owned = name.to_string();
        let found = tokio::task::spawn_blocking(move || {
            file.authenticate(&name_owned, &password).map(|u| Identity {
                name: u.name.clone(),
                role: u.role,
            })
        })
        .await
        .map_err(|e| LoginRefusal::Unavailable(e.to_string()))?;
        match found {
            Some(id) => {
                self.failures.remove(name);
                let sid = self.sessions.login(&id.name);
                tracing::info!(user = %id.name, role = id.role.as_str(), "console login");
                Ok((id, sid))
            }
            None => {
                self.note_failure(name);
                // The name is the client's: escaped, so a line break cannot forge a log line.
                tracing::warn!(user = %name.escape_debug(), "console login refused: wrong user name or password");
                Err(LoginRefusal::Wrong)
            }
        }
    }

    /// Minutes left when `name` is locked out.
    fn locked(&self, name: &str) -> Option<u64> {
        let e = self.failures.get(name)?;
        let (count, since) = *e;
        drop(e);
        let elapsed = since.elapsed();
        if elapsed >= self.lockout {
            self.failures.remove(name);
            return None;
        }
        (count >= self.max_failures).then(|| (self.lockout - elapsed).as_secs().div_ceil(60).max(1))
    }

    fn note_failure(&self, name: &str) {
        if self.failures.len() > 10_000 {
            let lockout = self.lockout;
            self.failures
                .retain(|_, (_, since)| since.elapsed() < lockout);
        }
        let mut e = self
            .failures
            .entry(name.to_string())
            .or_insert((0, Instant::now()));
        e.0 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn login_roles_and_lockout() {
        let dir = tempfile::tempdir().unwrap();
        let config = ConsoleConfig {
            users_file: dir.path().join("u.toml").display().to_string(),
            login_max_failures: 2,
            ..Default::default()
        };
        let mut f = users::UsersFile::load(std::path::Path::new(&config.users_file)).unwrap();
        f.add(
            "alice",
            Role::Inspector,
            "correct horse battery",
            false,
            12,
            "t",
        )
        .unwrap();
        f.save().unwrap();
        let auth = Auth::open(&config, true).unwrap();
        assert!(!auth.login_to_read);
        assert!(Auth::open(&config, false).unwrap().login_to_read);
        let (id, sid) = auth
            .login("alice", "correct horse battery".into())
            .await
            .unwrap();
        assert_eq!(id.role, Role::Inspector);
        let v = Visitor {
            sid,
            new_cookie: false,
            user: Some("alice".into()),
        };
        assert_eq!(auth.identity(&v).unwrap().unwrap().name, "alice");
        for _ in 0..2 {
            assert!(matches!(
                auth.login("alice", "wrong".into()).await,
                Err(LoginRefusal::Wrong)
            ));
        }
        assert!(matches!(
            auth.login("alice", "correct horse battery".into()).await,
            Err(LoginRefusal::Locked { .. })
        ));
        // removed from the file: the session no longer counts
        let mut f = users::UsersFile::load(std::path::Path::new(&config.users_file)).unwrap();
        f.remove("alice").unwrap();
        f.save().unwrap();
        assert!(auth.identity(&v).unwrap().is_none());
    }
}
