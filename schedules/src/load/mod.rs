//! Files -> model. Reads station.yaml and schedules/*.yaml, and turns the
//! spanned YAML trees into typed values, reporting every problem it meets
//! (not only the first) with its file, line and column and, for misspelt
//! keys and names, a "did you mean".
//!
//! Cross-program checks that need the whole configuration (duplicate ids,
//! overlaps, media files) live in `check`.
//!
//! One loading context, `Cx`, reads both file kinds; its methods live beside
//! what they read: this file reads the files and holds the typed readers
//! every part uses (text, ids, durations, lists, choices...); `station` reads
//! station.yaml, `schedule` the programs and slogans of schedules/*.yaml,
//! `item` what each program item plays, and `calendar` the days both name
//! (station.yaml's holidays and days off; a program's lunar dates and
//! holidays).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;

use crate::diag::{suggestion, Diagnostics, Loc};
use crate::model::*;
use crate::occurrence::parse_time_of_day;
use crate::yaml::{self, Node, Pos, Value};

mod calendar;
mod item;
mod schedule;
mod station;

/// The result of reading a configuration directory: the model (None when
/// station.yaml is unusable) and every problem found on the way.
pub struct Loaded {
    pub config: Option<Config>,
    pub diagnostics: Diagnostics,
}

/// Reads `dir/station.yaml` and every `dir/schedules/*.yaml|*.yml` (in name
/// order; dotfiles and editor backups skipped).
pub fn load_dir(dir: &Path) -> Loaded {
    let mut diags = Diagnostics::default();
    let mut ids = std::collections::HashMap::new();
    let station_file = dir.join("station.yaml");
    let station = match read_file(dir, &station_file, &mut diags) {
        Some((name, node)) => {
            let mut cx = Cx {
                file: name,
                diags: &mut diags,
                dir,
                ids: &mut ids,
            };
            cx.station(&node)
        }
        None => None,
    };
    let mut programs = Vec::new();
    let mut slogans = Vec::new();
    for path in schedule_files(dir, &mut diags) {
        if let Some((name, node)) = read_file(dir, &path, &mut diags) {
            let mut cx = Cx {
                file: name,
                diags: &mut diags,
                dir,
                ids: &mut ids,
            };
            cx.schedule_file(&node, station.as_ref(), &mut programs, &mut slogans);
        }
    }
    let config = station.map(|station| Config {
        dir: dir.to_path_buf(),
        station,
        programs,
        slogans,
    });
    Loaded {
        config,
        diagnostics: diags,
    }
}

/// The schedule files of a config directory, in name order.
pub fn schedule_files(dir: &Path, diags: &mut Diagnostics) -> Vec<PathBuf> {
    let sdir = dir.join("schedules");
    let rd = match std::fs::read_dir(&sdir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            diags.error(
                file_loc("schedules"),
                format!("cannot read the schedules directory: {e}"),
            );
            return Vec::new();
        }
    };
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !name.starts_with('.')
                && !name.ends_with('~')
                && (name.ends_with(".yaml") || name.ends_with(".yml"))
                && p.is_file()
        })
        .collect();
    files.sort();
    files
}

fn file_loc(name: &str) -> Loc {
    Loc {
        file: Arc::from(name),
        pos: Pos { line: 1, column: 1 },
    }
}

/// Path of `file` relative to the config directory, for messages.
fn rel_name(dir: &Path, file: &Path) -> String {
    file.strip_prefix(dir)
        .unwrap_or(file)
        .to_string_lossy()
        .into_owned()
}

