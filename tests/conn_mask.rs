//! A password never shows, whatever shape the connection string has: a
//! property test over generated URL and key=value shapes (any scheme
//! spelling and case, `jdbc:` prefixes, no scheme, special characters and
//! percent-encoding in the password, query-string and key=value passwords,
//! malformed strings) checks `mask_url` and the error of a failed
//! `Database::connect`; the binary is checked on the spellings that used to
//! leak. Connections go to 127.0.0.1:1, a refused port, so no server is
//! needed.

mod cli_util;

use cli_util::TestEnv;
use mergepoint::db::{mask_url, Database};
use proptest::prelude::*;

/// Text in every generated password and nowhere else in the strings
/// (schemes are letters only, the other parts lower case).
const SENTINEL: &str = "S3cr";

/// The password: the sentinel between runs of characters that mean
/// something in URLs and key=value strings.
fn password() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        ':', '@', '/', '?', '#', '&', '=', '%', '\'', '"', ' ', '\\', ';', '+', ',', '[', ']', '!',
        '$', '0', '7', '\t', 'é', '€',
    ]);
    (
        prop::collection::vec(special.clone(), 0..6),
        prop::collection::vec(special, 0..6),
    )
        .prop_map(|(a, b)| {
            let mut s: String = a.into_iter().collect();
            s.push_str(SENTINEL);
            s.extend(b);
            s
        })
}

/// How the password is written into the string.
#[derive(Debug, Clone, Copy)]
enum Encoding {
    Raw,
    /// Reserved characters percent-encoded, as a careful user writes them.
    Reserved,
    /// Every byte percent-encoded.
    All,
}

fn encode(pw: &str, how: Encoding) -> String {
    match how {
        Encoding::Raw => pw.to_string(),
        Encoding::Reserved => pw
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect(),
        Encoding::All => pw.bytes().map(|b| format!("%{b:02x}")).collect(),
    }
}

/// A scheme in any spelling: the right ones in random case, typos,
/// `jdbc:` prefixes, arbitrary letters, none at all.
fn scheme() -> impl Strategy<Value = String> {
    let base = prop::sample::select(vec![
        "postgresql",
        "postgres",
        "postgresq",
        "pgsql",
        "pg",
        "jdbc:postgresql",
        "jdbc:postgres",
        "",
    ]);
    let any_letters = "[a-zA-Z]{1,8}(:[a-zA-Z]{1,6})?";
    prop_oneof![
        4 => (base, prop::collection::vec(any::<bool>(), 16)).prop_map(|(b, upper)| {
            b.chars()
                .zip(upper.iter().cycle())
                .map(|(c, &u)| if u { c.to_ascii_uppercase() } else { c })
                .collect()
        }),
        1 => any_letters.prop_map(|s| s),
    ]
}

/// A password key in any case, sometimes percent-encoded.
fn password_key() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["password", "sslpassword", "passwd"]),
        prop::collection::vec(0u8..3, 16),
    )
        .prop_map(|(k, how)| {
            k.chars()
                .zip(how.iter().cycle())
                .map(|(c, &h)| match h {
                    0 => c.to_string(),
                    1 => c.to_ascii_uppercase().to_string(),
                    _ => format!("%{:02X}", c as u8),
                })
                .collect()
        })
}

fn host() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["127.0.0.1", "localhost", "[::1]"])
}

/// Other query parameters, before or after the password.
fn params() -> impl Strategy<Value = Vec<&'static str>> {
    prop::collection::vec(
        prop::sample::select(vec![
            "sslmode=disable",
            "application_name=app",
            "connect_timeout=2",
            "options=-c%20x%3Dy",
            "user=bob",
            "port=1",
        ]),
        0..3,
    )
}

