//! Finding transaction-control statements (BEGIN, COMMIT, ROLLBACK,
//! SAVEPOINT, ...) at the top level of a script. A transactional revision
//! runs in one transaction with its version-table update; such a statement
//! would commit or roll back part of it behind mergepoint's back, so the
//! loader refuses it and the runner checks again before running a step.
//!
//! Only statement-leading keywords count, found with the same scanner that
//! splits statements: `select begin from t`, `END IF` inside a `$$` body,
//! `DO $$ BEGIN ... END $$` and `BEGIN ATOMIC ... END` function bodies are
//! not transaction control.

use super::split::statement_starts;

/// A transaction-control statement found by [`transaction_control`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControlStatement {
    /// 1-based line of the statement's first keyword in the script.
    pub line: usize,
    /// 1-based column (in characters) of that keyword.
    pub column: usize,
    /// The statement, as PostgreSQL's documentation names it: `BEGIN`,
    /// `START TRANSACTION`, `COMMIT`, `COMMIT PREPARED`, `END`, `ROLLBACK`,
    /// `ROLLBACK TO SAVEPOINT`, `ROLLBACK PREPARED`, `ABORT`, `SAVEPOINT`,
    /// `RELEASE SAVEPOINT` or `PREPARE TRANSACTION`.
    pub keyword: &'static str,
}

/// The first transaction-control statement at the top level of `sql`, if
/// any.
pub fn transaction_control(sql: &str) -> Option<ControlStatement> {
    statement_starts(sql).into_iter().find_map(|at| {
        let keyword = control_keyword(&sql[at..])?;
        let before = &sql[..at];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = sql[line_start..at].chars().count() + 1;
        Some(ControlStatement {
            line,
            column,
            keyword,
        })
    })
}

/// The first top-level `COPY ... FROM STDIN` or `COPY ... TO STDOUT` of
/// `sql`: it would stream data through the client, which mergepoint does
/// not do (online the connection breaks; in an offline script psql would
/// read the rest of the script as the data). `keyword` says which.
pub fn client_copy(sql: &str) -> Option<ControlStatement> {
    let starts = statement_starts(sql);
    starts.iter().enumerate().find_map(|(k, &at)| {
        let words = leading_words(&sql[at..], 1);
        if words.first().map(String::as_str) != Some("copy") {
            return None;
        }
        let end = starts.get(k + 1).copied().unwrap_or(sql.len());
        let stmt = sql[at..end].to_ascii_lowercase();
        let words: Vec<&str> = stmt
            .split(|c: char| c.is_whitespace() || c == ';' || c == '(' || c == ')')
            .filter(|w| !w.is_empty())
            .collect();
        let keyword = if words.windows(2).any(|w| w == ["from", "stdin"]) {
            "COPY ... FROM STDIN"
        } else if words.windows(2).any(|w| w == ["to", "stdout"]) {
            "COPY ... TO STDOUT"
        } else {
            return None;
        };
        let before = &sql[..at];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Some(ControlStatement {
            line: before.matches('\n').count() + 1,
            column: sql[line_start..at].chars().count() + 1,
            keyword,
        })
    })
}

/// The words a statement starts with, lower-cased, at most `n`; comments
/// between them are skipped.
fn leading_words(stmt: &str, n: usize) -> Vec<String> {
    let b = stmt.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    while words.len() < n && i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            // Nested comments are rare here; the first `*/` is enough to
            // read the next word.
            i = stmt[i..].find("*/").map_or(b.len(), |e| i + e + 2);
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let w = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$') {
                i += 1;
            }
            words.push(stmt[w..i].to_ascii_lowercase());
        } else {
            break;
        }
    }
    words
}

