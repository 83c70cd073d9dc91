//! Alembic `versions/*.py` files, read statically (no Python is run), and
//! written in Alembic's default `script.py.mako` layout.
//!
//! The reader tokenizes the whole module the way Python does (strings of
//! every kind, comments, brackets, continuation lines), splits it into
//! logical statements, and evaluates only module-level assignments to
//! `revision`, `down_revision`, `branch_labels` and `depends_on` whose value
//! is a literal: `None`, a string (adjacent literals concatenate), or a
//! tuple or list of strings. The last assignment wins, as when Python runs
//! the module. The message is Alembic's `Script.doc`: the module docstring,
//! stripped, up to its first blank line.

use std::borrow::Cow;
use std::path::Path;

use super::LoadError;
use crate::graph::Revision;

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    Name(&'a str),
    /// A string literal: its value, and whether it is bytes or an f-string
    /// (neither can be a revision id).
    Str {
        value: Cow<'a, str>,
        kind: StrKind,
    },
    Op(&'static str),
    /// Numbers and any character we have no use for.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum StrKind {
    Text,
    Bytes,
    Format,
}

#[derive(Debug)]
struct Spanned<'a> {
    tok: Tok<'a>,
    line: usize,
    col: usize,
}

/// One logical statement: a range of the token list.
type Statement = std::ops::Range<usize>;

struct Lexer<'a> {
    src: &'a [u8],
    text: &'a str,
    pos: usize,
    line: usize,
    line_start: usize,
    /// Open brackets at this point.
    depth: usize,
    /// f-string replacement fields open at this point.
    fstring_depth: usize,
}

const OPS: [&str; 27] = [
    "**=", "//=", ">>=", "<<=", "...", "->", ":=", "==", "!=", "<=", ">=", "+=", "-=", "*=", "/=",
    "%=", "@=", "&=", "|=", "^=", "**", "//", "<<", ">>", "=", ":", ",",
];

const SINGLE_OPS: [&str; 20] = [
    "(", ")", "[", "]", "{", "}", ".", ";", "+", "-", "*", "/", "%", "@", "&", "|", "^", "~", "<",
    ">",
];

/// Python's own limit on open brackets (`MAXLEVEL` in its tokenizer: "too
/// many nested parentheses"). Also what keeps the recursive literal reader
/// below from overflowing the stack on hostile input.
const MAX_BRACKETS: usize = 200;

/// Python's limit on f-strings nested in f-strings (`MAXFSTRINGLEVEL`).
const MAX_FSTRING_NESTING: usize = 150;

fn too_deep(what: &str, limit: usize) -> String {
    format!("{what} nest more than {limit} deep (Python refuses this too); a revision header needs no nesting: write down_revision = 'id' or ('id1', 'id2')")
}