fn read_file(dir: &Path, path: &Path, diags: &mut Diagnostics) -> Option<(Arc<str>, Node)> {
    let name: Arc<str> = Arc::from(rel_name(dir, path));
    let loc = |pos| Loc {
        file: name.clone(),
        pos,
    };
    let first = Pos { line: 1, column: 1 };
    // Refuse huge files before reading them into memory.
    match std::fs::metadata(path) {
        Ok(m) if m.len() > yaml::MAX_FILE_BYTES as u64 => {
            diags.error(
                loc(first),
                format!(
                    "file is {} bytes, over the 1 MiB limit for configuration files",
                    m.len()
                ),
            );
            return None;
        }
        Ok(_) => {}
        Err(e) => {
            let hint = if e.kind() == std::io::ErrorKind::NotFound {
                " (is --config pointing at the right directory?)"
            } else {
                ""
            };
            diags.error(loc(first), format!("cannot read the file: {e}{hint}"));
            return None;
        }
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            diags.error(loc(first), format!("cannot read the file: {e}"));
            return None;
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let upto = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = upto.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
            diags.error(
                loc(Pos { line, column: 1 }),
                "the file is not UTF-8 text; save it as UTF-8 (Vietnamese text needs it)",
            );
            return None;
        }
    };
    match yaml::parse(text.trim_start_matches('\u{feff}')) {
        Ok(node) => Some((name, node)),
        Err(e) => {
            diags.error(loc(e.pos), e.message);
            None
        }
    }
}

pub use calendar::keys::{CALENDAR as CALENDAR_KEYS, DAYS_OFF as DAYS_OFF_KEYS};
pub use item::keys::ITEM as ITEM_KEYS;
pub use schedule::keys::{PROGRAM as PROGRAM_KEYS, SLOGAN as SLOGAN_KEYS};
pub use station::keys::{
    BOARD as BOARD_KEYS, STATION_FILE as STATION_FILE_KEYS, ZONE as ZONE_KEYS,
};

/// A mapping's entries after the unknown keys were reported.
struct Fields<'n> {
    entries: Vec<(&'n str, &'n Node, &'n Node)>,
    node: &'n Node,
}

impl<'n> Fields<'n> {
    /// The value of `key`, or None when absent or null.
    fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _, v)| *k == key && !v.is_null())
            .map(|(_, _, v)| *v)
    }

    fn key_node(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, k, _)| *k)
    }
}

/// The loading context of one file.
struct Cx<'a> {
    file: Arc<str>,
    diags: &'a mut Diagnostics,
    dir: &'a Path,
    /// Program and slogan ids met so far (also of entries with other
    /// errors), so a duplicate is reported whatever else is wrong.
    ids: &'a mut std::collections::HashMap<(&'static str, String), Loc>,
}

