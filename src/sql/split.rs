//! Splitting an SQL script into statements, the way psql does: semicolons
//! inside quotes, dollar quotes, quoted identifiers and comments do not
//! count. Used for non-transactional revisions, whose statements must each
//! be sent alone (PostgreSQL runs a multi-statement simple query as one
//! implicit transaction, which `CREATE INDEX CONCURRENTLY` refuses).

/// The statements of `sql`, each without its terminating `;`, trimmed;
/// statements that are empty or only comments are left out.
pub fn split_statements(sql: &str) -> Vec<String> {
    let (mut statements, tail) = scan(sql);
    statements.push(tail);
    statements
        .into_iter()
        .filter(|s| has_code(s))
        .map(|s| s.trim().to_string())
        .collect()
}

/// True if `sql`'s last statement is not terminated by `;` (so a `;` must
/// be added before appending more SQL).
pub fn needs_terminator(sql: &str) -> bool {
    let (_, tail) = scan(sql);
    has_code(&tail)
}

/// Whether the text has anything besides white space and comments.
fn has_code(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i = skip_block_comment(b, i);
        } else {
            return true;
        }
    }
    false
}

fn skip_block_comment(b: &[u8], mut i: usize) -> usize {
    // b[i..] starts with "/*"; comments nest in PostgreSQL.
    let mut depth = 0;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
        } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    i
}

fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

/// Terminated statements (without `;`) and the unterminated rest.
fn scan(sql: &str) -> (Vec<String>, String) {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let mut paren = 0i32;
    while i < b.len() {
        let c = b[i];
        match c {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => i = skip_block_comment(b, i),
            b'\'' => {
                let escapes = i > 0
                    && (b[i - 1] == b'e' || b[i - 1] == b'E')
                    && (i < 2 || !is_ident_byte(b[i - 2]));
                i += 1;
                while i < b.len() {
                    if escapes && b[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if b[i] == b'\'' {
                        if b.get(i + 1) == Some(&b'\'') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'"' => {
                i += 1;
                while i < b.len() {
                    if b[i] == b'"' {
                        if b.get(i + 1) == Some(&b'"') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'$' if i == 0 || !is_ident_byte(b[i - 1]) => {
                // A dollar quote: $tag$ with tag empty or an identifier
                // not starting with a digit.
                let mut j = i + 1;
                while j < b.len() && is_ident_byte(b[j]) && b[j] != b'$' {
                    j += 1;
                }
                let tag_ok =
                    j < b.len() && b[j] == b'$' && (j == i + 1 || !b[i + 1].is_ascii_digit());
                if tag_ok {
                    let tag = &sql[i..=j];
                    match sql[j + 1..].find(tag) {
                        Some(end) => i = j + 1 + end + tag.len(),
                        None => i = b.len(),
                    }
                } else {
                    i += 1;
                }
            }
            b'(' => {
                paren += 1;
                i += 1;
            }
            b')' => {
                paren -= 1;
                i += 1;
            }
            b';' if paren <= 0 => {
                out.push(sql[start..i].to_string());
                i += 1;
                start = i;
                paren = 0;
            }
            _ => i += 1,
        }
    }
    let tail = sql[start.min(sql.len())..].to_string();
    (out, tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_psql() {
        let sql = "CREATE TABLE a (x text default 'a;b');\n-- c;\n/* d; /* e; */ */\nCREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;\nSELECT E'\\';', \"q;\"\"\", $1 ; ; \nCREATE INDEX CONCURRENTLY i ON a (x)";
        let parts = split_statements(sql);
        assert_eq!(parts.len(), 4, "{parts:?}");
        assert!(parts[1].contains("$body$ SELECT 1; $body$"));
        assert!(parts[2].starts_with("SELECT E'"));
        assert_eq!(parts[3], "CREATE INDEX CONCURRENTLY i ON a (x)");
        assert!(needs_terminator(sql));
        assert!(!needs_terminator("SELECT 1; -- done"));
        assert!(!needs_terminator("  "));
    }
}
