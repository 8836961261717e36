//! A small, tolerant parser for the Python literal that a `.npy` header holds,
//! e.g. `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
//!
//! NumPy writes the header with `repr` and reads it back with
//! `ast.literal_eval`, so other writers (older NumPy, Python 2, hand-written
//! files) vary in quoting, spacing, trailing commas and `L` suffixes. This
//! parser accepts that whole family of spellings but only the value kinds a
//! header can hold: strings, booleans, `None`, integers, tuples, lists and
//! dicts. It never panics: any other input is an error message.

/// A parsed Python literal value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PyValue {
    /// `'text'` or `"text"`.
    Str(String),
    /// `True` / `False`.
    Bool(bool),
    /// `None`.
    None,
    /// An integer (Python 2 `3L` included).
    Int(i128),
    /// `(a, b)`; a parenthesised single value `(3)` is read as a 1-tuple,
    /// which is what a writer that forgot the trailing comma meant.
    Tuple(Vec<PyValue>),
    /// `[a, b]`.
    List(Vec<PyValue>),
    /// `{key: value, ...}` in file order.
    Dict(Vec<(PyValue, PyValue)>),
}

impl PyValue {
    /// A short description for error messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            PyValue::Str(s) => format!("the string {s:?}"),
            PyValue::Bool(b) => (if *b { "True" } else { "False" }).to_string(),
            PyValue::None => "None".to_string(),
            PyValue::Int(i) => format!("the integer {i}"),
            PyValue::Tuple(_) => "a tuple".to_string(),
            PyValue::List(_) => "a list".to_string(),
            PyValue::Dict(_) => "a dict".to_string(),
        }
    }
}

/// Deepest nesting accepted: a header is two levels deep, and a bound keeps
/// hostile input (`((((...`) from exhausting the stack.
const MAX_DEPTH: usize = 32;