fn is_id(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

impl Cx<'_> {
    fn loc(&self, n: &Node) -> Loc {
        Loc {
            file: self.file.clone(),
            pos: n.pos,
        }
    }

    /// Ids are unique across all files: a later one is the error.
    fn unique(&mut self, kind: &'static str, id: &str, n: &Node) {
        let loc = self.loc(n);
        match self.ids.get(&(kind, id.to_string())) {
            Some(first) => {
                let msg = format!(
                    "duplicate {kind} id `{id}` (first defined at {first}); ids must be unique across all files"
                );
                self.diags.error(loc, msg);
            }
            None => {
                self.ids.insert((kind, id.to_string()), loc);
            }
        }
    }

    fn err(&mut self, n: &Node, msg: impl Into<String>) {
        let loc = self.loc(n);
        self.diags.error(loc, msg);
    }

    /// A mapping with only `known` keys; unknown ones are reported.
    fn fields<'n>(&mut self, n: &'n Node, what: &str, known: &[&str]) -> Option<Fields<'n>> {
        let Value::Map(entries) = &n.value else {
            self.err(
                n,
                format!(
                    "{what} must be a mapping of `key: value` lines, found {}",
                    n.kind()
                ),
            );
            return None;
        };
        let mut out = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            let Some(name) = k.as_str() else {
                let text = k.scalar_text().unwrap_or_default();
                let hint = if matches!(k.value, Value::Bool(_)) {
                    " (true/false cannot be a key)".to_string()
                } else {
                    suggestion(&text, known.iter().copied())
                };
                self.err(k, format!("`{text}` is not a valid key in {what}{hint}"));
                continue;
            };
            if !known.contains(&name) {
                let hint = suggestion(name, known.iter().copied());
                let hint = if hint.is_empty() {
                    format!(" (known keys: {})", known.join(", "))
                } else {
                    hint
                };
                self.err(k, format!("unknown key `{name}` in {what}{hint}"));
                continue;
            }
            out.push((name, k, v));
        }
        Some(Fields {
            entries: out,
            node: n,
        })
    }

    fn required<'n>(&mut self, f: &Fields<'n>, key: &str, what: &str) -> Option<&'n Node> {
        let v = f.get(key);
        if v.is_none() {
            let at = f.key_node(key).unwrap_or(f.node);
            self.err(at, format!("{what} needs `{key}`"));
        }
        v
    }

    /// A text value; numbers are accepted as their text (a title of `2026`).
    fn text(&mut self, n: &Node, what: &str) -> Option<String> {
        match &n.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(_) | Value::Float(_) => n.scalar_text(),
            _ => {
                self.err(n, format!("{what} must be text, found {}", n.kind()));
                None
            }
        }
    }

    fn id(&mut self, n: &Node, what: &str, max: usize) -> Option<String> {
        let s = self.text(n, what)?;
        if is_id(&s, max) {
            Some(s)
        } else {
            self.err(
                n,
                format!("{what} `{s}` may use only a-z, 0-9 and '-' (at most {max} characters), e.g. `thon-1`"),
            );
            None
        }
    }

    fn boolean(&mut self, n: &Node, what: &str) -> Option<bool> {
        match &n.value {
            Value::Bool(b) => Some(*b),
            _ => {
                let t = n.scalar_text().unwrap_or_else(|| n.kind().into());
                self.err(n, format!("{what} must be true or false, found `{t}`"));
                None
            }
        }
    }

    fn number(&mut self, n: &Node, what: &str) -> Option<f64> {
        match &n.value {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) if f.is_finite() => Some(*f),
            _ => {
                let t = n.scalar_text().unwrap_or_else(|| n.kind().into());
                self.err(n, format!("{what} must be a number, found `{t}`"));
                None
            }
        }
    }

    fn duration(&mut self, n: &Node, what: &str) -> Option<Duration> {
        let Some(s) = n.scalar_text() else {
            self.err(
                n,
                format!(
                    "{what} must be a duration like 30s or 15m, found {}",
                    n.kind()
                ),
            );
            return None;
        };
        if matches!(n.value, Value::Int(_) | Value::Float(_)) {
            self.err(n, format!("{what} `{s}` needs a unit: {s}s, {s}m or {s}h?"));
            return None;
        }
        match parse_duration(&s) {
            Ok(d) => Some(d),
            Err(m) => {
                self.err(n, format!("{what}: {m}"));
                None
            }
        }
    }

    fn time_of_day(&mut self, n: &Node, what: &str) -> Option<chrono::NaiveTime> {
        let Some(s) = n.scalar_text() else {
            self.err(
                n,
                format!(
                    "{what} must be one time of day like \"06:00\", found {}",
                    n.kind()
                ),
            );
            return None;
        };
        match parse_time_of_day(&s) {
            Ok(t) => Some(t),
            Err(m) => {
                self.err(n, format!("{what}: {m}"));
                None
            }
        }
    }

    fn daily_window(&mut self, n: &Node, what: &str) -> Option<DailyWindow> {
        let s = self.text(n, what)?;
        match DailyWindow::parse(&s) {
            Ok(w) => Some(w),
            Err(m) => {
                self.err(n, format!("{what}: {m}"));
                None
            }
        }
    }

    fn date(&mut self, n: &Node, what: &str) -> Option<NaiveDate> {
        let Some(s) = n.scalar_text() else {
            self.err(
                n,
                format!(
                    "{what} must be one date like 2026-11-01, found {}",
                    n.kind()
                ),
            );
            return None;
        };
        match NaiveDate::parse_from_str(&s, "%Y-%m-%d") {
            Ok(d) if s.len() == 10 => Some(d),
            _ => {
                self.err(
                    n,
                    format!("{what} `{s}` is not a date; write YYYY-MM-DD, e.g. 2026-11-01"),
                );
                None
            }
        }
    }

    fn list<'n>(&mut self, n: &'n Node, what: &str) -> Option<&'n [Node]> {
        match &n.value {
            Value::Seq(items) => Some(items),
            _ => {
                self.err(
                    n,
                    format!("{what} must be a list, e.g. [a, b], found {}", n.kind()),
                );
                None
            }
        }
    }

    fn texts(&mut self, n: &Node, what: &str) -> Vec<String> {
        match &n.value {
            Value::Seq(items) => items.iter().filter_map(|i| self.text(i, what)).collect(),
            _ => {
                self.err(
                    n,
                    format!("{what} must be a list, e.g. [a, b], found {}", n.kind()),
                );
                Vec::new()
            }
        }
    }

    /// A word from a fixed set, with "did you mean".
    fn choice<T: Copy>(&mut self, n: &Node, what: &str, options: &[(&str, T)]) -> Option<T> {
        let s = self.text(n, what)?;
        if let Some((_, v)) = options.iter().find(|(k, _)| *k == s) {
            return Some(*v);
        }
        let names: Vec<&str> = options.iter().map(|(k, _)| *k).collect();
        let hint = suggestion(&s, names.iter().copied());
        let hint = if hint.is_empty() {
            format!(" (one of: {})", names.join(", "))
        } else {
            hint
        };
        self.err(n, format!("{what} `{s}` is unknown{hint}"));
        None
    }

    fn config_path(&self, s: &str) -> PathBuf {
        self.dir.join(s)
    }

    // ---- values both file kinds hold ---------------------------------------

    /// `all` or a list of ids among `known`. None when `all`.
    fn zone_list(&mut self, n: &Node, known: &[String], what: &str) -> Option<Vec<String>> {
        self.id_list(n, known, what, "zone", "zones are defined in station.yaml")
    }

    fn id_list(
        &mut self,
        n: &Node,
        known: &[String],
        what: &str,
        kind: &str,
        hint: &str,
    ) -> Option<Vec<String>> {
        if n.as_str() == Some("all") {
            return None;
        }
        let items: Vec<&Node> = match &n.value {
            Value::Seq(items) => items.iter().collect(),
            Value::Str(_) => vec![n],
            _ => {
                self.err(
                    n,
                    format!("{what}: {kind}s must be `all` or a list of {kind} ids"),
                );
                return Some(Vec::new());
            }
        };
        let mut out = Vec::new();
        for i in items {
            let Some(id) = self.text(i, kind) else {
                continue;
            };
            if known.is_empty() || known.contains(&id) {
                if !out.contains(&id) {
                    out.push(id);
                }
            } else {
                let s = suggestion(&id, known.iter().map(String::as_str));
                self.err(i, format!("{what}: unknown {kind} `{id}`{s} ({hint})"));
            }
        }
        Some(out)
    }

    fn late_start(&mut self, n: &Node) -> Option<LateStart> {
        self.choice(
            n,
            "late_start",
            &[
                ("join", LateStart::Join),
                ("restart", LateStart::Restart),
                ("skip", LateStart::Skip),
            ],
        )
    }

    fn voice(&mut self, n: &Node) -> Option<String> {
        let v = self.text(n, "voice")?;
        if loa_core::Voice::valid_name(&v) {
            Some(v)
        } else {
            self.err(
                n,
                format!("voice `{v}` may use only A-Z, a-z, 0-9 and _.+- and not begin with - (e.g. vi, vi-vn-x-south)"),
            );
            None
        }
    }

    /// A TTS rate: words per minute.
    fn rate(&mut self, n: &Node) -> Option<u32> {
        let range = loa_core::Voice::RATES;
        self.whole_in(
            n,
            "rate",
            range,
            "words per minute (espeak-ng's -s), e.g. 150",
        )
    }

    fn pitch(&mut self, n: &Node) -> Option<u32> {
        let range = loa_core::Voice::PITCHES;
        self.whole_in(n, "pitch", range, "(espeak-ng's -p; 50 is the voice's own)")
    }

    fn whole_in(
        &mut self,
        n: &Node,
        what: &str,
        range: std::ops::RangeInclusive<u32>,
        hint: &str,
    ) -> Option<u32> {
        match &n.value {
            Value::Int(i) if u32::try_from(*i).is_ok_and(|v| range.contains(&v)) => {
                u32::try_from(*i).ok()
            }
            _ => {
                let t = n.scalar_text().unwrap_or_else(|| n.kind().into());
                self.err(
                    n,
                    format!(
                        "{what} must be a whole number from {} to {}, found `{t}`: {hint}",
                        range.start(),
                        range.end()
                    ),
                );
                None
            }
        }
    }
}

/// "21:30-05:00".
pub fn fmt_window(w: &DailyWindow) -> String {
    format!("{}-{}", w.start.format("%H:%M"), w.end.format("%H:%M"))
}
