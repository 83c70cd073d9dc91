//! Password masking: finds every part of a connection string that could
//! hold a secret and replaces it with `***`, whatever the spelling.
//!
//! Masking never relies on the string being valid, because the strings that
//! reach an error message are exactly the ones a driver could not use
//! (`POSTGRESQL://u:pw@h`, `jdbc:postgresql://…`, `user:pw@host`, an
//! unterminated quote). The string is read in two lexical ways and the secret
//! spans of both are masked; when a reading is unsure where a secret ends, it
//! takes the longer span.
//!
//! - **Settings** (`password=x`, `password = 'a b'`, `?PassWord=x&…`,
//!   `?pass%77ord=x`, `;password=x`): every key that could name a secret
//!   (its percent-decoded, lower-cased name contains `pass`, `pwd`, `secret`
//!   or `token`; `passfile` is a path and is kept). After `?`, `&` or `;`
//!   the value runs to the next `&`/`;` that starts a known connection
//!   parameter (a raw `&` may be part of the password), else to the end;
//!   elsewhere it is read as libpq reads key=value strings (single quotes,
//!   backslash escapes; an unterminated quote runs to the end).
//! - **User info**: from the first `:` of the user info to the last `@` of
//!   the string, where the user info starts after the scheme's `://` (any
//!   scheme, any case, `jdbc:` prefixes) or at the start when there is none
//!   (`user:pw@host`) or what precedes `://` is no scheme (`u:a://b@h`).
//!   Skipped only when the whole string is well-formed key=value settings
//!   of known parameters, where the settings reading is exact.
//!
//! [`secrets_of`] turns the same spans into the texts to scrub from driver
//! messages (as written, unquoted, percent-decoded, and as the driver
//! decoded the password).

use postgres::Config;
use std::ops::Range;

/// Replaces anything in a connection string that could be a password with
/// `***`. Everything else is kept, so the result still says which server
/// and database were meant.
pub fn mask_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let mut at = 0;
    for span in secret_spans(url) {
        out.push_str(&url[at..span.start]);
        out.push_str("***");
        at = span.end;
    }
    out.push_str(&url[at..]);
    out
}

/// Raw password texts that must never be shown: every secret span as
/// written, unquoted and unescaped, percent-decoded, and the password the
/// driver decoded (`config`). Longest first, so scrubbing replaces a whole
/// secret before any part of it.
pub(crate) fn secrets_of(url: &str, config: Option<&Config>) -> Vec<String> {
    let mut secrets = Vec::new();
    if let Some(pw) = config.and_then(|c| c.get_password()) {
        secrets.push(String::from_utf8_lossy(pw).into_owned());
    }
    for span in secret_spans(url) {
        let raw = &url[span];
        secrets.push(raw.to_string());
        let unquoted = unescape(raw.strip_prefix('\'').unwrap_or(raw));
        let unquoted = unquoted.strip_suffix('\'').unwrap_or(&unquoted).to_string();
        secrets.push(percent_decode(raw));
        secrets.push(percent_decode(&unquoted));
        secrets.push(unquoted);
    }
    secrets.retain(|s| !s.is_empty() && s != "***");
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    secrets
}

/// Secrets shorter than this are only scrubbed where they stand alone, so a
/// one-letter password does not turn "failed" into "f***iled".
const SHORT_SECRET: usize = 4;

/// Replaces every occurrence of a secret in `text` with `***` (short ones
/// only where no letter or digit touches them).
pub(crate) fn scrub_with(secrets: &[String], text: &str) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if s.chars().count() >= SHORT_SECRET {
            out = out.replace(s.as_str(), "***");
        } else {
            out = replace_standalone(&out, s);
        }
    }
    out
}

/// A driver message about a string it could not parse, scrubbed: besides
/// the secrets, every `quoted` name that is not a known connection
/// parameter is masked, because the driver quotes whatever it took for an
/// option name, and that may be the part of a password before a raw `=`.
pub(crate) fn scrub_parse_message(secrets: &[String], text: &str) -> String {
    let text = scrub_with(secrets, text);
    let mut out = String::with_capacity(text.len());
    let mut parts = text.split('`');
    out.push_str(parts.next().unwrap_or(""));
    let mut quoted = true;
    for part in parts {
        out.push('`');
        let known = KNOWN_PARAMS.contains(&part.to_ascii_lowercase().as_str());
        if quoted && !known && !part.is_empty() {
            out.push_str("***");
        } else {
            out.push_str(part);
        }
        quoted = !quoted;
    }
    out
}

