//! Evaluating the right-hand side of a header assignment as a literal:
//! `None`, a string (adjacent literals concatenate), or a tuple or list of
//! strings. Anything else is computed at run time and is an error.

use super::lex::{too_deep, Spanned, StrKind, Tok, MAX_BRACKETS};

/// A literal value on the right of an assignment.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum PyVal {
    None,
    Str(String),
    Seq(Vec<String>),
}

/// Evaluates `toks` as a literal: None, a string, or a tuple/list of strings.
pub(super) fn literal(toks: &[Spanned<'_>]) -> Result<PyVal, String> {
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
