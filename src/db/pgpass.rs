//! The password file (`~/.pgpass`, or `PGPASSFILE` / `passfile=`), read
//! as libpq reads it: lines `hostname:port:database:username:password`,
//! `#` comments, `\` escaping `:` and `\`, a field that is exactly `*`
//! matching anything; the first matching line wins.
//!
//! [`lookup`] is pure. [`read`] adds libpq's file rules: a missing file is
//! no password, and a file that is not a plain file or that the group or
//! others may access is ignored with a warning (libpq's permission rule).

use std::path::Path;

/// What is matched against the file's lines: libpq's rules for the host
/// (`localhost` for the default socket directory) are applied by the
/// caller through [`Target::for_host`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target<'a> {
    pub host: &'a str,
    pub port: u16,
    pub dbname: &'a str,
    pub user: &'a str,
}

impl<'a> Target<'a> {
    /// The target for a connection to `host`: a unix socket in one of
    /// libpq's default socket directories matches `localhost`, as in libpq
    /// (whose default directory is `/var/run/postgresql` on Debian and
    /// `/tmp` upstream).
    pub fn for_host(host: &'a str, port: u16, dbname: &'a str, user: &'a str) -> Target<'a> {
        let host = if super::libpq::SOCKET_DIRS.contains(&host.trim_end_matches('/')) {
            "localhost"
        } else {
            host
        };
        Target {
            host,
            port,
            dbname,
            user,
        }
    }
}

/// The password of the first line of `text` that matches `target`.
pub fn lookup(text: &str, target: &Target<'_>) -> Option<String> {
    let port = target.port.to_string();
    let wanted = [target.host, port.as_str(), target.dbname, target.user];
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let Some(fields) = split_fields(line) else {
            continue;
        };
        let matches = fields[..4]
            .iter()
            .zip(wanted)
            .all(|(field, want)| field.wildcard || field.text == want);
        if matches {
            return Some(fields[4].text.clone());
        }
    }
    None
}

/// One field of a line, unescaped.
struct Field {
    text: String,
    /// The field was exactly an unescaped `*`.
    wildcard: bool,
}

/// The five fields of a line, or `None` when it has fewer (libpq skips
/// such lines). The password runs to the next unescaped `:`.
fn split_fields(line: &str) -> Option<Vec<Field>> {
    let mut fields = Vec::with_capacity(5);
    let mut text = String::new();
    let mut raw_star = true;
    let mut chars = line.chars();
    let mut len = 0;
    loop {
        let c = chars.next();
        match c {
            Some('\\') => {
                raw_star = false;
                match chars.next() {
                    Some(n) => text.push(n),
                    // A trailing backslash is kept, as libpq does.
                    None => text.push('\\'),
                }
                len += 1;
            }
            Some(':') | None => {
                let wildcard = raw_star && len == 1 && text == "*";
                fields.push(Field {
                    text: std::mem::take(&mut text),
                    wildcard,
                });
                raw_star = true;
                len = 0;
                if fields.len() == 5 || c.is_none() {
                    break;
                }
            }
            Some(other) => {
                text.push(other);
                len += 1;
            }
        }
    }
    (fields.len() == 5).then_some(fields)
}

/// What reading the password file gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// The file's text.
    Text(String),
    /// No file there: no password, no warning.
    Missing,
    /// The file was ignored, and why (for a warning on stderr).
    Ignored(String),
}

