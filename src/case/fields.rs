//! Typed access to the fields of a case.json object: each field is read at
//! most once, every value is checked for its JSON type and domain, and
//! fields nobody read are reported (a typo like `strides` is an error, never
//! silently ignored).

use crate::error::{Error, Result};
use convoracle_reference::{Padding2d, PaddingSpec};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use std::fmt;
use std::path::{Path, PathBuf};

/// A JSON object's members in file order, with duplicate keys rejected
/// (serde_json's `Map` would keep the last one silently).
pub(crate) struct Members(pub Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Members, A::Error> {
                let mut members: Vec<(String, Value)> = Vec::new();
                // A set, not a scan of `members`: a hostile file with 10^5
                // keys must not take quadratic time.
                let mut seen = std::collections::HashSet::new();
                while let Some((key, value)) = map.next_entry::<String, Value>()? {
                    if !seen.insert(key.clone()) {
                        return Err(serde::de::Error::custom(format!(
                            "field `{key}` appears twice"
                        )));
                    }
                    members.push((key, value));
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// Any JSON value, read only to reject a key that appears twice in any
/// object at any depth (e.g. `"padding": {"top": 1, "top": 2}`).
struct NoDuplicateKeys;

impl<'de> Deserialize<'de> for NoDuplicateKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NoDuplicateKeys;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<NoDuplicateKeys, A::Error> {
                let mut seen = std::collections::HashSet::new();
                while let Some(key) = map.next_key::<String>()? {
                    map.next_value::<NoDuplicateKeys>()?;
                    if !seen.insert(key.clone()) {
                        return Err(serde::de::Error::custom(format!(
                            "field `{key}` appears twice"
                        )));
                    }
                }
                Ok(NoDuplicateKeys)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<NoDuplicateKeys, A::Error> {
                while seq.next_element::<NoDuplicateKeys>()?.is_some() {}
                Ok(NoDuplicateKeys)
            }
            fn visit_bool<E>(self, _: bool) -> std::result::Result<NoDuplicateKeys, E> {
                Ok(NoDuplicateKeys)
            }
            fn visit_i64<E>(self, _: i64) -> std::result::Result<NoDuplicateKeys, E> {
                Ok(NoDuplicateKeys)
            }
            fn visit_u64<E>(self, _: u64) -> std::result::Result<NoDuplicateKeys, E> {
                Ok(NoDuplicateKeys)
            }
            fn visit_f64<E>(self, _: f64) -> std::result::Result<NoDuplicateKeys, E> {
                Ok(NoDuplicateKeys)
            }
            fn visit_str<E>(self, _: &str) -> std::result::Result<NoDuplicateKeys, E> {
                Ok(NoDuplicateKeys)
            }
            fn visit_unit<E>(self) -> std::result::Result<NoDuplicateKeys, E> {
                Ok(NoDuplicateKeys)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// The fields of one case.json, consumed as they are read.
pub(crate) struct Fields {
    file: PathBuf,
    members: Vec<(String, Option<Value>)>,
}

/// How a JSON value is named in messages: its type and (short) text.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => format!("the array {v}"),
        Value::Object(_) => "an object".to_string(),
    }
}

impl Fields {
    /// Parses the text of a case.json.
    pub(crate) fn parse(text: &str, file: &Path) -> Result<Self> {
        serde_json::from_str::<NoDuplicateKeys>(text)
            .map_err(|e| Error::case(file, None, format!("invalid JSON: {e}")))?;
        let Members(members) = serde_json::from_str(text)
            .map_err(|e| Error::case(file, None, format!("invalid JSON: {e}")))?;
        Ok(Fields {
            file: file.to_path_buf(),
            members: members.into_iter().map(|(k, v)| (k, Some(v))).collect(),
        })
    }

    /// An error about `field`.
    pub(crate) fn error(&self, field: &str, reason: impl Into<String>) -> Error {
        Error::case(&self.file, Some(field), reason)
    }

    /// Takes the value of `field`, if present.
    pub(crate) fn take(&mut self, field: &str) -> Option<Value> {
        self.members
            .iter_mut()
            .find(|(k, _)| k == field)
            .and_then(|(_, v)| v.take())
    }

    /// The names of the fields nobody has taken.
    pub(crate) fn unread(&self) -> Vec<&str> {
        self.members
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(k, _)| k.as_str())
            .collect()
    }

    /// A required string field.
    pub(crate) fn required_str(&mut self, field: &str) -> Result<String> {
        match self.take(field) {
            None => Err(self.error(field, "missing (it is required)")),
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(self.error(
                field,
                format!("expected a string, found {}", describe(&other)),
            )),
        }
    }

    /// An optional string field.
    pub(crate) fn optional_str(&mut self, field: &str) -> Result<Option<String>> {
        match self.take(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.error(
                field,
                format!("expected a string, found {}", describe(&other)),
            )),
        }
    }

    /// An optional boolean field.
    pub(crate) fn optional_bool(&mut self, field: &str) -> Result<Option<bool>> {
        match self.take(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(other) => Err(self.error(
                field,
                format!("expected true or false, found {}", describe(&other)),
            )),
        }
    }

    /// A JSON integer. Only integer literals are accepted: `3.0` or `"3"`
    /// where an integer belongs is an error, so nothing is guessed.
    pub(crate) fn int(&self, field: &str, v: &Value) -> Result<i64> {
        match v {
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Ok(i)
                } else if n.is_u64() {
                    Err(self.error(field, format!("{n} is too large")))
                } else {
                    Err(self.error(
                        field,
                        format!("expected an integer, found the number {n} (case.json takes integers only, without a decimal point or exponent)"),
                    ))
                }
            }
            other => Err(self.error(
                field,
                format!("expected an integer, found {}", describe(other)),
            )),
        }
    }

    /// A non-negative integer (a size); with `positive`, at least 1.
    pub(crate) fn size(&self, field: &str, v: &Value, positive: bool) -> Result<usize> {
        let i = self.int(field, v)?;
        let min = i64::from(positive);
        if i < min {
            let what = if positive {
                "at least 1"
            } else {
                "non-negative"
            };
            return Err(self.error(field, format!("must be {what}, found {i}")));
        }
        usize::try_from(i).map_err(|_| self.error(field, format!("{i} is too large")))
    }

    /// An int (both axes) or `[h, w]`, each a size (at least 1 with `positive`).
    pub(crate) fn size_pair(&self, field: &str, v: &Value, positive: bool) -> Result<[usize; 2]> {
        match v {
            Value::Array(items) => {
                let [h, w] = self.two(field, items, "an integer or a pair [h, w]")?;
                Ok([
                    self.size(field, h, positive)?,
                    self.size(field, w, positive)?,
                ])
            }
            Value::Number(_) => {
                let s = self.size(field, v, positive)?;
                Ok([s, s])
            }
            other => Err(self.error(
                field,
                format!(
                    "expected an integer or a pair [h, w], found {}",
                    describe(other)
                ),
            )),
        }
    }

    /// Exactly `[h, w]` of sizes (no single-int form), at least 1 with `positive`.
    pub(crate) fn exact_pair(&self, field: &str, v: &Value, positive: bool) -> Result<[usize; 2]> {
        match v {
            Value::Array(items) => {
                let [h, w] = self.two(field, items, "a pair [h, w]")?;
                Ok([
                    self.size(field, h, positive)?,
                    self.size(field, w, positive)?,
                ])
            }
            other => Err(self.error(
                field,
                format!("expected a pair [h, w], found {}", describe(other)),
            )),
        }
    }

    fn two<'v>(&self, field: &str, items: &'v [Value], expected: &str) -> Result<[&'v Value; 2]> {
        match items {
            [a, b] => Ok([a, b]),
            _ => Err(self.error(
                field,
                format!(
                    "expected {expected}, found an array of {} values",
                    items.len()
                ),
            )),
        }
    }

    /// Explicit padding: int, `[ph, pw]` or `{"top","bottom","left","right"}`.
    /// Negative amounts are allowed (they crop). `None` when `v` is a word.
    pub(crate) fn explicit_padding(&self, field: &str, v: &Value) -> Result<Option<Padding2d>> {
        match v {
            Value::Number(_) => Ok(Some(Padding2d::uniform(self.int(field, v)?))),
            Value::Array(items) => {
                let [h, w] = self.two(
                    field,
                    items,
                    "an integer, [ph, pw] or {\"top\", \"bottom\", \"left\", \"right\"}",
                )?;
                Ok(Some(Padding2d::symmetric(
                    self.int(field, h)?,
                    self.int(field, w)?,
                )))
            }
            Value::Object(map) => {
                for key in map.keys() {
                    if !["top", "bottom", "left", "right"].contains(&key.as_str()) {
                        return Err(self.error(
                            field,
                            format!(
                                "unknown side `{key}` (the sides are top, bottom, left, right)"
                            ),
                        ));
                    }
                }
                let side = |name: &str| -> Result<i64> {
                    match map.get(name) {
                        Some(v) => self.int(&format!("{field}.{name}"), v),
                        None => Err(self.error(
                            field,
                            format!(
                                "side `{name}` is missing (give all of top, bottom, left, right)"
                            ),
                        )),
                    }
                };
                Ok(Some(Padding2d {
                    top: side("top")?,
                    bottom: side("bottom")?,
                    left: side("left")?,
                    right: side("right")?,
                }))
            }
            Value::String(_) => Ok(None),
            other => Err(self.error(
                field,
                format!(
                    "expected an integer, [ph, pw], an object or a padding word, found {}",
                    describe(other)
                ),
            )),
        }
    }

    /// Any padding form of docs/case-format.md, words included.
    pub(crate) fn padding(&self, field: &str, v: &Value) -> Result<PaddingSpec> {
        if let Some(p) = self.explicit_padding(field, v)? {
            return Ok(PaddingSpec::Explicit(p));
        }
        let Value::String(word) = v else {
            return Err(self.error(field, format!("unexpected {}", describe(v))));
        };
        match word.as_str() {
            "valid" => Ok(PaddingSpec::Valid),
            "same" | "same_upper" => Ok(PaddingSpec::SameUpper),
            "same_lower" => Ok(PaddingSpec::SameLower),
            other => Err(self.error(
                field,
                format!("unknown padding word {other:?} (the words are \"valid\", \"same\", \"same_upper\", \"same_lower\")"),
            )),
        }
    }
}

/// Edit distance, to suggest the field a typo meant.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}
