//! The users file: who may log in to the console and with which role, passwords as
//! argon2id hashes (PHC strings). Managed by `cellwatch console user add|remove|list`
//! and read by the console at every login and status change, so a removed user or a
//! changed role takes effect at once. Written whole through a temporary sibling,
//! mode 0600 (the hashes are secrets too).

use crate::console::error::{random_bytes, ConsoleError};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read cases, evidence and the audit trail.
    Analyst,
    /// Read, and move cases along their lifecycle (hand over, confirm, dismiss).
    Inspector,
    /// What an inspector may, and see the console's users.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Analyst, Role::Inspector, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Analyst => "analyst",
            Role::Inspector => "inspector",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == text.trim())
            .ok_or_else(|| format!("{text:?} is not a role; use analyst, inspector or admin"))
    }

    /// Whether the role may change a case's status.
    pub fn can_change_status(self) -> bool {
        matches!(self, Role::Inspector | Role::Admin)
    }
}

/// One user of the console.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub name: String,
    pub role: Role,
    /// argon2id PHC string; never logged, never sent.
    password_hash: String,
    /// When the entry was written (RFC 3339).
    pub created_at: String,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    #[serde(default, rename = "user")]
    users: Vec<User>,
}

const HEADER: &str = "# cellwatch console users: managed with `cellwatch console user add|remove|list`.\n# Passwords are argon2id hashes; keep this file private (mode 0600).\n\n";

/// Longest password accepted, characters (argon2 hashes anything, but a megabyte of
/// "password" is a mistake or an attack).
const MAX_PASSWORD_CHARS: usize = 1024;

/// The users file as loaded.
#[derive(Debug)]
pub struct UsersFile {
    path: PathBuf,
    doc: Document,
}

impl UsersFile {
    /// Read the file; a missing file is an empty list (nobody can log in yet).
    pub fn load(path: &Path) -> Result<UsersFile, ConsoleError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(ConsoleError::users(
                    path,
                    format!("cannot read it: {e}; check its permissions"),
                ))
            }
        };
        let doc: Document = toml::from_str(&text).map_err(|e| {
            ConsoleError::users(
                path,
                format!(
                    "not a users file: {}; fix it by hand or remove it and add the users again",
                    e.message()
                ),
            )
        })?;
        Ok(UsersFile {
            path: path.to_path_buf(),
            doc,
        })
    }

    pub fn users(&self) -> &[User] {
        &self.doc.users
    }

    pub fn get(&self, name: &str) -> Option<&User> {
        self.doc.users.iter().find(|u| u.name == name)
    }

    /// Add a user (or, with `replace`, set a known user's role and password).
    pub fn add(
        &mut self,
        name: &str,
        role: Role,
        password: &str,
        replace: bool,
        min_password_chars: usize,
        now: &str,
    ) -> Result<(), ConsoleError> {
        check_name(name).map_err(ConsoleError::Refused)?;
        check_password(name, password, min_password_chars).map_err(ConsoleError::Refused)?;
        let exists = self.get(name).is_some();
        if exists && !replace {
            return Err(ConsoleError::Refused(format!(
                "user {name} already exists; give --replace to set a new role and password, or remove it first"
            )));
        }
        let user = User {
            name: name.to_string(),
            role,
            password_hash: hash_password(password)?,
            created_at: now.to_string(),
        };
        self.doc.users.retain(|u| u.name != name);
        self.doc.users.push(user);
        self.doc.users.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(())
    }

    /// Remove a user; unknown names are an error.
    pub fn remove(&mut self, name: &str) -> Result<(), ConsoleError> {
        let before = self.doc.users.len();
        self.doc.users.retain(|u| u.name != name);
        if self.doc.users.len() == before {
            return Err(ConsoleError::Refused(format!(
                "no user {name:?} in {}; see `cellwatch console user list`",
                self.path.display()
            )));
        }
        Ok(())
    }

    /// Write the file whole (temporary sibling, then rename), mode 0600.
    pub fn save(&self) -> Result<(), ConsoleError> {
        let body = toml::to_string(&self.doc)
            .map_err(|e| ConsoleError::users(&self.path, format!("cannot encode: {e}")))?;
        write_private(&self.path, format!("{HEADER}{body}").as_bytes()).map_err(|e| {
            ConsoleError::users(
                &self.path,
                format!("cannot write it: {e}; check that the folder exists and is writable"),
            )
        })
    }

    /// The user, if `name` exists and `password` is theirs.
    pub fn authenticate(&self, name: &str, password: &str) -> Option<&User> {
        match self.get(name) {
            Some(u) if verify_password(&u.password_hash, password) => Some(u),
            Some(_) => None,
            None => {
                // Spend the same time as for a known name, so timing does not
                // tell which names exist.
                let _ = verify_password(dummy_hash(), password);
                None
            }
        }
    }
}