/// Reads the password file at `path` under libpq's rules.
pub fn read(path: &Path) -> Read {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Read::Missing,
        Err(e) => {
            return Read::Ignored(format!(
                "password file {} cannot be read ({e}); it is ignored",
                path.display()
            ))
        }
    };
    if !meta.is_file() {
        return Read::Ignored(format!(
            "password file {} is not a plain file; it is ignored",
            path.display()
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            return Read::Ignored(format!(
                "password file {} has group or world access (mode {:04o}); it is ignored: permissions should be u=rw (0600) or less (chmod 0600 {})",
                path.display(),
                mode & 0o7777,
                path.display()
            ));
        }
    }
    match std::fs::read_to_string(path) {
        Ok(text) => Read::Text(text),
        Err(e) => Read::Ignored(format!(
            "password file {} cannot be read ({e}); it is ignored",
            path.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t<'a>(host: &'a str, port: u16, db: &'a str, user: &'a str) -> Target<'a> {
        Target {
            host,
            port,
            dbname: db,
            user,
        }
    }

    #[test]
    fn first_matching_line_wins_with_wildcards() {
        let file = "# comment\n\
                    db.example:5432:shop:app:first\n\
                    *:5432:*:app:second\n\
                    *:*:*:*:fallback\n";
        assert_eq!(
            lookup(file, &t("db.example", 5432, "shop", "app")).as_deref(),
            Some("first")
        );
        assert_eq!(
            lookup(file, &t("other", 5432, "x", "app")).as_deref(),
            Some("second")
        );
        assert_eq!(
            lookup(file, &t("other", 6432, "x", "bob")).as_deref(),
            Some("fallback")
        );
        assert_eq!(lookup("h:1:d:u:p", &t("h", 2, "d", "u")), None);
    }

    #[test]
    fn backslash_escapes_colons_and_backslashes() {
        let file = "h\\:1:5432:d:u:pa\\:ss\\\\w:ignored\n";
        assert_eq!(
            lookup(file, &t("h:1", 5432, "d", "u")).as_deref(),
            Some("pa:ss\\w")
        );
        // An escaped star is a literal star, not a wildcard.
        assert_eq!(lookup("\\*:5432:d:u:p", &t("h", 5432, "d", "u")), None);
        assert_eq!(
            lookup("\\*:5432:d:u:p", &t("*", 5432, "d", "u")).as_deref(),
            Some("p")
        );
        // A field that merely starts with '*' is no wildcard.
        assert_eq!(lookup("*h:5432:d:u:p", &t("h", 5432, "d", "u")), None);
    }

    #[test]
    fn short_lines_and_crlf() {
        assert_eq!(lookup("h:5432:d:u\n", &t("h", 5432, "d", "u")), None);
        assert_eq!(
            lookup("h:5432:d:u:pw\r\n", &t("h", 5432, "d", "u")).as_deref(),
            Some("pw")
        );
        assert_eq!(
            lookup("h:5432:d:u:\n", &t("h", 5432, "d", "u")).as_deref(),
            Some("")
        );
    }

    #[test]
    fn default_socket_directories_match_localhost() {
        let file = "localhost:5432:d:u:sock\n";
        for host in ["/var/run/postgresql", "/tmp", "localhost"] {
            let target = Target::for_host(host, 5432, "d", "u");
            assert_eq!(lookup(file, &target).as_deref(), Some("sock"), "{host}");
        }
        assert_eq!(
            lookup(file, &Target::for_host("/srv/pg", 5432, "d", "u")),
            None
        );
    }

    #[cfg(unix)]
    #[test]
    fn group_or_world_access_is_ignored_with_a_reason() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        std::fs::write(&path, "*:*:*:*:pw\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        match read(&path) {
            Read::Ignored(why) => assert!(why.contains("0600") && why.contains("0644"), "{why}"),
            other => panic!("{other:?}"),
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read(&path), Read::Text("*:*:*:*:pw\n".to_string()));
        assert_eq!(read(&dir.path().join("none")), Read::Missing);
        assert!(matches!(read(dir.path()), Read::Ignored(_)));
    }

    fn field() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(vec!['a', ':', '\\', '*', '#', ' ']),
            0..8,
        )
        .prop_map(|v| v.into_iter().collect())
    }

    fn escape(s: &str) -> String {
        s.chars()
            .flat_map(|c| match c {
                ':' | '\\' | '*' => vec!['\\', c],
                c => vec![c],
            })
            .collect()
    }

    proptest! {
        /// Any values, escaped into a line, match exactly themselves and
        /// give back the password.
        #[test]
        fn escaped_lines_match_exactly_their_values(
            host in field(), db in field(), user in field(), pw in field(), port in 1u16..
        ) {
            let line = format!("{}:{port}:{}:{}:{}\n", escape(&host), escape(&db), escape(&user), escape(&pw));
            // A line starting with '#' is a comment, whatever follows.
            prop_assume!(!line.starts_with('#'));
            let target = t(&host, port, &db, &user);
            prop_assert_eq!(lookup(&line, &target), Some(pw.clone()));
            let other_user = format!("{user}x");
            prop_assert_eq!(lookup(&line, &t(&host, port, &db, &other_user)), None);
        }

        #[test]
        fn lookup_never_panics(text in "[a-z:*\\\\#\n]{0,40}") {
            let _ = lookup(&text, &t("a", 1, "b", "c"));
        }
    }
}