fn replace_standalone(text: &str, needle: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let touches = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric());
    while let Some(i) = rest.find(needle) {
        out.push_str(&rest[..i]);
        // What precedes in the text, even when it was a kept occurrence.
        let before = out.chars().next_back();
        let after = rest[i + needle.len()..].chars().next();
        if touches(before) || touches(after) {
            out.push_str(needle);
        } else {
            out.push_str("***");
        }
        rest = &rest[i + needle.len()..];
    }
    out.push_str(rest);
    out
}

/// The byte ranges of `s` that could hold a secret: sorted, non-empty, not
/// overlapping (touching or overlapping spans are merged). Every boundary
/// is an ASCII delimiter or the end, so the ranges are char boundaries.
fn secret_spans(s: &str) -> Vec<Range<usize>> {
    let well_formed = is_well_formed_key_values(s);
    let mut spans = setting_spans(s, well_formed);
    if !well_formed {
        spans.extend(userinfo_span(s));
    }
    spans.retain(|r| !r.is_empty());
    spans.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(spans.len());
    for r in spans {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    merged
}

/// Characters a setting's key may be made of (percent-encoded keys too).
fn is_key_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'+' | b'%')
}

/// Whether a (percent-decoded) key could name a secret.
fn is_secret_key(raw_key: &str) -> bool {
    let key = percent_decode(raw_key).to_ascii_lowercase();
    key != "passfile"
        && ["pass", "pwd", "secret", "token"]
            .iter()
            .any(|w| key.contains(w))
}

/// Connection parameters (libpq's, and a few of JDBC's) whose `&key=` or
/// `;key=` surely ends a query-string password.
const KNOWN_PARAMS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "database",
    "user",
    "password",
    "passfile",
    "require_auth",
    "channel_binding",
    "connect_timeout",
    "client_encoding",
    "options",
    "application_name",
    "applicationname",
    "fallback_application_name",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "replication",
    "gssencmode",
    "ssl",
    "sslmode",
    "sslnegotiation",
    "sslcompression",
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslcertmode",
    "sslrootcert",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "requirepeer",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    "service",
    "target_session_attrs",
    "load_balance_hosts",
    "currentschema",
    "logintimeout",
    "sockettimeout",
];

/// Spans of the values of every secret-named setting, wherever a `key=`
/// appears (see the module docs for where each value ends). In a string
/// that is not `well_formed` key=value settings, a key=value value may hold
/// unescaped spaces or quotes, so it runs on to the next known parameter.
fn setting_spans(s: &str, well_formed: bool) -> Vec<Range<usize>> {
    let b = s.as_bytes();
    let mut spans = Vec::new();
    for (eq, _) in s.match_indices('=') {
        let mut key_end = eq;
        while key_end > 0 && b[key_end - 1].is_ascii_whitespace() {
            key_end -= 1;
        }
        let mut key_start = key_end;
        while key_start > 0 && is_key_char(b[key_start - 1]) {
            key_start -= 1;
        }
        if key_start == key_end || !is_secret_key(&s[key_start..key_end]) {
            continue;
        }
        let in_query = key_start > 0 && matches!(b[key_start - 1], b'?' | b'&' | b';');
        if in_query {
            spans.push(eq + 1..query_value_end(s, eq + 1));
        } else {
            let mut start = eq + 1;
            while start < b.len() && b[start].is_ascii_whitespace() {
                start += 1;
            }
            let mut end = key_value_end(b, start).0;
            if !well_formed {
                end = end.max(next_known_setting(s, start));
            }
            spans.push(start..end);
        }
    }
    spans
}

