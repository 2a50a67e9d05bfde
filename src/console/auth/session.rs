//! Sessions: a signed, HttpOnly, SameSite=Strict cookie carrying a random session id,
//! the logged-in sessions kept in memory (a restart logs everyone out), and the CSRF
//! token of each session, an HMAC of its id that every POST must send back in the
//! `X-CSRF-Token` header.
//!
//! Every visitor gets a cookie, logged in or not, so the login form is CSRF-protected
//! too; a login issues a new id (no session fixation), a logout forgets it. The key
//! that signs cookies and CSRF tokens lives in a file created on first use (mode
//! 0600) and never appears in a log.

use super::users::write_private;
use crate::console::error::{random_bytes, ConsoleError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cookie::{Cookie, CookieJar, Key, SameSite};
use dashmap::DashMap;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::Path;
use std::time::{Duration, Instant};

/// Name of the session cookie.
pub(crate) const COOKIE: &str = "cw_session";
/// Header that carries the CSRF token on every POST.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Logged-in sessions kept at most; the oldest are dropped first past this.
const MAX_SESSIONS: usize = 10_000;

/// One logged-in session.
#[derive(Debug, Clone)]
struct Session {
    user: String,
    expires: Instant,
}

/// Who is asking: the session id from a valid cookie (or a new one), and the user
/// when that session is logged in.
#[derive(Debug, Clone)]
pub(crate) struct Visitor {
    pub(crate) sid: String,
    /// The cookie must be (re)sent: the request had none or an invalid one.
    pub(crate) new_cookie: bool,
    pub(crate) user: Option<String>,
}

/// The session key and the logged-in sessions.
pub(crate) struct Sessions {
    key: Key,
    csrf_key: [u8; 32],
    live: DashMap<String, Session>,
    ttl: Duration,
    secure: bool,
}

impl Sessions {
    /// Sessions signed with the key in `key_path`, created (64 random bytes, hex,
    /// mode 0600) when the file does not exist.
    pub(crate) fn open(
        key_path: &Path,
        ttl: Duration,
        secure: bool,
    ) -> Result<Sessions, ConsoleError> {
        let secret = load_or_create_key(key_path)?;
        Ok(Sessions::with_secret(&secret, ttl, secure))
    }

    pub(crate) fn with_secret(secret: &[u8; 64], ttl: Duration, secure: bool) -> Sessions {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("hmac takes any key");
        mac.update(b"cellwatch console csrf v1");
        let csrf_key: [u8; 32] = mac.finalize().into_bytes().into();
        Sessions {
            key: Key::from(secret),
            csrf_key,
            live: DashMap::new(),
            ttl,
            secure,
        }
    }

    /// The visitor behind the request's `Cookie` headers.
    pub(crate) fn visitor<'a>(&self, cookie_headers: impl Iterator<Item = &'a str>) -> Visitor {
        let mut jar = CookieJar::new();
        for header in cookie_headers {
            for c in Cookie::split_parse(header.to_string()).flatten() {
                if c.name() == COOKIE {
                    jar.add_original(c.into_owned());
                }
            }
        }
        let sid = jar
            .signed(&self.key)
            .get(COOKIE)
            .map(|c| c.value().to_string())
            .filter(|v| v.len() == 43);
        match sid {
            Some(sid) => {
                let user = self.user_of(&sid);
                Visitor {
                    sid,
                    new_cookie: false,
                    user,
                }
            }
            None => Visitor {
                sid: new_id(),
                new_cookie: true,
                user: None,
            },
        }
    }

    fn user_of(&self, sid: &str) -> Option<String> {
        let s = self.live.get(sid)?;
        if s.expires > Instant::now() {
            return Some(s.user.clone());
        }
        drop(s);
        self.live.remove(sid);
        None
    }

    /// The CSRF token of a session id.
    pub(crate) fn csrf(&self, sid: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.csrf_mac(sid).finalize().into_bytes())
    }

    fn csrf_mac(&self, sid: &str) -> Hmac<Sha256> {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.csrf_key).expect("hmac takes any key");
        mac.update(sid.as_bytes());
        mac
    }

    /// Whether `token` is the session's CSRF token (compared in constant time).
    pub(crate) fn csrf_ok(&self, sid: &str, token: Option<&str>) -> bool {
        let Some(bytes) = token.and_then(|t| URL_SAFE_NO_PAD.decode(t.trim()).ok()) else {
            return false;
        };
        self.csrf_mac(sid).verify_slice(&bytes).is_ok()
    }

    /// A new id for a visitor who is not logged in (nothing is stored for it).
    pub(crate) fn anonymous_id(&self) -> String {
        new_id()
    }

    /// Log `user` in under a new session id, returned.
    pub(crate) fn login(&self, user: &str) -> String {
        if self.live.len() >= MAX_SESSIONS {
            self.evict();
        }
        let sid = new_id();
        self.live.insert(
            sid.clone(),
            Session {
                user: user.to_string(),
                expires: Instant::now() + self.ttl,
            },
        );
        sid
    }

    /// Forget a session.
    pub(crate) fn logout(&self, sid: &str) {
        self.live.remove(sid);
    }

    /// Forget every session of a user (removed from the users file).
    pub(crate) fn forget_user(&self, user: &str) {
        self.live.retain(|_, s| s.user != user);
    }

    /// Drop expired sessions, then the oldest until there is room.
    fn evict(&self) {
        let now = Instant::now();
        self.live.retain(|_, s| s.expires > now);
        while self.live.len() >= MAX_SESSIONS {
            let oldest = self
                .live
                .iter()
                .min_by_key(|e| e.value().expires)
                .map(|e| e.key().clone());
            match oldest {
                Some(k) => {
                    self.live.remove(&k);
                }
                None => break,
            }
        }
    }

    /// The `Set-Cookie` value carrying `sid`, signed.
    pub(crate) fn set_cookie(&self, sid: &str) -> String {
        let mut jar = CookieJar::new();
        let c = Cookie::build((COOKIE, sid.to_string()))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(self.secure)
            .max_age(cookie::time::Duration::seconds(self.ttl.as_secs() as i64));
        jar.signed_mut(&self.key).add(c);
        jar.get(COOKIE)
            .map(|c| c.to_string())
            .expect("the cookie just added")
    }
}

