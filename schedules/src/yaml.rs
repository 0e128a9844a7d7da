//! A YAML document as a tree of nodes that remember where they came from.
//!
//! serde-saphyr parses (with input budgets, so alias bombs and deep nesting
//! are refused quickly); we deserialize into this small spanned tree rather
//! than straight into the model, so that the model loader can report every
//! problem in a file with its line and column, not only the first one.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// Where a node starts: line and column from 1, columns counted in characters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One YAML node and its position.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
}

/// A node's value. Plain scalars keep YAML 1.2 core typing (strict booleans:
/// `on`/`off`/`yes`/`no` stay strings).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The node's kind, for messages: "a string", "a list"...
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "true/false",
            Value::Int(_) => "a number",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// A scalar as text the way the operator wrote it (numbers re-printed).
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(deserializer)?;
        let line = spanned.referenced.line();
        let column = spanned.referenced.column();
        Ok(Node {
            value: spanned.value,
            pos: Pos {
                line: u32::try_from(line).unwrap_or(u32::MAX),
                column: u32::try_from(column).unwrap_or(u32::MAX),
            },
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(node) = seq.next_element::<Node>()? {
            items.push(node);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some((k, v)) = map.next_entry::<Node, Node>()? {
            entries.push((k, v));
        }
        Ok(Value::Map(entries))
    }
}

/// Largest file we read: a schedule is a few kilobytes; anything this big is a mistake.
pub const MAX_FILE_BYTES: usize = 1 << 20;

/// Why a document could not be read at all.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

/// Parses one YAML document into a spanned tree, with budgets that refuse
/// hostile input (alias bombs, deep nesting, huge files) quickly.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(SyntaxError {
            pos: Pos { line: 1, column: 1 },
            message: format!(
                "file is {} bytes, over the 1 MiB limit for configuration files; split it or remove what is not configuration",
                text.len()
            ),
        });
    }
    if let Some(pos) = first_tab_indent(text) {
        return Err(SyntaxError {
            pos,
            message: "tab character used for indentation; YAML needs spaces (replace the tab with spaces)".into(),
        });
    }
    let mut budget = serde_saphyr::Budget::default();
    budget.max_events = 200_000;
    budget.max_aliases = 1_000;
    budget.max_anchors = 1_000;
    // Loa's files nest at most 7 deep; a low cap also bounds the
    // recursion of the tree builder (debug frames are large).
    budget.max_depth = 20;
    budget.flow_nesting_limit = 20;
    budget.max_nodes = 100_000;
    budget.max_total_scalar_bytes = 2 * MAX_FILE_BYTES;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.strict_booleans = true;
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    options.with_snippet = false;
    if text.trim().is_empty() {
        return Ok(Node {
            value: Value::Null,
            pos: Pos { line: 1, column: 1 },
        });
    }
    serde_saphyr::from_str_with_options::<Node>(text, options).map_err(|e| {
        let pos = e
            .location()
            .map(|l| Pos {
                line: u32::try_from(l.line()).unwrap_or(u32::MAX).max(1),
                column: u32::try_from(l.column()).unwrap_or(u32::MAX).max(1),
            })
            .unwrap_or(Pos { line: 1, column: 1 });
        SyntaxError {
            pos,
            message: clean_message(&e.to_string()),
        }
    })
}

/// serde-saphyr's messages may carry their own location and a snippet; we
/// print positions ourselves, so keep the first line and drop a trailing
/// "at line X column Y".
fn clean_message(raw: &str) -> String {
    let first = raw.lines().next().unwrap_or(raw).trim();
    let cut = first
        .find(" at line ")
        .map_or(first, |i| &first[..i])
        .trim_end_matches(['.', ',', ':']);
    let mut s = cut.to_string();
    if s.is_empty() {
        s = "the YAML could not be read".into();
    }
    s
}

/// A tab among a line's leading whitespace: YAML forbids it, and operators
/// who copy from word processors hit it often, so we say it plainly.
fn first_tab_indent(text: &str) -> Option<Pos> {
    for (i, line) in text.lines().enumerate() {
        for (col, ch) in line.chars().enumerate() {
            match ch {
                ' ' => continue,
                '\t' => {
                    // A tab before a comment or on an otherwise blank line is harmless.
                    let rest = line[line.find('\t').unwrap_or(0)..].trim_start();
                    if rest.is_empty() || rest.starts_with('#') {
                        break;
                    }
                    return Some(Pos {
                        line: i as u32 + 1,
                        column: col as u32 + 1,
                    });
                }
                _ => break,
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(n: &Node) -> &Vec<(Node, Node)> {
        match &n.value {
            Value::Map(m) => m,
            other => panic!("not a map: {other:?}"),
        }
    }

    #[test]
    fn scalars_keep_positions_and_yaml12_typing() {
        let doc =
            "a: 06:00\nb: on\nc: 1.0\nd: \"x\"\ne:\n  - 2026-11-01\n  - ~\nf: Đài Âu Lâu\ng: 30m\n";
        let n = parse(doc).unwrap();
        let m = map(&n);
        let get = |k: &str| &m.iter().find(|(kk, _)| kk.as_str() == Some(k)).unwrap().1;
        assert_eq!(get("a").value, Value::Str("06:00".into()));
        assert_eq!(get("a").pos, Pos { line: 1, column: 4 });
        assert_eq!(get("b").value, Value::Str("on".into()));
        assert_eq!(get("c").value, Value::Float(1.0));
        assert_eq!(get("g").value, Value::Str("30m".into()));
        match &get("e").value {
            Value::Seq(s) => {
                assert_eq!(s[0].value, Value::Str("2026-11-01".into()));
                assert_eq!(s[0].pos, Pos { line: 6, column: 5 });
                assert!(s[1].is_null());
            }
            other => panic!("{other:?}"),
        }
        let (fk, _) = &m[5];
        assert_eq!(fk.pos, Pos { line: 8, column: 1 });
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let doc = "title: Đài Âu Lâu\nx: [Ấp, Thôn]\n";
        let n = parse(doc).unwrap();
        let m = map(&n);
        if let Value::Seq(s) = &m[1].1.value {
            assert_eq!(s[1].pos.column, 9);
        } else {
            panic!()
        }
    }

    #[test]
    fn an_alias_bomb_is_refused_by_the_node_budget_early_on() {
        let mut doc = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for c in 'b'..='z' {
            doc.push_str(&format!(
                "{c}: &{c} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
            prev = c;
        }
        // Refused by the node budget a few lines in, long before the 10^26
        // nodes the last anchor would expand to: what keeps it quick (no
        // clock here: a busy machine would make any time limit flaky).
        let e = parse(&doc).unwrap_err();
        assert!(e.message.starts_with("budget breached"), "{e:?}");
        assert!(e.pos.line <= 6, "refused only at {:?}", e.pos);
    }

    #[test]
    fn deep_nesting_is_refused() {
        let doc = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse(&doc).is_err());
        let doc: String = (0..500)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        assert!(parse(&doc).is_err());
    }

    #[test]
    fn huge_file_is_refused() {
        let doc = "# x\n".repeat(MAX_FILE_BYTES / 4 + 10);
        let e = parse(&doc).unwrap_err();
        assert!(e.message.contains("1 MiB"));
    }

    #[test]
    fn tab_indent_is_named() {
        let e = parse("a:\n\tb: 1\n").unwrap_err();
        assert_eq!(e.pos, Pos { line: 2, column: 1 });
        assert!(e.message.contains("tab"));
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let e = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(e.pos.line, 2, "{e:?}");
    }
}