/// A tokenizing failure: line and message.
type LexError = (usize, String);

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Self {
        Lexer {
            src: text.as_bytes(),
            text,
            pos: 0,
            line: 1,
            line_start: 0,
            depth: 0,
            fstring_depth: 0,
        }
    }

    fn peek(&self, off: usize) -> u8 {
        self.src.get(self.pos + off).copied().unwrap_or(0)
    }

    fn newline(&mut self) {
        self.line += 1;
        self.line_start = self.pos;
    }

    /// Tokenizes the module and splits it into logical statements.
    #[allow(clippy::type_complexity)]
    fn statements(mut self) -> Result<(Vec<Spanned<'a>>, Vec<Statement>), LexError> {
        let mut out = Vec::new();
        let mut cur: Vec<Spanned<'a>> = Vec::with_capacity(128);
        let mut start = 0usize;
        let flush = |cur: &mut Vec<Spanned<'a>>, out: &mut Vec<Statement>, start: &mut usize| {
            if cur.len() > *start {
                out.push(*start..cur.len());
                *start = cur.len();
            }
        };
        while self.pos < self.src.len() {
            let b = self.src[self.pos];
            match b {
                b'\n' => {
                    self.pos += 1;
                    self.newline();
                    if self.depth == 0 {
                        flush(&mut cur, &mut out, &mut start);
                    }
                }
                b' ' | b'\t' | b'\x0c' => self.pos += 1,
                b'#' => {
                    while self.pos < self.src.len() && self.src[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                }
                b'\\' if self.peek(1) == b'\n' => {
                    self.pos += 2;
                    self.newline();
                }
                b';' if self.depth == 0 => {
                    self.pos += 1;
                    flush(&mut cur, &mut out, &mut start);
                }
                b'\'' | b'"' => {
                    let (line, col) = (self.line, self.pos - self.line_start);
                    let tok = self.string("")?;
                    cur.push(Spanned { tok, line, col });
                }
                b'0'..=b'9' => {
                    let (line, col) = (self.line, self.pos - self.line_start);
                    while self.pos < self.src.len()
                        && (self.src[self.pos].is_ascii_alphanumeric()
                            || self.src[self.pos] == b'_'
                            || self.src[self.pos] == b'.')
                    {
                        self.pos += 1;
                    }
                    cur.push(Spanned {
                        tok: Tok::Other,
                        line,
                        col,
                    });
                }
                b if b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 => {
                    let (line, col) = (self.line, self.pos - self.line_start);
                    let start = self.pos;
                    while self.pos < self.src.len()
                        && (self.src[self.pos].is_ascii_alphanumeric()
                            || self.src[self.pos] == b'_'
                            || self.src[self.pos] >= 0x80)
                    {
                        self.pos += 1;
                    }
                    let name = &self.text[start..self.pos];
                    let q = self.peek(0);
                    let tok = if (q == b'\'' || q == b'"') && is_string_prefix(name) {
                        self.string(name)?
                    } else {
                        Tok::Name(name)
                    };
                    cur.push(Spanned { tok, line, col });
                }
                _ => {
                    let (line, col) = (self.line, self.pos - self.line_start);
                    let rest = &self.src[self.pos..];
                    let op = OPS
                        .iter()
                        .chain(SINGLE_OPS.iter())
                        .find(|op| rest.starts_with(op.as_bytes()))
                        .copied();
                    let tok = match op {
                        Some(op) => {
                            self.pos += op.len();
                            match op {
                                "(" | "[" | "{" if self.depth >= MAX_BRACKETS => {
                                    return Err((self.line, too_deep("brackets", MAX_BRACKETS)))
                                }
                                "(" | "[" | "{" => self.depth += 1,
                                ")" | "]" | "}" => self.depth = self.depth.saturating_sub(1),
                                _ => {}
                            }
                            Tok::Op(op)
                        }
                        None => {
                            self.pos += 1;
                            Tok::Other
                        }
                    };
                    cur.push(Spanned { tok, line, col });
                }
            }
        }
        flush(&mut cur, &mut out, &mut start);
        Ok((cur, out))
    }

    /// Reads a string literal at `self.pos` (the opening quote), with the
    /// given prefix already consumed.
    fn string(&mut self, prefix: &str) -> Result<Tok<'a>, LexError> {
        let start_line = self.line;
        let lower = prefix.to_ascii_lowercase();
        let raw = lower.contains('r');
        let kind = if lower.contains('b') {
            StrKind::Bytes
        } else if lower.contains('f') || lower.contains('t') {
            StrKind::Format
        } else {
            StrKind::Text
        };
        let q = self.src[self.pos];
        let triple = self.peek(1) == q && self.peek(2) == q;
        self.pos += if triple { 3 } else { 1 };
        let body_start = self.pos;
        loop {
            if self.pos >= self.src.len() {
                return Err((
                    start_line,
                    "unterminated string literal (it runs to the end of the file); close the quote"
                        .to_string(),
                ));
            }
            let b = self.src[self.pos];
            if b == b'\\' {
                self.pos += 1;
                if self.pos < self.src.len() {
                    if self.src[self.pos] == b'\n' {
                        self.pos += 1;
                        self.newline();
                    } else {
                        self.pos += 1;
                    }
                }
                continue;
            }
            if kind == StrKind::Format && (b == b'{' || b == b'}') {
                if self.peek(1) == b {
                    self.pos += 2;
                } else if b == b'{' {
                    self.pos += 1;
                    self.skip_replacement_field(start_line)?;
                } else {
                    self.pos += 1;
                }
                continue;
            }
            if b == b'\n' {
                if !triple {
                    return Err((
                        start_line,
                        "unterminated string literal (the line ends before the closing quote); close the quote".to_string(),
                    ));
                }
                self.pos += 1;
                self.newline();
                continue;
            }
            if b == q && (!triple || (self.peek(1) == q && self.peek(2) == q)) {
                let body: &'a str = &self.text[body_start..self.pos];
                self.pos += if triple { 3 } else { 1 };
                let value = if raw || kind == StrKind::Format || !body.contains('\\') {
                    Cow::Borrowed(body)
                } else {
                    Cow::Owned(unescape(body, kind == StrKind::Bytes).map_err(|m| (start_line, m))?)
                };
                return Ok(Tok::Str { value, kind });
            }
            self.pos += 1;
        }
    }
}