/// Parses `text` as one Python literal followed only by whitespace (and the
/// NUL bytes some writers pad with).
pub(crate) fn parse(text: &str) -> Result<PyValue, String> {
    let mut p = Parser {
        chars: text.chars().collect(),
        pos: 0,
    };
    let value = p.value(0)?;
    p.skip_space();
    if p.pos < p.chars.len() {
        return Err(format!(
            "unexpected {:?} after the header dict at character {}",
            p.chars[p.pos], p.pos
        ));
    }
    Ok(value)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(c) if c.is_whitespace() || c == '\0') {
            self.pos += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<PyValue, String> {
        if depth > MAX_DEPTH {
            return Err("the header nests too deeply".to_string());
        }
        self.skip_space();
        match self.peek() {
            None => Err("the header ends where a value was expected".to_string()),
            Some('{') => self.dict(depth),
            Some('(') => self.sequence(')', depth).map(PyValue::Tuple),
            Some('[') => self.sequence(']', depth).map(PyValue::List),
            Some('\'' | '"') => self.string().map(PyValue::Str),
            Some(c) if c == '-' || c == '+' || c.is_ascii_digit() => self.integer(),
            Some(c) if c.is_ascii_alphabetic() || c == '_' => self.word(),
            Some(c) => Err(format!(
                "unexpected {c:?} at character {} of the header",
                self.pos
            )),
        }
    }

    /// Items up to `close`, separated by commas, a trailing comma allowed.
    fn sequence(&mut self, close: char, depth: usize) -> Result<Vec<PyValue>, String> {
        self.pos += 1; // the opening bracket
        let mut items = Vec::new();
        loop {
            self.skip_space();
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok(items);
            }
            items.push(self.value(depth + 1)?);
            self.skip_space();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(c) if c == close => {}
                other => return Err(self.expected(&format!("',' or '{close}'"), other)),
            }
        }
    }

    fn dict(&mut self, depth: usize) -> Result<PyValue, String> {
        self.pos += 1; // '{'
        let mut entries = Vec::new();
        loop {
            self.skip_space();
            if self.peek() == Some('}') {
                self.pos += 1;
                return Ok(PyValue::Dict(entries));
            }
            let key = self.value(depth + 1)?;
            self.skip_space();
            match self.peek() {
                Some(':') => self.pos += 1,
                other => return Err(self.expected("':'", other)),
            }
            let value = self.value(depth + 1)?;
            entries.push((key, value));
            self.skip_space();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some('}') => {}
                other => return Err(self.expected("',' or '}'", other)),
            }
        }
    }

    fn expected(&self, what: &str, found: Option<char>) -> String {
        match found {
            Some(c) => format!(
                "expected {what} at character {} of the header, found {c:?}",
                self.pos
            ),
            None => format!("the header ends where {what} was expected"),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        let quote = self.chars[self.pos];
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(format!("unterminated string starting at character {start}")),
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('\\') => {
                    self.pos += 1;
                    let escaped = match self.peek() {
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('r') => '\r',
                        Some('0') => '\0',
                        Some(c) => c, // \\, \', \" and anything else: the char itself
                        None => {
                            return Err(format!(
                                "unterminated string starting at character {start}"
                            ))
                        }
                    };
                    out.push(escaped);
                    self.pos += 1;
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn integer(&mut self) -> Result<PyValue, String> {
        let start = self.pos;
        let negative = match self.peek() {
            Some('-') => {
                self.pos += 1;
                true
            }
            Some('+') => {
                self.pos += 1;
                false
            }
            _ => false,
        };
        let mut value: i128 = 0;
        let mut digits = 0;
        while let Some(d) = self.peek().and_then(|c| c.to_digit(10)) {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(i128::from(d)))
                .ok_or_else(|| format!("integer at character {start} is too large"))?;
            digits += 1;
            self.pos += 1;
        }
        if digits == 0 {
            return Err(format!("expected digits at character {}", self.pos));
        }
        // Python 2 long suffix, as old NumPy wrote shapes: (2L, 3L).
        if matches!(self.peek(), Some('L' | 'l')) {
            self.pos += 1;
        }
        if matches!(self.peek(), Some('.' | 'e' | 'E')) {
            return Err(format!("a number at character {start} is not an integer"));
        }
        Ok(PyValue::Int(if negative { -value } else { value }))
    }

    /// `True`, `False`, `None`, or a string prefix (`u'...'`, `b'...'`).
    fn word(&mut self) -> Result<PyValue, String> {
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == '_') {
            self.pos += 1;
        }
        let word: String = self.chars[start..self.pos].iter().collect();
        match word.as_str() {
            "True" => Ok(PyValue::Bool(true)),
            "False" => Ok(PyValue::Bool(false)),
            "None" => Ok(PyValue::None),
            "u" | "b" | "U" | "B" if matches!(self.peek(), Some('\'' | '"')) => {
                self.string().map(PyValue::Str)
            }
            _ => Err(format!(
                "unexpected name `{word}` at character {start} of the header"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpy_header_parses() {
        let v = parse("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }    \n").unwrap();
        let PyValue::Dict(entries) = v else {
            panic!("not a dict: {v:?}")
        };
        assert_eq!(entries.len(), 3);
        assert_eq!(
            entries[2].1,
            PyValue::Tuple(vec![PyValue::Int(2), PyValue::Int(3)])
        );
    }

    #[test]
    fn tolerant_spellings() {
        let v = parse(r#"{"shape":(5L,),u'descr':"<f8",'fortran_order':True}"#).unwrap();
        let PyValue::Dict(e) = v else { panic!() };
        assert_eq!(e[0].1, PyValue::Tuple(vec![PyValue::Int(5)]));
        assert_eq!(e[1].1, PyValue::Str("<f8".into()));
        assert_eq!(e[2].1, PyValue::Bool(true));
        assert_eq!(parse("()").unwrap(), PyValue::Tuple(vec![]));
        assert_eq!(parse("(7)").unwrap(), PyValue::Tuple(vec![PyValue::Int(7)]));
    }

    #[test]
    fn malformed_headers_are_errors() {
        for bad in [
            "",
            "{",
            "{'a' 1}",
            "{'a': 1",
            "'abc",
            "(1, 2",
            "{'a': 1.5}",
            "{'a': xyz}",
            "{'a': 1} junk",
            "(((((((((((((((((((((((((((((((((((((((1)))))))))))))))))))))))))))))))))))))))",
            "99999999999999999999999999999999999999999999",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
    }
}
