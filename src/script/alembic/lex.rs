//! Python's tokenizer, as far as a revision header needs it: strings of
//! every kind (with escapes, f-strings and their nested fields), comments,
//! brackets, continuation lines, and logical statements. Nesting is bounded
//! as Python bounds it, so hostile input is an error, not a stack overflow.

use std::borrow::Cow;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok<'a> {
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
pub(super) enum StrKind {
    Text,
    Bytes,
    Format,
}

#[derive(Debug)]
pub(super) struct Spanned<'a> {
    pub(super) tok: Tok<'a>,
    pub(super) line: usize,
    pub(super) col: usize,
}

/// One logical statement: a range of the token list.
pub(super) type Statement = std::ops::Range<usize>;

pub(super) struct Lexer<'a> {
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
pub(super) const MAX_BRACKETS: usize = 200;

/// Python's limit on f-strings nested in f-strings (`MAXFSTRINGLEVEL`).
pub(super) const MAX_FSTRING_NESTING: usize = 150;

pub(super) fn too_deep(what: &str, limit: usize) -> String {
    format!("{what} nest more than {limit} deep (Python refuses this too); a revision header needs no nesting: write down_revision = 'id' or ('id1', 'id2')")
}

/// A tokenizing failure: line and message.
type LexError = (usize, String);

impl<'a> Lexer<'a> {
    pub(super) fn new(text: &'a str) -> Self {
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
    pub(super) fn statements(mut self) -> Result<(Vec<Spanned<'a>>, Vec<Statement>), LexError> {
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
                _ => {
                    let (line, col) = (self.line, self.pos - self.line_start);
                    let tok = self.token(b)?;
                    cur.push(Spanned { tok, line, col });
                }
            }
        }
        flush(&mut cur, &mut out, &mut start);
        Ok((cur, out))
    }

    /// Reads the token starting with `b` at `self.pos`: a string, a
    /// number, a name (or a prefixed string) or an operator.
    fn token(&mut self, b: u8) -> Result<Tok<'a>, LexError> {
        let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80;
        match b {
            b'\'' | b'"' => self.string(""),
            b'0'..=b'9' => {
                while self.pos < self.src.len()
                    && (self.src[self.pos].is_ascii_alphanumeric()
                        || self.src[self.pos] == b'_'
                        || self.src[self.pos] == b'.')
                {
                    self.pos += 1;
                }
                Ok(Tok::Other)
            }
            b if b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 => {
                let start = self.pos;
                while self.pos < self.src.len() && word(self.src[self.pos]) {
                    self.pos += 1;
                }
                let name = &self.text[start..self.pos];
                let q = self.peek(0);
                if (q == b'\'' || q == b'"') && is_string_prefix(name) {
                    self.string(name)
                } else {
                    Ok(Tok::Name(name))
                }
            }
            _ => self.operator(),
        }
    }

    /// An operator (the longest that matches), tracking bracket depth, or
    /// one character of anything else.
    fn operator(&mut self) -> Result<Tok<'a>, LexError> {
        let rest = &self.src[self.pos..];
        let op = OPS
            .iter()
            .chain(SINGLE_OPS.iter())
            .find(|op| rest.starts_with(op.as_bytes()))
            .copied();
        let Some(op) = op else {
            self.pos += 1;
            return Ok(Tok::Other);
        };
        self.pos += op.len();
        match op {
            "(" | "[" | "{" if self.depth >= MAX_BRACKETS => {
                return Err((self.line, too_deep("brackets", MAX_BRACKETS)))
            }
            "(" | "[" | "{" => self.depth += 1,
            ")" | "]" | "}" => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
        Ok(Tok::Op(op))
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