/// Quotes a value for a key=value string as libpq wants it.
fn quote_key_value(pw: &str) -> String {
    let mut s = String::from("'");
    for c in pw.chars() {
        if c == '\'' || c == '\\' {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('\'');
    s
}

/// Escapes a bare key=value value with backslashes.
fn escape_key_value(pw: &str) -> String {
    let mut s = String::new();
    for c in pw.chars() {
        if c.is_whitespace() || c == '\'' || c == '\\' {
            s.push('\\');
        }
        s.push(c);
    }
    s
}

/// A connection string holding the password, and the password as written.
fn connection_string() -> impl Strategy<Value = (String, String)> {
    let userinfo = (
        scheme(),
        "[a-z]{0,5}",
        password(),
        prop::sample::select(vec![Encoding::Raw, Encoding::Reserved, Encoding::All]),
        host(),
        params(),
        prop::bool::ANY,
    )
        .prop_map(|(scheme, user, pw, how, host, params, slashes)| {
            let written = encode(&pw, how);
            let mut s = String::new();
            if !scheme.is_empty() {
                s.push_str(&scheme);
                s.push_str(if slashes { "://" } else { ":" });
            }
            s.push_str(&format!("{user}:{written}@{host}:1/x"));
            if !params.is_empty() {
                s.push('?');
                s.push_str(&params.join("&"));
            }
            (s, written)
        });
    let query = (
        scheme(),
        password_key(),
        password(),
        prop::sample::select(vec![Encoding::Raw, Encoding::Reserved, Encoding::All]),
        host(),
        params(),
        params(),
        prop::sample::select(vec!["&", ";"]),
    )
        .prop_map(|(scheme, key, pw, how, host, before, after, sep)| {
            let written = encode(&pw, how);
            let mut parts: Vec<String> = before.iter().map(|p| p.to_string()).collect();
            parts.push(format!("{key}={written}"));
            parts.extend(after.iter().map(|p| p.to_string()));
            let s = format!("{scheme}://u@{host}:1/x?{}", parts.join(sep));
            (s, written)
        });
    let key_value = (
        prop::sample::select(vec!["password", "PASSWORD", "PassWord", "sslpassword"]),
        password(),
        0u8..4,
        prop::sample::select(vec!["=", " = ", "= ", " ="]),
        host(),
        prop::bool::ANY,
    )
        .prop_map(|(key, pw, style, eq, host, pw_first)| {
            let written = match style {
                0 => quote_key_value(&pw),
                1 => escape_key_value(&pw),
                // Unterminated quote.
                2 => format!("'{}", escape_key_value(&pw)),
                // Unescaped, as a careless user writes it.
                _ => pw.clone(),
            };
            let setting = format!("{key}{eq}{written}");
            let s = if pw_first {
                format!("{setting} host={host} port=1 user=u")
            } else {
                format!("host={host} port=1 user=u dbname=x {setting}")
            };
            (s, written)
        });
    prop_oneof![userinfo, query, key_value]
}

fn assert_hidden(text: &str, written: &str, what: &str, url: &str) {
    assert!(
        !text.contains(SENTINEL) && !text.contains(written),
        "{what} shows the password {written:?} of {url:?}:\n{text}"
    );
}

/// Cases per property: `MERGEPOINT_PROPTEST_CASES` (scripts/soak raises it).
fn cases(default: u32) -> u32 {
    std::env::var("MERGEPOINT_PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(2000)))]

    #[test]
    fn mask_url_never_shows_a_password((url, written) in connection_string()) {
        assert_hidden(&mask_url(&url), &written, "mask_url", &url);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(2000) / 30))]

    /// The whole error (masked URL and scrubbed driver message) of a failed
    /// connection, whether the string did not parse or the port refused.
    #[test]
    fn connect_errors_never_show_a_password((url, written) in connection_string()) {
        let err = Database::connect(&url).expect_err("nothing listens on port 1");
        assert_hidden(&format!("{err}\n{err:?}"), &written, "the connect error", &url);
    }
}

#[test]
fn the_binary_never_prints_a_password_in_any_spelling() {
    let env = TestEnv::new();
    for url in [
        "POSTGRESQL://u:S3cret@127.0.0.1:1/x",
        "postgresq://u:S3cret@127.0.0.1:1/x",
        "jdbc:postgresql://u:S3cret@127.0.0.1:1/x",
        "Postgres://u:S3cret@127.0.0.1:1/x",
        "u:S3cret@127.0.0.1:1/x",
        "postgresql://u@127.0.0.1:1/x?PASSWORD=S3cret",
        "postgresql://u@127.0.0.1:1/x?pass%77ord=S3cret",
        "host=127.0.0.1 port=1 password='S3cret",
        "host=127.0.0.1 port=1 password=S3 cret",
    ] {
        let run = env.run(&["current", "--database-url", url]);
        assert_eq!(run.code, 3, "{url}: {}", run.transcript());
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(
            !all.contains("S3cret") && !all.contains("cret"),
            "{url}: {all}"
        );
        assert!(run.stderr.contains("cannot connect"), "{url}: {all}");
    }
}