impl Lexer<'_> {
    /// Skips an f-string replacement field (after its `{`), which may hold
    /// any expression, including strings with the same quotes (Python 3.12).
    fn skip_replacement_field(&mut self, start_line: usize) -> Result<(), LexError> {
        if self.fstring_depth >= MAX_FSTRING_NESTING {
            return Err((self.line, too_deep("f-string fields", MAX_FSTRING_NESTING)));
        }
        self.fstring_depth += 1;
        let r = self.skip_replacement_field_inner(start_line);
        self.fstring_depth -= 1;
        r
    }

    fn skip_replacement_field_inner(&mut self, start_line: usize) -> Result<(), LexError> {
        let mut depth = 1usize;
        while self.pos < self.src.len() {
            let b = self.src[self.pos];
            match b {
                b'\'' | b'"' => {
                    self.string("")?;
                }
                b'\n' => {
                    self.pos += 1;
                    self.newline();
                }
                b':' if depth == 1 => {
                    // The format spec: literal text with nested fields.
                    self.pos += 1;
                    while self.pos < self.src.len() {
                        match self.src[self.pos] {
                            b'{' => {
                                self.pos += 1;
                                self.skip_replacement_field(start_line)?;
                            }
                            b'}' => {
                                self.pos += 1;
                                return Ok(());
                            }
                            b'\n' => {
                                self.pos += 1;
                                self.newline();
                            }
                            _ => self.pos += 1,
                        }
                    }
                }
                b'{' | b'(' | b'[' => {
                    depth += 1;
                    self.pos += 1;
                }
                b'}' | b')' | b']' => {
                    depth -= 1;
                    self.pos += 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                b if b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 => {
                    let start = self.pos;
                    while self.pos < self.src.len()
                        && (self.src[self.pos].is_ascii_alphanumeric()
                            || self.src[self.pos] == b'_'
                            || self.src[self.pos] >= 0x80)
                    {
                        self.pos += 1;
                    }
                    let name = &self.text[start..self.pos];
                    let q = self.peek(0);
                    if (q == b'\'' || q == b'"') && is_string_prefix(name) {
                        self.string(name)?;
                    }
                }
                _ => self.pos += 1,
            }
        }
        Err((
            start_line,
            "unterminated f-string (a `{` is never closed); close it".to_string(),
        ))
    }
}

fn is_string_prefix(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "r" | "u" | "b" | "f" | "t" | "br" | "rb" | "fr" | "rf" | "tr" | "rt"
    )
}

/// Python's escape sequences in a non-raw string literal.
fn unescape(body: &str, bytes: bool) -> Result<String, String> {
    if !body.contains('\\') {
        return Ok(body.to_string());
    }
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else {
            out.push('\\');
            break;
        };
        match e {
            '\n' => {}
            '\\' => out.push('\\'),
            '\'' => out.push('\''),
            '"' => out.push('"'),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '0'..='7' => {
                let mut v = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match chars.peek().and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            v = v * 8 + d;
                            chars.next();
                        }
                        None => break,
                    }
                }
                out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
            }
            'x' | 'u' | 'U' if !(bytes && e != 'x') => {
                let n = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let digits: String = (0..n).filter_map(|_| chars.next()).collect();
                let v = (digits.len() == n)
                    .then(|| u32::from_str_radix(&digits, 16).ok())
                    .flatten()
                    .and_then(char::from_u32)
                    .ok_or_else(|| format!("invalid \\{e} escape '\\{e}{digits}' in a string"))?;
                out.push(v);
            }
            'N' if !bytes => {
                return Err(
                    "\\N{...} escapes are not supported by the static reader; write the character itself"
                        .to_string(),
                )
            }
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    Ok(out)
}

/// A literal value on the right of an assignment.
#[derive(Debug, Clone, PartialEq)]
enum PyVal {
    None,
    Str(String),
    Seq(Vec<String>),
}

/// Evaluates `toks` as a literal: None, a string, or a tuple/list of strings.
fn literal(toks: &[Spanned<'_>]) -> Result<PyVal, String> {
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
    };
    let v = p.expr_list()?;
    if p.pos < toks.len() {
        return Err("unexpected text after the value".to_string());
    }
    Ok(v)
}