/// The transaction-control statement `stmt` (a statement's text from its
/// first keyword on) is, if it is one.
fn control_keyword(stmt: &str) -> Option<&'static str> {
    // Cheap refusal first: most statements start with another letter.
    let first = stmt.as_bytes().first()?.to_ascii_lowercase();
    if !b"bcearsp".contains(&first) {
        return None;
    }
    let words = leading_words(stmt, 2);
    let second = words.get(1).map(String::as_str);
    Some(match (words.first()?.as_str(), second) {
        ("begin", _) => "BEGIN",
        ("start", Some("transaction")) => "START TRANSACTION",
        ("commit", Some("prepared")) => "COMMIT PREPARED",
        ("commit", _) => "COMMIT",
        ("end", _) => "END",
        ("rollback", Some("prepared")) => "ROLLBACK PREPARED",
        ("rollback", Some("to")) => "ROLLBACK TO SAVEPOINT",
        ("rollback", _) => "ROLLBACK",
        ("abort", _) => "ABORT",
        ("savepoint", _) => "SAVEPOINT",
        ("release", _) => "RELEASE SAVEPOINT",
        ("prepare", Some("transaction")) => "PREPARE TRANSACTION",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kw(sql: &str) -> Option<&'static str> {
        transaction_control(sql).map(|c| c.keyword)
    }

    #[test]
    fn finds_every_transaction_control_statement() {
        for (sql, keyword) in [
            ("begin", "BEGIN"),
            ("BEGIN WORK;", "BEGIN"),
            ("begin transaction isolation level serializable;", "BEGIN"),
            ("START TRANSACTION;", "START TRANSACTION"),
            ("start  /* c */ transaction read only", "START TRANSACTION"),
            ("commit;", "COMMIT"),
            ("COMMIT AND CHAIN;", "COMMIT"),
            ("commit prepared 'x';", "COMMIT PREPARED"),
            ("end;", "END"),
            ("END TRANSACTION", "END"),
            ("rollback", "ROLLBACK"),
            ("ROLLBACK TO SAVEPOINT s;", "ROLLBACK TO SAVEPOINT"),
            ("rollback to s;", "ROLLBACK TO SAVEPOINT"),
            ("ROLLBACK PREPARED 'x'", "ROLLBACK PREPARED"),
            ("abort;", "ABORT"),
            ("savepoint s1;", "SAVEPOINT"),
            ("RELEASE SAVEPOINT s1;", "RELEASE SAVEPOINT"),
            ("release s1;", "RELEASE SAVEPOINT"),
            ("PREPARE TRANSACTION 'x';", "PREPARE TRANSACTION"),
        ] {
            assert_eq!(kw(sql), Some(keyword), "{sql}");
        }
    }

    #[test]
    fn reports_line_and_column_of_the_first() {
        let sql =
            "create table c1(x int);\n-- now\n  /* then */ commit;\ncreate table c2();\nrollback;";
        assert_eq!(
            transaction_control(sql),
            Some(ControlStatement {
                line: 3,
                column: 14,
                keyword: "COMMIT"
            })
        );
        let sql = "select 'é';\n\u{e9}\u{e9}; end";
        let c = transaction_control(sql).unwrap();
        assert_eq!((c.line, c.column), (2, 5));
    }

    #[test]
    fn words_that_are_not_statement_leading_do_not_count() {
        for sql in [
            "",
            "-- commit;\n/* rollback; */",
            "select begin from t;",
            "select 1 as commit; select end from t",
            "create table t (begin int, \"end\" text);",
            "update t set rollback = 1;",
            "insert into t values ('commit;'), ($$;begin;$$), (E'\\';commit;');",
            "select \"x;\"\"commit\" from t",
            "prepare q as select 1; execute q;",
            "start_time();",
            "savepoints();",
            "endpoint();",
            "DO $$ BEGIN RAISE NOTICE 'x'; END $$;",
            "do $body$\nbegin\n  if true then\n    commit;\n  end if;\nend\n$body$;",
            "CREATE FUNCTION f() RETURNS int AS $$\nBEGIN\n  RETURN 1;\nEND;\n$$ LANGUAGE plpgsql;",
            "create or replace function f() returns int language plpgsql as 'begin return 1; end;';",
        ] {
            assert_eq!(kw(sql), None, "{sql}");
        }
    }

    #[test]
    fn sql_standard_function_bodies_are_not_top_level() {
        let body = "CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n  SELECT CASE WHEN true THEN 1 END;\nEND;";
        assert_eq!(kw(body), None);
        let proc = "create or replace procedure p() language sql begin atomic insert into t values (1); end; commit;";
        assert_eq!(kw(proc), Some("COMMIT"));
        assert_eq!(super::super::split_statements(proc).len(), 2);
    }

    proptest! {
        /// Transaction control hidden in a literal, an identifier, a comment
        /// or a dollar-quoted body is never found; put at the start of a
        /// statement, it always is, on the right line.
        #[test]
        fn only_statement_leading_keywords_count(
            word in prop::sample::select(vec!["begin", "COMMIT", "end", "Rollback", "abort", "savepoint", "release"]),
            wrap in 0..5usize,
            before in prop::collection::vec(prop::sample::select(vec!["select 1;", "create table t(x int);", "\n", "-- c\n", "/* ; */"]), 0..4),
        ) {
            let hidden = match wrap {
                0 => format!("select '{word};';"),
                1 => format!("select \"{word}\" from t;"),
                2 => format!("-- {word};\n"),
                3 => format!("do $f$ begin perform 1; {word}; end $f$;"),
                _ => format!("select 1 as {word};"),
            };
            let prefix = before.concat();
            let text = format!("{prefix}{hidden}");
            prop_assert_eq!(kw(&text), None, "{}", text);
            let shown = format!("{text}\n{word};");
            let found = transaction_control(&shown);
            prop_assert!(found.is_some(), "{}", shown);
            prop_assert_eq!(found.unwrap().line, shown.matches('\n').count() + 1);
        }

        /// Never panics, and what it finds is a statement start.
        #[test]
        fn total_on_arbitrary_text(s in "[ -~\n\t\u{e9}]{0,200}") {
            if let Some(c) = transaction_control(&s) {
                prop_assert!(c.line >= 1 && c.column >= 1);
            }
        }
    }

    #[test]
    fn client_copy_is_found_at_the_top_level_only() {
        let c = client_copy("create table t (x int);\nCOPY t (x) FROM stdin;\n").unwrap();
        assert_eq!((c.line, c.keyword), (2, "COPY ... FROM STDIN"));
        assert_eq!(
            client_copy("copy t to STDOUT").unwrap().keyword,
            "COPY ... TO STDOUT"
        );
        assert!(client_copy("copy t from '/tmp/x'; select 'copy t from stdin'").is_none());
        assert!(client_copy("do $$ begin execute 'copy t from stdin'; end $$").is_none());
    }
}