/// Where a query-string value starting at `start` ends: at the next `&` or
/// `;` followed by a known parameter and `=`, else at the end.
fn query_value_end(s: &str, start: usize) -> usize {
    let b = s.as_bytes();
    let mut i = start;
    while i < b.len() {
        if matches!(b[i], b'&' | b';') {
            let key_start = i + 1;
            let mut key_end = key_start;
            while key_end < b.len() && is_key_char(b[key_end]) {
                key_end += 1;
            }
            if key_end < b.len() && b[key_end] == b'=' {
                let key = percent_decode(&s[key_start..key_end]).to_ascii_lowercase();
                if KNOWN_PARAMS.contains(&key.as_str()) {
                    return i;
                }
            }
        }
        i += 1;
    }
    b.len()
}

/// The whitespace before the next `known_param =` after `from`, else the end.
fn next_known_setting(s: &str, from: usize) -> usize {
    let b = s.as_bytes();
    for i in from..b.len() {
        if !b[i].is_ascii_whitespace() {
            continue;
        }
        let key_start = i + 1;
        let mut key_end = key_start;
        while key_end < b.len() && (b[key_end].is_ascii_alphanumeric() || b[key_end] == b'_') {
            key_end += 1;
        }
        let mut eq = key_end;
        while eq < b.len() && b[eq].is_ascii_whitespace() {
            eq += 1;
        }
        let key = s[key_start..key_end].to_ascii_lowercase();
        if eq < b.len() && b[eq] == b'=' && KNOWN_PARAMS.contains(&key.as_str()) {
            return i;
        }
    }
    b.len()
}

/// Where a key=value value starting at `start` ends, read as libpq does: a
/// single-quoted value up to its unescaped closing quote, else up to
/// whitespace; a backslash escapes the next byte. The flag says whether the
/// value is complete (false for an unterminated quote or a trailing lone
/// backslash, whose value then runs to the end).
fn key_value_end(b: &[u8], start: usize) -> (usize, bool) {
    let quoted = b.get(start) == Some(&b'\'');
    let mut i = start + usize::from(quoted);
    while i < b.len() {
        match b[i] {
            b'\\' if i + 1 == b.len() => return (b.len(), false),
            b'\\' => i += 2,
            b'\'' if quoted => return (i + 1, true),
            c if !quoted && c.is_ascii_whitespace() => return (i, true),
            _ => i += 1,
        }
    }
    (b.len(), !quoted)
}

/// Whether `s` is nothing but `key = value` pairs as libpq reads them
/// (known parameter names, terminated quotes), with at least one pair. An
/// unknown key may be the tail of a password written without quotes.
fn is_well_formed_key_values(s: &str) -> bool {
    let b = s.as_bytes();
    let skip_ws = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    let mut i = skip_ws(0);
    let mut pairs = 0;
    while i < b.len() {
        let key_start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            i += 1;
        }
        let key = s[key_start..i].to_ascii_lowercase();
        if !KNOWN_PARAMS.contains(&key.as_str()) {
            return false;
        }
        i = skip_ws(i);
        if b.get(i) != Some(&b'=') {
            return false;
        }
        i = skip_ws(i + 1);
        let (end, complete) = key_value_end(b, i);
        if !complete {
            return false;
        }
        i = skip_ws(end);
        pairs += 1;
    }
    pairs > 0
}

/// The password part of a URL's user info (see the module docs).
fn userinfo_span(s: &str) -> Option<Range<usize>> {
    let at = s.rfind('@')?;
    let head = &s[..at];
    if let Some(scheme_end) = head.find("://") {
        if is_scheme(&head[..scheme_end]) {
            let start = scheme_end + 3;
            if let Some(colon) = head[start..].find(':') {
                return Some(start + colon + 1..at);
            }
            // No ':': a user without a password, or a scheme-less `u:` and
            // a password that starts with `//` (`vu://pw@h`). Only a
            // PostgreSQL scheme makes the first sure, and only if the text
            // holds nothing that ends a URL's authority (`u:///pw@h`).
            let user = &head[start..];
            let odd = user.contains(['/', '?', '#']) || user.contains(char::is_whitespace);
            let sure = is_postgres_scheme(&head[..scheme_end]) && !odd;
            return (!sure).then_some(start..at);
        }
    }
    let colon = head.find(':')?;
    Some(colon + 1..at)
}