struct Parser<'t> {
    toks: &'t [Spanned<'t>],
    pos: usize,
    /// Brackets open at this point (the lexer already bounds them; this
    /// keeps the recursion bounded whatever the tokens).
    depth: usize,
}

#[derive(Debug)]
enum Item {
    None,
    Str(String),
    Seq(Vec<Item>),
}

impl<'t> Parser<'t> {
    fn peek(&self) -> Option<&Tok<'t>> {
        self.toks.get(self.pos).map(|s| &s.tok)
    }

    fn expr_list(&mut self) -> Result<PyVal, String> {
        let first = self.item()?;
        if self.peek() != Some(&Tok::Op(",")) {
            return to_val(first);
        }
        let mut items = vec![first];
        while self.peek() == Some(&Tok::Op(",")) {
            self.pos += 1;
            if self.peek().is_none() {
                break;
            }
            items.push(self.item()?);
        }
        to_val(Item::Seq(items))
    }

    fn seq(&mut self, close: &'static str) -> Result<Item, String> {
        // Called after the opening bracket; handles (), (x), (x,), [x, y,].
        if self.depth >= MAX_BRACKETS {
            return Err(too_deep("brackets", MAX_BRACKETS));
        }
        self.depth += 1;
        let r = self.seq_items(close);
        self.depth -= 1;
        r
    }

    fn seq_items(&mut self, close: &'static str) -> Result<Item, String> {
        let mut items = Vec::new();
        let mut saw_comma = false;
        loop {
            if self.peek() == Some(&Tok::Op(close)) {
                self.pos += 1;
                break;
            }
            items.push(self.item()?);
            match self.peek() {
                Some(Tok::Op(",")) => {
                    saw_comma = true;
                    self.pos += 1;
                }
                Some(Tok::Op(c)) if *c == close => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(format!("expected ',' or '{close}'")),
            }
        }
        if close == ")" && items.len() == 1 && !saw_comma {
            // Parentheses around one value only group it.
            return Ok(items.pop().unwrap_or(Item::None));
        }
        Ok(Item::Seq(items))
    }

    fn item(&mut self) -> Result<Item, String> {
        match self.peek() {
            Some(Tok::Name("None")) => {
                self.pos += 1;
                Ok(Item::None)
            }
            Some(Tok::Str { .. }) => {
                let mut s = String::new();
                while let Some(Tok::Str { value, kind }) = self.peek() {
                    match kind {
                        StrKind::Text => s.push_str(value),
                        StrKind::Bytes => {
                            return Err("bytes literals (b'...') cannot be revision ids; use a plain string".to_string())
                        }
                        StrKind::Format => {
                            return Err("f-strings are computed at run time; use a plain string literal".to_string())
                        }
                    }
                    self.pos += 1;
                }
                Ok(Item::Str(s))
            }
            Some(Tok::Op("(")) => {
                self.pos += 1;
                self.seq(")")
            }
            Some(Tok::Op("[")) => {
                self.pos += 1;
                self.seq("]")
            }
            Some(_) => Err("it is computed (a call, a name or an expression), and revision files are read without running Python".to_string()),
            None => Err("the value is missing".to_string()),
        }
    }
}