/// 32 random bytes, base64url (43 characters).
fn new_id() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// Read the key file (128 hex digits), or create it.
fn load_or_create_key(path: &Path) -> Result<[u8; 64], ConsoleError> {
    let bad = |message: String| ConsoleError::SessionKey {
        path: path.display().to_string(),
        message,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let text = text.trim();
            let mut key = [0u8; 64];
            if text.len() != 128 || !text.is_ascii() {
                return Err(bad("not a session key (128 hex digits); delete it to have a new one made (everyone logs in again)".into()));
            }
            for (i, slot) in key.iter_mut().enumerate() {
                *slot = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| {
                    bad(
                        "not a session key (128 hex digits); delete it to have a new one made"
                            .into(),
                    )
                })?;
            }
            warn_if_readable_by_others(path);
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = random_bytes::<64>();
            let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
            write_private(path, format!("{hex}\n").as_bytes()).map_err(|e| {
                bad(format!("cannot create it: {e}; check that its folder exists and is writable, or set [console] session_key_file"))
            })?;
            tracing::info!(path = %path.display(), "session key created");
            Ok(key)
        }
        Err(e) => Err(bad(format!("cannot read it: {e}; check its permissions"))),
    }
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path) {
            if m.permissions().mode() & 0o077 != 0 {
                tracing::warn!(path = %path.display(), "the session key file is readable by others; chmod 600 it");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions() -> Sessions {
        Sessions::with_secret(&[7u8; 64], Duration::from_secs(3600), false)
    }

    fn cookie_value(set_cookie: &str) -> String {
        set_cookie.split(';').next().unwrap().to_string()
    }

    #[test]
    fn a_signed_cookie_round_trips_and_a_forged_one_does_not() {
        let s = sessions();
        let anon = s.visitor(std::iter::empty());
        assert!(anon.new_cookie && anon.user.is_none());
        let set = s.set_cookie(&anon.sid);
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        let back = s.visitor([cookie_value(&set).as_str()].into_iter());
        assert_eq!(back.sid, anon.sid);
        assert!(!back.new_cookie);
        let forged = format!("{COOKIE}=AAAA{}", anon.sid);
        assert!(s.visitor([forged.as_str()].into_iter()).new_cookie);
        let other = Sessions::with_secret(&[8u8; 64], Duration::from_secs(60), false);
        assert!(
            other
                .visitor([cookie_value(&set).as_str()].into_iter())
                .new_cookie
        );
    }

    #[test]
    fn login_logout_and_csrf() {
        let s = sessions();
        let sid = s.login("alice");
        let set = s.set_cookie(&sid);
        let v = s.visitor(["theme=dark", cookie_value(&set).as_str()].into_iter());
        assert_eq!(v.user.as_deref(), Some("alice"));
        let token = s.csrf(&sid);
        assert!(s.csrf_ok(&sid, Some(&token)));
        assert!(!s.csrf_ok(&sid, None));
        assert!(!s.csrf_ok(&sid, Some("nope")));
        assert!(
            !s.csrf_ok(&new_id(), Some(&token)),
            "a token belongs to one session"
        );
        s.logout(&sid);
        assert!(s
            .visitor([cookie_value(&set).as_str()].into_iter())
            .user
            .is_none());
        let sid = s.login("bob");
        s.forget_user("bob");
        assert!(s.user_of(&sid).is_none());
    }

    #[test]
    fn sessions_expire() {
        let s = Sessions::with_secret(&[7u8; 64], Duration::from_millis(1), false);
        let sid = s.login("alice");
        std::thread::sleep(Duration::from_millis(5));
        assert!(s.user_of(&sid).is_none());
    }

    #[test]
    fn the_key_file_is_created_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        let a = load_or_create_key(&p).unwrap();
        let b = load_or_create_key(&p).unwrap();
        assert_eq!(a, b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        std::fs::write(&p, "xyz").unwrap();
        assert!(load_or_create_key(&p)
            .unwrap_err()
            .to_string()
            .contains("128 hex"));
    }
}