/// A valid hash of nothing anyone types, computed once.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        hash_password(&String::from_utf8_lossy(&random_bytes::<24>())).unwrap_or_default()
    })
}

/// Write `bytes` to `path` through a temporary sibling created with mode 0600.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "users".into());
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A user name: 1 to 64 letters, digits, `.`, `_`, `-` or `@`.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.chars().count() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a user name; use 1 to 64 letters, digits, '.', '_', '-' or '@'"
        ))
    }
}

fn check_password(name: &str, password: &str, min_chars: usize) -> Result<(), String> {
    let n = password.chars().count();
    if n < min_chars {
        return Err(format!(
            "the password is {n} characters long; use at least {min_chars} ([console] min_password_chars)"
        ));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(format!(
            "the password is longer than {MAX_PASSWORD_CHARS} characters"
        ));
    }
    if password == name {
        return Err("the password must not be the user name".into());
    }
    Ok(())
}

/// An argon2id hash (the crate's default parameters: 19 MiB, 2 passes) with a
/// random salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, ConsoleError> {
    let salt = SaltString::encode_b64(&random_bytes::<16>())
        .map_err(|e| ConsoleError::Refused(format!("cannot make a salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ConsoleError::Refused(format!("cannot hash the password: {e}")))
}

/// Whether `password` matches the PHC string `hash` (false for a malformed hash).
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// The users file, read again whenever it changes on disk (size or modification
/// time), so `console user add|remove` applies to a running console.
pub(crate) struct UserDirectory {
    path: PathBuf,
    cache: Mutex<Option<(Stamp, Arc<UsersFile>)>>,
}

type Stamp = Option<(u64, std::time::SystemTime)>;

impl UserDirectory {
    pub(crate) fn new(path: PathBuf) -> UserDirectory {
        UserDirectory {
            path,
            cache: Mutex::new(None),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The current file.
    pub(crate) fn current(&self) -> Result<Arc<UsersFile>, ConsoleError> {
        let stamp: Stamp = std::fs::metadata(&self.path)
            .ok()
            .and_then(|m| Some((m.len(), m.modified().ok()?)));
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((s, file)) = cache.as_ref() {
            if *s == stamp && stamp.is_some() {
                return Ok(file.clone());
            }
        }
        let file = Arc::new(UsersFile::load(&self.path)?);
        *cache = Some((stamp, file.clone()));
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_authenticate_remove_and_the_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        let mut f = UsersFile::load(&path).unwrap();
        assert!(f.users().is_empty());
        f.add(
            "alice",
            Role::Inspector,
            "correct horse battery",
            false,
            12,
            "t",
        )
        .unwrap();
        f.add("bob", Role::Analyst, "staple battery horse", false, 12, "t")
            .unwrap();
        let e = f
            .add(
                "alice",
                Role::Admin,
                "another long password",
                false,
                12,
                "t",
            )
            .unwrap_err();
        assert!(e.to_string().contains("--replace"), "{e}");
        assert!(f
            .add("carol", Role::Admin, "short", false, 12, "t")
            .is_err());
        assert!(f
            .add(
                "bad name",
                Role::Admin,
                "long enough password",
                false,
                12,
                "t"
            )
            .is_err());
        f.save().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("$argon2id$"), "{text}");
        assert!(!text.contains("correct horse"), "no clear password on disk");
        let f = UsersFile::load(&path).unwrap();
        assert_eq!(
            f.authenticate("alice", "correct horse battery")
                .unwrap()
                .role,
            Role::Inspector
        );
        assert!(f.authenticate("alice", "wrong password!!").is_none());
        assert!(f.authenticate("nobody", "correct horse battery").is_none());
        assert!(!format!("{:?}", f.get("alice").unwrap()).contains("argon2"));
        let mut f = f;
        f.remove("bob").unwrap();
        assert!(f.remove("bob").is_err());
        assert_eq!(f.users().len(), 1);
    }

    #[test]
    fn the_directory_sees_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        let d = UserDirectory::new(path.clone());
        assert!(d.current().unwrap().users().is_empty());
        let mut f = UsersFile::load(&path).unwrap();
        f.add(
            "alice",
            Role::Analyst,
            "correct horse battery",
            false,
            12,
            "t",
        )
        .unwrap();
        f.save().unwrap();
        assert_eq!(d.current().unwrap().users().len(), 1);
        std::fs::write(&path, "[[user]]\nname = 1\n").unwrap();
        assert!(d
            .current()
            .unwrap_err()
            .to_string()
            .contains("not a users file"));
    }
}
