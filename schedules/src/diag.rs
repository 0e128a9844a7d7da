//! Problems found in the configuration, each tied to a file, line and column.

use std::fmt;
use std::sync::Arc;

use crate::yaml::Pos;

/// Where something was written: a file relative to the config directory and
/// a position in it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Loc {
    pub file: Arc<str>,
    pub pos: Pos,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.pos.line, self.pos.column)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem: `FILE:LINE:COLUMN: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub loc: Loc,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.severity {
            Severity::Error => write!(f, "{}: {}", self.loc, self.message),
            Severity::Warning => write!(f, "{}: warning: {}", self.loc, self.message),
        }
    }
}

impl Diagnostic {
    /// The JSON shape of `loa check --format json`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "file": &*self.loc.file,
            "line": self.loc.pos.line,
            "column": self.loc.pos.column,
            "message": self.message,
        })
    }
}

/// Every problem found, errors and warnings apart.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn error(&mut self, loc: Loc, message: impl Into<String>) {
        self.errors.push(Diagnostic {
            severity: Severity::Error,
            loc,
            message: message.into(),
        });
    }

    pub fn warning(&mut self, loc: Loc, message: impl Into<String>) {
        self.warnings.push(Diagnostic {
            severity: Severity::Warning,
            loc,
            message: message.into(),
        });
    }

    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    /// Sorts by file, then position, so output reads top to bottom.
    pub fn sort(&mut self) {
        let key = |d: &Diagnostic| (d.loc.clone(), d.message.clone());
        self.errors.sort_by_key(key);
        self.warnings.sort_by_key(key);
        self.errors.dedup();
        self.warnings.dedup();
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.errors.extend(other.errors);
        self.warnings.extend(other.warnings);
    }

    /// `{"valid","errors","warnings"}` as `loa check --format json` prints it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "valid": self.is_valid(),
            "errors": self.errors.iter().map(Diagnostic::to_json).collect::<Vec<_>>(),
            "warnings": self.warnings.iter().map(Diagnostic::to_json).collect::<Vec<_>>(),
        })
    }
}

/// "did you mean `x`?" for a misspelt word among the known ones.
pub fn did_you_mean<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    known
        .into_iter()
        .map(|k| (strsim::damerau_levenshtein(&lower, &k.to_lowercase()), k))
        .filter(|(d, k)| *d <= (k.chars().count() / 3).max(1) + usize::from(k.len() > 6))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// " (did you mean `x`?)" or "".
pub fn suggestion<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    did_you_mean(word, known)
        .map(|k| format!("; did you mean `{k}`?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_words_only() {
        assert_eq!(did_you_mean("tittle", ["title", "items"]), Some("title"));
        assert_eq!(did_you_mean("zone", ["zones", "items"]), Some("zones"));
        assert_eq!(did_you_mean("thon-l", ["thon-1", "thon-2"]), Some("thon-1"));
        assert_eq!(did_you_mean("xyz", ["title", "items"]), None);
        assert_eq!(did_you_mean("Priority", ["priority"]), Some("priority"));
    }
}