fn to_val(item: Item) -> Result<PyVal, String> {
    match item {
        Item::None => Ok(PyVal::None),
        Item::Str(s) => Ok(PyVal::Str(s)),
        Item::Seq(items) => items
            .into_iter()
            .map(|i| match i {
                Item::Str(s) => Ok(s),
                Item::None => {
                    Err("a tuple or list here may hold only strings, not None".to_string())
                }
                Item::Seq(_) => Err("nested tuples or lists are not allowed here".to_string()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(PyVal::Seq),
    }
}

const FIELDS: [&str; 4] = ["revision", "down_revision", "branch_labels", "depends_on"];

/// Python's `str.isspace`, for `str.strip()`.
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// Normalizes line endings as Python's source reader does, and drops a BOM.
fn normalize(text: &str) -> std::borrow::Cow<'_, str> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.contains('\r') {
        std::borrow::Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Reads an Alembic revision file's header without running it.
pub fn parse_alembic(path: &Path, text: &str) -> Result<Revision, LoadError> {
    let text = normalize(text);
    let py_err = |line: usize, message: String| LoadError::Python {
        path: path.to_path_buf(),
        line,
        message,
    };
    let (toks, stmts) = Lexer::new(&text)
        .statements()
        .map_err(|(line, m)| py_err(line, m))?;

    // The docstring: a first statement made only of string literals.
    let mut doc: Option<String> = None;
    if let Some(first) = stmts.first().map(|r| &toks[r.clone()]) {
        if first.iter().all(|t| {
            matches!(
                t.tok,
                Tok::Str {
                    kind: StrKind::Text,
                    ..
                }
            )
        }) {
            doc = Some(
                first
                    .iter()
                    .map(|t| match &t.tok {
                        Tok::Str { value, .. } => value.as_ref(),
                        _ => "",
                    })
                    .collect(),
            );
        }
    }

    let mut values: [Option<(usize, PyVal)>; 4] = [None, None, None, None];
    for range in &stmts {
        let st = &toks[range.clone()];
        let Some(first) = st.first() else {
            continue;
        };
        if first.col != 0 {
            continue;
        }
        // Split at top-level '=': targets ... = value.
        // Only statements that mention one of our names can assign it.
        if !st
            .iter()
            .any(|t| matches!(t.tok, Tok::Name(n) if FIELDS.contains(&n)))
        {
            continue;
        }
        let mut parts: Vec<&[Spanned]> = Vec::new();
        let mut depth = 0usize;
        let mut start = 0;
        for (i, t) in st.iter().enumerate() {
            match t.tok {
                Tok::Op("(" | "[" | "{") => depth += 1,
                Tok::Op(")" | "]" | "}") => depth = depth.saturating_sub(1),
                Tok::Op("=") if depth == 0 => {
                    parts.push(&st[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        if parts.is_empty() {
            continue;
        }
        let value_toks = &st[start..];
        let annotated = parts.len() == 1;
        for target in &parts {
            let name = match target {
                [Spanned {
                    tok: Tok::Name(n), ..
                }] => n,
                [Spanned {
                    tok: Tok::Name(n), ..
                }, Spanned {
                    tok: Tok::Op(":"), ..
                }, ..]
                    if annotated =>
                {
                    n
                }
                _ => continue,
            };
            let Some(slot) = FIELDS.iter().position(|f| f == name) else {
                continue;
            };
            let line = target[0].line;
            let v = literal(value_toks).map_err(|m| {
                py_err(
                    line,
                    format!("cannot read `{name}`: {m}; write it as a literal: None, 'id' or ('id1', 'id2')"),
                )
            })?;
            values[slot] = Some((line, v));
        }
    }

    let [revision, down, labels, deps] = values;
    let id_line = revision.as_ref().map(|(line, _)| *line);
    let id = match revision {
        Some((_, PyVal::Str(s))) => s,
        Some((line, _)) => {
            return Err(py_err(
                line,
                "`revision` must be a single string id, like revision = 'ae1027a6acf'".to_string(),
            ))
        }
        None => {
            // Alembic's legacy rule: a file named <hex>.py without a
            // `revision` variable takes its id from the file name.
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            match name.strip_suffix(".py") {
                Some(stem)
                    if !stem.is_empty()
                        && stem.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
                {
                    stem.to_string()
                }
                _ => {
                    return Err(LoadError::NotARevision {
                        path: path.to_path_buf(),
                        reason: "it assigns no module-level `revision` variable; add `revision = '<id>'` and `down_revision = ...`, or move the file out of the versions directory".to_string(),
                    })
                }
            }
        }
    };
    LoadError::check_id_length(path, id_line, &id)?;
    let parents = match down {
        Some((_, v)) => to_list(v),
        None => {
            return Err(LoadError::MissingField {
                path: path.to_path_buf(),
                line: None,
                field: "down_revision",
                hint: "add `down_revision = None` for a base revision, or the parent id(s)"
                    .to_string(),
            })
        }
    };
    let message = doc
        .map(|d| {
            let d = d.trim_matches(py_space);
            d.split("\n\n").next().unwrap_or("").to_string()
        })
        .unwrap_or_default();
    Ok(Revision {
        id,
        parents,
        depends_on: deps.map(|(_, v)| to_list(v)).unwrap_or_default(),
        branch_labels: labels.map(|(_, v)| to_list(v)).unwrap_or_default(),
        message,
        origin: path.display().to_string(),
    })
}

fn to_list(v: PyVal) -> Vec<String> {
    match v {
        PyVal::None => Vec::new(),
        PyVal::Str(s) => vec![s],
        PyVal::Seq(v) => v,
    }
}

/// Python's `repr()` of a str.
pub(crate) fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                let v = c as u32;
                if v <= 0xff {
                    out.push_str(&format!("\\x{v:02x}"));
                } else if v <= 0xffff {
                    out.push_str(&format!("\\u{v:04x}"));
                } else {
                    out.push_str(&format!("\\U{v:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Alembic's `tuple_rev_as_scalar` then `repr`: None, 'a', or ('a', 'b').
fn repr_scalar_or_tuple(items: &[String]) -> String {
    match items {
        [] => "None".to_string(),
        [one] => py_repr(one),
        many => repr_tuple(many),
    }
}

fn repr_tuple(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| py_repr(s)).collect();
    if inner.len() == 1 {
        format!("({},)", inner[0])
    } else {
        format!("({})", inner.join(", "))
    }
}

/// Escapes a message for the inside of a `"""` docstring so that Python's
/// `__doc__` gives the message back.
fn docstring_text(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    // The message is followed by a blank line in the template, so only a
    // `"""` inside it can end the docstring early.
    let needs_quote_escape = message.contains("\"\"\"");
    for c in message.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("\\r"),
            '"' if needs_quote_escape => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

/// Python's `str(datetime)` of an aware UTC datetime, as Alembic writes
/// `Create Date` with `timezone = UTC`.
fn create_date(d: &chrono::DateTime<chrono::Utc>) -> String {
    use chrono::Timelike;
    if d.nanosecond() / 1000 == 0 {
        d.format("%Y-%m-%d %H:%M:%S+00:00").to_string()
    } else {
        format!(
            "{}.{:06}+00:00",
            d.format("%Y-%m-%d %H:%M:%S"),
            (d.nanosecond() % 1_000_000_000) / 1000
        )
    }
}

fn body_statement(sql: &str) -> String {
    if sql.trim().is_empty() {
        "pass".to_string()
    } else {
        format!("op.execute({})", py_repr(sql))
    }
}

/// Renders a new revision exactly as Alembic's default `script.py.mako`
/// does. Non-empty SQL becomes an `op.execute(...)` call.
pub fn render_alembic(rev: &super::NewRevision) -> String {
    format!(
        r#""""{message}

Revision ID: {id}
Revises: {revises}
Create Date: {date}

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = {id_repr}
down_revision: Union[str, Sequence[str], None] = {down}
branch_labels: Union[str, Sequence[str], None] = {labels}
depends_on: Union[str, Sequence[str], None] = {deps}


def upgrade() -> None:
    """Upgrade schema."""
    {upgrade}


def downgrade() -> None:
    """Downgrade schema."""
    {downgrade}
"#,
        message = docstring_text(&rev.message),
        id = rev.id,
        revises = rev.parents.join(", "),
        date = create_date(&rev.created),
        id_repr = py_repr(&rev.id),
        down = repr_scalar_or_tuple(&rev.parents),
        labels = if rev.branch_labels.is_empty() {
            "None".to_string()
        } else {
            repr_tuple(&rev.branch_labels)
        },
        deps = repr_scalar_or_tuple(&rev.depends_on),
        upgrade = body_statement(&rev.upgrade),
        downgrade = body_statement(&rev.downgrade),
    )
}

/// Alembic's file-name slug: `\w+` runs of the message joined by `_`,
/// lower-cased, cut to 40 characters at a word boundary.
pub(crate) fn slug(message: &str) -> String {
    slug_with(message, 40)
}

/// [`slug`] with Alembic's `truncate_slug_length` (0 means the default 40,
/// as Alembic's `truncate_slug_length or 40`).
pub(crate) fn slug_with(message: &str, max: usize) -> String {
    let max = if max == 0 { 40 } else { max };
    let mut words: Vec<String> = Vec::new();
    let mut cur = String::new();
    for c in message.chars() {
        if c.is_alphanumeric() || c == '_' {
            cur.push(c);
        } else if !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    let slug = words.join("_").to_lowercase();
    if slug.chars().count() > max {
        let cut: String = slug.chars().take(max).collect();
        let head = match cut.rfind('_') {
            Some(i) => &cut[..i],
            None => &cut[..],
        };
        format!("{head}_")
    } else {
        slug
    }
}

/// Alembic's `file_template % {...}`: Python %-formatting of `rev`, `slug`,
/// `epoch`, `year`, `month`, `day`, `hour`, `minute` and `second`.
pub(crate) fn file_name(
    template: &str,
    rev: &str,
    slug: &str,
    created: &chrono::DateTime<chrono::Utc>,
) -> Result<String, String> {
    use chrono::{Datelike, Timelike};
    let int = |key: &str| -> Option<i64> {
        Some(match key {
            "epoch" => created.timestamp(),
            "year" => created.year() as i64,
            "month" => created.month() as i64,
            "day" => created.day() as i64,
            "hour" => created.hour() as i64,
            "minute" => created.minute() as i64,
            "second" => created.second() as i64,
            _ => return None,
        })
    };
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('%') {
            out.push('%');
            rest = r;
            continue;
        }
        let Some(r) = rest.strip_prefix('(') else {
            return Err("every % must be %(name)<format> or %%".to_string());
        };
        let close = r.find(')').ok_or("unclosed %(")?;
        let key = &r[..close];
        let spec = &r[close + 1..];
        let flags_len = spec
            .find(|c: char| !"#0- +".contains(c))
            .unwrap_or(spec.len());
        let flags = &spec[..flags_len];
        let after_flags = &spec[flags_len..];
        let width_len = after_flags
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after_flags.len());
        let width: usize = after_flags[..width_len].parse().unwrap_or(0);
        let mut after_width = &after_flags[width_len..];
        let mut precision = None;
        if let Some(p) = after_width.strip_prefix('.') {
            let n = p.find(|c: char| !c.is_ascii_digit()).unwrap_or(p.len());
            precision = Some(p[..n].parse::<usize>().unwrap_or(0));
            after_width = &p[n..];
        }
        let conv = after_width
            .chars()
            .next()
            .ok_or("a %(name) has no conversion (s or d)")?;
        rest = &after_width[conv.len_utf8()..];
        let (body, numeric) = match conv {
            's' | 'r' | 'a' => {
                let v = match key {
                    "rev" => rev.to_string(),
                    "slug" => slug.to_string(),
                    k => int(k)
                        .ok_or_else(|| format!("unknown key '{k}'"))?
                        .to_string(),
                };
                let v = match precision {
                    Some(p) => v.chars().take(p).collect(),
                    None => v,
                };
                (v, false)
            }
            'd' | 'i' | 'u' => {
                let n = int(key).ok_or_else(|| format!("'{key}' is not a number key (epoch, year, month, day, hour, minute, second)"))?;
                let mut digits = n.unsigned_abs().to_string();
                if let Some(p) = precision {
                    while digits.len() < p {
                        digits.insert(0, '0');
                    }
                }
                let sign = if n < 0 {
                    "-"
                } else if flags.contains('+') {
                    "+"
                } else if flags.contains(' ') {
                    " "
                } else {
                    ""
                };
                (format!("{sign}{digits}"), true)
            }
            other => return Err(format!("unsupported conversion '%{other}'")),
        };
        let len = body.chars().count();
        if len >= width {
            out.push_str(&body);
        } else if flags.contains('-') {
            out.push_str(&body);
            out.push_str(&" ".repeat(width - len));
        } else if numeric && flags.contains('0') {
            let (sign, digits) =
                body.split_at(body.len() - body.trim_start_matches(['-', '+', ' ']).len());
            out.push_str(sign);
            out.push_str(&"0".repeat(width - len));
            out.push_str(digits);
        } else {
            out.push_str(&" ".repeat(width - len));
            out.push_str(&body);
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// A PEP 263 coding declaration naming Latin-1 in the first two lines.
pub(crate) fn declares_latin1(bytes: &[u8]) -> bool {
    bytes.split(|&b| b == b'\n').take(2).any(|line| {
        let line = String::from_utf8_lossy(line);
        let Some(comment) = line.trim_start().strip_prefix('#') else {
            return false;
        };
        let Some(i) = comment.find("coding") else {
            return false;
        };
        let rest = &comment[i + "coding".len()..];
        let Some(rest) = rest.strip_prefix([':', '=']) else {
            return false;
        };
        let name: String = rest
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || "-_.".contains(*c))
            .collect::<String>()
            .to_lowercase()
            .replace('_', "-");
        matches!(
            name.as_str(),
            "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" | "l1" | "iso-latin-1"
        )
    })
}