/// Whether `s` can be a URL scheme (letters first, then letters, digits,
/// `+`, `-`, `.`), behind any number of `jdbc:` prefixes. Anything else
/// before a `://` (`postgres:user://…`) may be the start of a scheme-less
/// user info whose password holds the `://`.
fn is_scheme(s: &str) -> bool {
    let mut parts: Vec<&str> = s.trim_start().split(':').collect();
    let last = parts.pop().unwrap_or("");
    let mut chars = last.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && parts.iter().all(|p| p.eq_ignore_ascii_case("jdbc"))
}

/// Whether `s` is `postgres` or `postgresql` (any case), behind any
/// `jdbc:` prefixes: a scheme under which drivers read a user name.
fn is_postgres_scheme(s: &str) -> bool {
    let last = s.trim_start().rsplit(':').next().unwrap_or("");
    last.eq_ignore_ascii_case("postgres") || last.eq_ignore_ascii_case("postgresql")
}

/// Removes libpq's backslash escapes (`\x` means `x`).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Decodes `%XX` sequences (invalid ones are kept as written; invalid UTF-8
/// is replaced), as URL parsers do.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn masks_uri_passwords() {
        assert_eq!(
            mask_url("postgresql://bob:s3cret@db.example:5432/app"),
            "postgresql://bob:***@db.example:5432/app"
        );
        assert_eq!(
            mask_url("postgres://bob:p@ss@host/db?sslmode=disable"),
            "postgres://bob:***@host/db?sslmode=disable"
        );
        assert_eq!(
            mask_url("postgresql://bob@host/db?password=x&application_name=a"),
            "postgresql://bob@host/db?password=***&application_name=a"
        );
        assert_eq!(
            mask_url("postgresql://bob:a?b/c@host/db?x=1"),
            "postgresql://bob:***@host/db?x=1"
        );
        assert_eq!(
            mask_url("postgresql:///db?host=/var/run/postgresql"),
            "postgresql:///db?host=/var/run/postgresql"
        );
        assert_eq!(
            mask_url("postgresql://bob@host/db"),
            "postgresql://bob@host/db"
        );
    }

    #[test]
    fn masks_any_scheme_spelling() {
        for (url, masked) in [
            (
                "POSTGRESQL://u:S3cret@127.0.0.1:1/x",
                "POSTGRESQL://u:***@127.0.0.1:1/x",
            ),
            (
                "postgresq://u:S3cret@127.0.0.1:1/x",
                "postgresq://u:***@127.0.0.1:1/x",
            ),
            (
                "jdbc:postgresql://u:S3cret@127.0.0.1:1/x",
                "jdbc:postgresql://u:***@127.0.0.1:1/x",
            ),
            ("u:S3cret@127.0.0.1:1/x", "u:***@127.0.0.1:1/x"),
            (" \tPostgres://u:S3cret@h/x", " \tPostgres://u:***@h/x"),
            ("postgresql:u:S3cret@h/x", "postgresql:***@h/x"),
            ("u:a://S3cret@h", "u:***@h"),
            ("://S3cret@h", ":***@h"),
            ("u:///S3cret@h", "u://***@h"),
            ("postgres:u://S3cret:@h", "postgres:***@h"),
            ("vu://S3cret@h", "vu://***@h"),
            ("JDBC:PostgreSQL://bob@h", "JDBC:PostgreSQL://bob@h"),
            ("a b://S3cret@h", "a b:***@h"),
        ] {
            assert_eq!(mask_url(url), masked, "{url}");
        }
    }

    #[test]
    fn masks_query_passwords_in_any_spelling() {
        for (url, masked) in [
            (
                "jdbc:postgresql://h/db?user=u&PASSWORD=S3cret",
                "jdbc:postgresql://h/db?user=u&PASSWORD=***",
            ),
            (
                "postgresql://h/db?pass%77ord=S3cret&sslmode=disable",
                "postgresql://h/db?pass%77ord=***&sslmode=disable",
            ),
            // A raw '&' that does not start a known parameter stays inside.
            (
                "postgresql://h/db?password=S3&c=ret&port=5",
                "postgresql://h/db?password=***&port=5",
            ),
            (
                "postgresql://h/db?sslpassword=S3cret",
                "postgresql://h/db?sslpassword=***",
            ),
            (
                "jdbc:sqlserver://h;user=u;password=S3cret;database=x",
                "jdbc:sqlserver://h;user=u;password=***;database=x",
            ),
            (
                "postgresql://h/db?passfile=/home/u/.pgpass",
                "postgresql://h/db?passfile=/home/u/.pgpass",
            ),
        ] {
            assert_eq!(mask_url(url), masked, "{url}");
        }
    }

    #[test]
    fn keeps_certificate_paths_visible() {
        // Certificate and key paths are what a TLS error must name.
        assert_eq!(
            mask_url("postgresql://u:S3cret@h/db?sslmode=verify-full&sslrootcert=/etc/ca.crt&sslcert=/c.crt&sslkey=/c.key&passfile=/p"),
            "postgresql://u:***@h/db?sslmode=verify-full&sslrootcert=/etc/ca.crt&sslcert=/c.crt&sslkey=/c.key&passfile=/p"
        );
        assert_eq!(
            mask_url("host=h sslkey=/c.key password=S3cret sslrootcert=system"),
            "host=h sslkey=/c.key password=*** sslrootcert=system"
        );
    }

    #[test]
    fn masks_key_value_passwords() {
        assert_eq!(
            mask_url("host=localhost password=abc user=bob"),
            "host=localhost password=*** user=bob"
        );
        assert_eq!(
            mask_url("host=localhost password = 'a b\\' c' user=bob"),
            "host=localhost password = *** user=bob"
        );
        assert_eq!(
            mask_url("host=h PassWord=a\\ b user=bob"),
            "host=h PassWord=*** user=bob"
        );
        // A ':' and '@' in a well-formed value do not make it a URL.
        assert_eq!(
            mask_url("host=h:1 user=me@corp password=p"),
            "host=h:1 user=me@corp password=***"
        );
    }

    #[test]
    fn unparsable_strings_never_leak() {
        // Unterminated quote: the rest of the string could be the password.
        assert_eq!(
            mask_url("host=h password='S3cret user=bob"),
            "host=h password=***"
        );
        assert_eq!(mask_url("password=S3cret\\"), "password=***");
        // Unescaped spaces or quotes: the value runs to the next known key.
        assert_eq!(
            mask_url("host=h password=a b'S3cret user=bob"),
            "host=h password=*** user=bob"
        );
        assert_eq!(mask_url("host=h password="), "host=h password=");
        // Not key=value, not a URL: user info is still found.
        assert_eq!(mask_url("garbage u:S3cret@h"), "garbage u:***@h");
    }

    #[test]
    fn secrets_include_raw_and_decoded() {
        let url = "postgresql://bob:p%40ss@host/db";
        let config = Config::from_str(url).unwrap();
        let s = secrets_of(url, Some(&config));
        assert!(s.contains(&"p@ss".to_string()));
        assert!(s.contains(&"p%40ss".to_string()));
        assert_eq!(scrub_with(&s, "bad p@ss and p%40ss"), "bad *** and ***");
        let s = secrets_of("host=h password='a\\'b c'", None);
        assert!(s.contains(&"a'b c".to_string()), "{s:?}");
    }

    #[test]
    fn parse_messages_keep_only_known_option_names() {
        assert_eq!(
            scrub_parse_message(&[], "unknown option `u::0,[S3cr`"),
            "unknown option `***`"
        );
        assert_eq!(
            scrub_parse_message(&[], "invalid value for option `port`"),
            "invalid value for option `port`"
        );
    }

    #[test]
    fn short_secrets_are_scrubbed_only_standing_alone() {
        let s = vec!["a".to_string()];
        assert_eq!(
            scrub_with(&s, "failed to lookup address: a (a)"),
            "failed to lookup address: *** (***)"
        );
        assert_eq!(scrub_with(&s, "aa a"), "aa ***");
        // Non-ASCII text around a secret keeps its characters whole.
        assert_eq!(
            mask_url("postgresql://ü:S3cret@h/é"),
            "postgresql://ü:***@h/é"
        );
        assert_eq!(mask_url("é://ü:S3cret@h"), "é:***@h");
        assert_eq!(mask_url("password=S3é host=h"), "password=*** host=h");
    }
}
