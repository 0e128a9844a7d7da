//! Files -> model. Reads station.yaml and schedules/*.yaml, and turns the
//! spanned YAML trees into typed values, reporting every problem it meets
//! (not only the first) with its file, line and column and, for misspelt
//! keys and names, a "did you mean".
//!
//! Cross-program checks that need the whole configuration (duplicate ids,
//! overlaps, media files) live in `check`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use chrono_tz::Tz;

use crate::diag::{suggestion, Diagnostics, Loc};
use crate::model::*;
use crate::occurrence::{parse_time_of_day, CronRule, DaySet};
use crate::yaml::{self, Node, Pos, Value};

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

/// The keys each mapping may have: unknown keys are errors.
mod keys {
    pub const STATION_FILE: &[&str] = &[
        "station", "paths", "outputs", "zones", "boards", "mqtt", "policy", "tts", "remote",
    ];
    pub const STATION: &[&str] = &["id", "name", "timezone"];
    pub const PATHS: &[&str] = &["media", "state"];
    pub const ZONE: &[&str] = &["name", "output", "relay", "preroll", "hold"];
    pub const RELAY: &[&str] = &[
        "preset",
        "topic",
        "channel",
        "switch_on",
        "switch_off",
        "renew",
        "lease",
    ];
    pub const MESSAGE: &[&str] = &["topic", "payload"];
    pub const BOARD: &[&str] = &["name", "preset", "topic", "charset", "show_now_playing"];
    pub const MQTT: &[&str] = &[
        "url",
        "client_id",
        "username",
        "password_file",
        "ca_file",
        "prefix",
        "groups",
        "homeassistant",
    ];
    pub const POLICY: &[&str] = &[
        "quiet_hours",
        "max_session",
        "volume",
        "chime",
        "loudness",
        "late_start",
        "silence",
        "live_limit",
    ];
    pub const SILENCE: &[&str] = &["below", "for"];
    pub const TTS: &[&str] = &["command", "voice", "timeout"];
    pub const REMOTE: &[&str] = &["max_skew", "rate_limit", "keys"];
    pub const KEY: &[&str] = &["public_key", "may", "zones"];
    pub const SCHEDULE_FILE: &[&str] = &["programs", "slogans"];
    pub const PROGRAM: &[&str] = &[
        "id",
        "title",
        "category",
        "at",
        "days",
        "cron",
        "dates",
        "except",
        "zones",
        "priority",
        "duration",
        "if_busy",
        "late_start",
        "volume",
        "loop",
        "approved_by",
        "items",
    ];
    pub const DATES: &[&str] = &["from", "until"];
    /// The keys that say what an item plays: exactly one per item.
    pub const ITEM_SOURCES: &[&str] = &[
        "file", "newest", "playlist", "tts", "stream", "live", "silence", "tone",
    ];
    /// Every key an item may have (sources and their options).
    pub const ITEM: &[&str] = &[
        "file",
        "newest",
        "playlist",
        "tts",
        "stream",
        "live",
        "silence",
        "tone",
        "max_age",
        "order",
        "voice",
        "fallback",
        "bandwidth",
    ];
    pub const LIVE: &[&str] = &["input"];
    pub const TONE: &[&str] = &["hz", "for"];
    pub const SLOGAN: &[&str] = &[
        "id", "boards", "text", "between", "days", "dates", "every", "color",
    ];
}

pub use keys::{
    BOARD as BOARD_KEYS, ITEM as ITEM_KEYS, PROGRAM as PROGRAM_KEYS, SLOGAN as SLOGAN_KEYS,
    STATION_FILE as STATION_FILE_KEYS, ZONE as ZONE_KEYS,
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
        let s = n.scalar_text()?;
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
        let s = n.scalar_text()?;
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

    // ---- station.yaml ------------------------------------------------------

    fn station(&mut self, root: &Node) -> Option<Station> {
        if root.is_null() {
            self.err(
                root,
                "station.yaml is empty; it needs at least `station`, `outputs` and `zones`",
            );
            return None;
        }
        let f = self.fields(root, "station.yaml", keys::STATION_FILE)?;
        let mut ok = true;

        let (id, name, timezone) = match self.required(&f, "station", "station.yaml") {
            Some(n) => self.station_block(n).unwrap_or_else(|| {
                ok = false;
                (String::new(), String::new(), Tz::UTC)
            }),
            None => {
                ok = false;
                (String::new(), String::new(), Tz::UTC)
            }
        };

        let mut paths = Paths {
            media: PathBuf::from("/var/lib/loa/media"),
            state: PathBuf::from("/var/lib/loa"),
        };
        if let Some(pn) = f.get("paths") {
            if let Some(pf) = self.fields(pn, "paths", keys::PATHS) {
                if let Some(m) = pf.get("media").and_then(|n| self.text(n, "paths.media")) {
                    paths.media = self.config_path(&m);
                }
                if let Some(s) = pf.get("state").and_then(|n| self.text(n, "paths.state")) {
                    paths.state = self.config_path(&s);
                }
            }
        }

        let mut outputs = Vec::new();
        if let Some(on) = self.required(&f, "outputs", "station.yaml") {
            if let Value::Map(entries) = &on.value {
                for (k, v) in entries {
                    let Some(oname) = self.id(k, "output name", 40) else {
                        continue;
                    };
                    let Some(spec) = self.text(v, "output") else {
                        continue;
                    };
                    match OutputSpec::parse(&spec, self.dir) {
                        Ok(spec) => outputs.push(Output {
                            name: oname,
                            spec,
                            loc: self.loc(v),
                        }),
                        Err(m) => self.err(v, m),
                    }
                }
                if entries.is_empty() {
                    self.err(
                        on,
                        "`outputs` needs at least one output, e.g. `main: \"device:default\"`",
                    );
                }
            } else {
                self.err(
                    on,
                    "`outputs` must map output names to device:NAME, wav:PATH or null",
                );
            }
        } else {
            ok = false;
        }
        let output_names: Vec<String> = outputs.iter().map(|o| o.name.clone()).collect();

        let mut zones = Vec::new();
        if let Some(zn) = self.required(&f, "zones", "station.yaml") {
            if let Value::Map(entries) = &zn.value {
                if entries.is_empty() {
                    self.err(zn, "`zones` needs at least one zone");
                }
                for (k, v) in entries {
                    let Some(zid) = self.id(k, "zone id", 40) else {
                        continue;
                    };
                    if let Some(z) = self.zone(zid, k, v, &output_names) {
                        zones.push(z);
                    }
                }
            } else {
                self.err(zn, "`zones` must map zone ids to their settings");
            }
        } else {
            ok = false;
        }

        let mut boards = Vec::new();
        if let Some(bn) = f.get("boards") {
            if let Value::Map(entries) = &bn.value {
                for (k, v) in entries {
                    let Some(bid) = self.id(k, "board id", 40) else {
                        continue;
                    };
                    if let Some(b) = self.board(bid, k, v) {
                        boards.push(b);
                    }
                }
            } else {
                self.err(bn, "`boards` must map board ids to their settings");
            }
        }

        let mqtt = f.get("mqtt").and_then(|n| self.mqtt(n, &id));
        let policy = f
            .get("policy")
            .map(|n| self.policy(n, &paths))
            .unwrap_or_default();
        let tts = f.get("tts").map(|n| self.tts(n)).unwrap_or_default();
        let zone_ids: Vec<String> = zones.iter().map(|z| z.id.clone()).collect();
        let remote = f
            .get("remote")
            .map(|n| self.remote(n, &zone_ids))
            .unwrap_or_default();

        ok.then_some(Station {
            id,
            name,
            timezone,
            paths,
            outputs,
            zones,
            boards,
            mqtt,
            policy,
            tts,
            remote,
        })
    }

    fn station_block(&mut self, n: &Node) -> Option<(String, String, Tz)> {
        let f = self.fields(n, "station", keys::STATION)?;
        let id = self
            .required(&f, "id", "station")
            .and_then(|n| self.id(n, "station id", 40));
        let name = self
            .required(&f, "name", "station")
            .and_then(|n| self.text(n, "station name"));
        let tz = self
            .required(&f, "timezone", "station")
            .and_then(|n| self.timezone(n));
        Some((id?, name?, tz?))
    }

    fn timezone(&mut self, n: &Node) -> Option<Tz> {
        let s = self.text(n, "timezone")?;
        match s.parse::<Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => {
                let hint = suggestion(&s, chrono_tz::TZ_VARIANTS.iter().map(|t| t.name()));
                let hint = if hint.is_empty() {
                    "; use an IANA name such as Asia/Ho_Chi_Minh".to_string()
                } else {
                    hint
                };
                self.err(n, format!("unknown time zone `{s}`{hint}"));
                None
            }
        }
    }

    fn zone(&mut self, id: String, key: &Node, n: &Node, outputs: &[String]) -> Option<Zone> {
        let what = format!("zone `{id}`");
        let f = self.fields(n, &what, keys::ZONE)?;
        let name = f
            .get("name")
            .and_then(|n| self.text(n, "zone name"))
            .unwrap_or_else(|| id.clone());
        let output = match f.get("output") {
            Some(on) => {
                let o = self.text(on, "output")?;
                if !outputs.contains(&o) {
                    let hint = suggestion(&o, outputs.iter().map(String::as_str));
                    self.err(on, format!("{what}: unknown output `{o}`{hint} (outputs are defined under `outputs:`)"));
                    return None;
                }
                o
            }
            // One output: zones may leave it implicit.
            None if outputs.len() == 1 => outputs[0].clone(),
            None => {
                self.err(
                    key,
                    format!("{what} needs `output` (one of: {})", outputs.join(", ")),
                );
                return None;
            }
        };
        let relay = f.get("relay").and_then(|n| self.relay(n, &what));
        let preroll = f
            .get("preroll")
            .and_then(|n| self.duration(n, "preroll"))
            .unwrap_or(Duration::from_secs(2));
        if let Some(r) = relay.as_ref().filter(|r| r.lease < preroll) {
            // The lease node, where the fix is (or the relay, when defaulted).
            let at = f.get("relay").map(|n| match &n.value {
                Value::Map(m) => m
                    .iter()
                    .find(|(k, _)| k.as_str() == Some("lease"))
                    .map_or(n, |(_, v)| v),
                _ => n,
            });
            if let Some(at) = at {
                self.err(
                    at,
                    format!(
                        "{what}: relay lease {} is shorter than the preroll {}: the amplifier would be switched off by its own timer while it warms up; make the lease longer",
                        crate::model::format_duration(r.lease),
                        crate::model::format_duration(preroll)
                    ),
                );
            }
        }
        let hold = f
            .get("hold")
            .and_then(|n| self.duration(n, "hold"))
            .unwrap_or(Duration::from_secs(10));
        Some(Zone {
            id,
            name,
            output,
            relay,
            preroll,
            hold,
            loc: self.loc(key),
        })
    }

    fn relay(&mut self, n: &Node, zone: &str) -> Option<Relay> {
        let what = format!("{zone} relay");
        let f = self.fields(n, &what, keys::RELAY)?;
        let pn = self.required(&f, "preset", &what)?;
        #[derive(Clone, Copy)]
        enum P {
            Tasmota,
            Shelly,
            Esphome,
            Custom,
        }
        let preset = self.choice(
            pn,
            "relay preset",
            &[
                ("tasmota", P::Tasmota),
                ("shelly", P::Shelly),
                ("esphome", P::Esphome),
                ("custom", P::Custom),
            ],
        )?;
        let channel = |cx: &mut Self| -> Option<u32> {
            match f.get("channel") {
                None => Some(1),
                Some(c) => match c.value {
                    Value::Int(i) if (0..=32).contains(&i) => Some(i as u32),
                    _ => {
                        cx.err(c, "relay channel must be a relay number from 0 to 32");
                        None
                    }
                },
            }
        };
        let lease = match f.get("lease") {
            None => Some(Relay::DEFAULT_LEASE),
            Some(n) => self.duration(n, "relay lease").and_then(|d| {
                if (Relay::MIN_LEASE..=Relay::MAX_LEASE).contains(&d) {
                    Some(d)
                } else {
                    self.err(
                        n,
                        format!(
                            "{what}: lease must be from {} to {} (the device switches the amplifier off when Loa stops renewing it; default 2m)",
                            crate::model::format_duration(Relay::MIN_LEASE),
                            crate::model::format_duration(Relay::MAX_LEASE)
                        ),
                    );
                    None
                }
            }),
        };
        match preset {
            P::Custom => {
                let msg = |cx: &mut Self, key: &str| -> Option<MqttMessage> {
                    let m = cx.required(&f, key, &format!("{what} (preset custom)"))?;
                    let mf = cx.fields(m, key, keys::MESSAGE)?;
                    let topic = cx
                        .required(&mf, "topic", key)
                        .and_then(|t| cx.text(t, "topic"));
                    let payload = cx
                        .required(&mf, "payload", key)
                        .and_then(|t| cx.text(t, "payload"));
                    Some(MqttMessage {
                        topic: topic?,
                        payload: payload?,
                    })
                };
                let on = msg(self, "switch_on");
                let off = msg(self, "switch_off");
                let renew = match f.get("renew") {
                    Some(_) => Some(msg(self, "renew")?),
                    None => None,
                };
                Some(Relay {
                    device: RelayDevice::Custom {
                        on: on?,
                        off: off?,
                        renew,
                    },
                    lease: lease?,
                })
            }
            p => {
                if let Some(k) = f.key_node("renew") {
                    self.err(
                        k,
                        format!("{what}: `renew` is for preset custom only (the {} preset renews its lease itself)", match p {
                            P::Tasmota => "tasmota",
                            P::Shelly => "shelly",
                            _ => "esphome",
                        }),
                    );
                }
                let topic = self
                    .required(&f, "topic", &what)
                    .and_then(|t| self.text(t, "relay topic"))?;
                let device = match p {
                    P::Tasmota => RelayDevice::Tasmota {
                        topic,
                        channel: channel(self)?,
                    },
                    P::Shelly => RelayDevice::Shelly {
                        topic,
                        channel: match f.get("channel") {
                            None => 0,
                            Some(_) => channel(self)?,
                        },
                    },
                    P::Esphome => RelayDevice::Esphome {
                        topic,
                        id: f
                            .get("channel")
                            .and_then(|c| c.scalar_text())
                            .unwrap_or_else(|| "relay".into()),
                    },
                    P::Custom => unreachable!("handled above"),
                };
                Some(Relay {
                    device,
                    lease: lease?,
                })
            }
        }
    }

    fn board(&mut self, id: String, key: &Node, n: &Node) -> Option<Board> {
        let what = format!("board `{id}`");
        let f = self.fields(n, &what, keys::BOARD)?;
        let preset = self.required(&f, "preset", &what).and_then(|p| {
            self.choice(
                p,
                "board preset",
                &[
                    ("awtrix", BoardPreset::Awtrix),
                    ("wled", BoardPreset::Wled),
                    ("tasmota", BoardPreset::Tasmota),
                    ("text", BoardPreset::Text),
                    ("json", BoardPreset::Json),
                ],
            )
        });
        let topic = self
            .required(&f, "topic", &what)
            .and_then(|t| self.text(t, "board topic"));
        let charset = f
            .get("charset")
            .and_then(|c| {
                self.choice(
                    c,
                    "charset",
                    &[("utf8", Charset::Utf8), ("ascii", Charset::Ascii)],
                )
            })
            .unwrap_or(Charset::Utf8);
        let show_now_playing = f
            .get("show_now_playing")
            .and_then(|b| self.boolean(b, "show_now_playing"))
            .unwrap_or(false);
        let name = f
            .get("name")
            .and_then(|n| self.text(n, "board name"))
            .unwrap_or_else(|| id.clone());
        Some(Board {
            id,
            name,
            preset: preset?,
            topic: topic?,
            charset,
            show_now_playing,
            loc: self.loc(key),
        })
    }

    fn mqtt(&mut self, n: &Node, station_id: &str) -> Option<Mqtt> {
        let f = self.fields(n, "mqtt", keys::MQTT)?;
        let un = self.required(&f, "url", "mqtt")?;
        let url = self.text(un, "mqtt url")?;
        let (tls, rest) = if let Some(r) = url.strip_prefix("mqtts://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("mqtt://") {
            (false, r)
        } else {
            self.err(un, format!("mqtt url `{url}` must start with mqtt:// or mqtts://, e.g. mqtt://127.0.0.1:1883"));
            return None;
        };
        let hostport = rest.trim_end_matches('/');
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => match p.parse::<u16>() {
                Ok(p) => (h.to_string(), p),
                Err(_) => {
                    self.err(un, format!("mqtt url `{url}`: `{p}` is not a port number"));
                    return None;
                }
            },
            _ => (hostport.to_string(), if tls { 8883 } else { 1883 }),
        };
        if host.is_empty() {
            self.err(un, format!("mqtt url `{url}` has no host"));
            return None;
        }
        let text = |cx: &mut Self, k: &str| f.get(k).and_then(|n| cx.text(n, k));
        let client_id = text(self, "client_id").unwrap_or_else(|| format!("loa-{station_id}"));
        let username = text(self, "username");
        let password_file = text(self, "password_file").map(|p| self.config_path(&p));
        let ca_file = text(self, "ca_file").map(|p| self.config_path(&p));
        let prefix = text(self, "prefix").unwrap_or_else(|| format!("loa/{station_id}"));
        if prefix.contains(['#', '+']) || prefix.ends_with('/') {
            if let Some(pn) = f.get("prefix") {
                self.err(pn, "mqtt prefix may not contain # or + nor end with /");
            }
        }
        let groups = match f.get("groups") {
            Some(g) => {
                let list = self.texts(g, "mqtt groups");
                for (gname, gn) in list.iter().zip(match &g.value {
                    Value::Seq(s) => s.as_slice(),
                    _ => &[],
                }) {
                    if !is_id(gname, 40) {
                        self.err(gn, format!("group `{gname}` may use only a-z, 0-9 and '-'"));
                    }
                }
                list
            }
            None => Vec::new(),
        };
        let homeassistant = f
            .get("homeassistant")
            .and_then(|b| self.boolean(b, "homeassistant"))
            .unwrap_or(false);
        Some(Mqtt {
            url,
            tls,
            host,
            port,
            client_id,
            username,
            password_file,
            ca_file,
            prefix,
            groups,
            homeassistant,
        })
    }

    fn policy(&mut self, n: &Node, paths: &Paths) -> Policy {
        let mut p = Policy::default();
        let Some(f) = self.fields(n, "policy", keys::POLICY) else {
            return p;
        };
        if let Some(q) = f.get("quiet_hours") {
            p.quiet_hours = self.daily_window(q, "quiet_hours");
        }
        if let Some(m) = f.get("max_session") {
            p.max_session = self.duration(m, "max_session");
        }
        if let Some(m) = f.get("live_limit") {
            if let Some(d) = self.duration(m, "live_limit") {
                if d.is_zero() {
                    self.err(m, "live_limit must be longer than 0, e.g. 30m");
                } else {
                    p.live_limit = d;
                }
            }
        }
        if let Some(v) = f.get("volume") {
            if let Some(x) = self.number(v, "volume") {
                if (0.0..=1.0).contains(&x) {
                    p.volume = x as f32;
                } else {
                    self.err(v, format!("volume {x} is outside 0..1 (0.8 is 80 %)"));
                }
            }
        }
        if let Some(c) = f.get("chime") {
            if let Some(s) = self.text(c, "chime") {
                p.chime = if s == "builtin" {
                    Chime::Builtin
                } else {
                    Chime::File(paths.media.join(s))
                };
            }
        }
        match f.entries.iter().find(|(k, _, _)| *k == "loudness") {
            Some((_, _, v)) if v.is_null() => p.loudness = None,
            Some((_, _, v)) => {
                if let Some(x) = self.number(v, "loudness") {
                    if (-40.0..=-5.0).contains(&x) {
                        p.loudness = Some(x);
                    } else {
                        self.err(v, format!("loudness {x} LUFS is implausible; broadcast targets lie between -23 and -14"));
                    }
                }
            }
            None => {}
        }
        if let Some(l) = f.get("late_start") {
            if let Some(ls) = self.late_start(l) {
                p.late_start = ls;
            }
        }
        if let Some(s) = f.get("silence") {
            if let Some(sf) = self.fields(s, "policy.silence", keys::SILENCE) {
                if let Some(b) = sf.get("below") {
                    match b.scalar_text().as_deref().map(parse_db) {
                        Some(Ok(db)) => p.silence.below_dbfs = db,
                        _ => self.err(b, "silence.below must be a level like -50dB"),
                    }
                }
                if let Some(d) = sf.get("for").and_then(|d| self.duration(d, "silence.for")) {
                    p.silence.for_ = d;
                }
            }
        }
        p
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

    fn tts(&mut self, n: &Node) -> Tts {
        let mut t = Tts::default();
        let Some(f) = self.fields(n, "tts", keys::TTS) else {
            return t;
        };
        if let Some(c) = f.get("command") {
            let argv = self.texts(c, "tts command");
            if argv.is_empty() {
                self.err(c, "tts command must be a non-empty list: the program and its arguments, e.g. [espeak-ng, -v, \"{voice}\", -w, \"{out}\", --stdin]");
            } else if !argv.iter().any(|a| a.contains("{out}")) {
                self.err(
                    c,
                    "tts command must contain {out}, where the WAV file is written",
                );
            } else {
                t.command = argv;
            }
        }
        if let Some(v) = f.get("voice").and_then(|v| self.voice(v)) {
            t.voice = v;
        }
        if let Some(d) = f
            .get("timeout")
            .and_then(|d| self.duration(d, "tts timeout"))
        {
            t.timeout = d;
        }
        t
    }

    fn voice(&mut self, n: &Node) -> Option<String> {
        let v = self.text(n, "voice")?;
        let ok = (1..=64).contains(&v.len())
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c));
        if ok {
            Some(v)
        } else {
            self.err(
                n,
                format!("voice `{v}` may use only A-Z, a-z, 0-9 and _.+- (e.g. vi)"),
            );
            None
        }
    }

    fn remote(&mut self, n: &Node, zone_ids: &[String]) -> Remote {
        let mut r = Remote::default();
        let Some(f) = self.fields(n, "remote", keys::REMOTE) else {
            return r;
        };
        if let Some(d) = f.get("max_skew").and_then(|d| self.duration(d, "max_skew")) {
            r.max_skew = d;
        }
        if let Some(rl) = f.get("rate_limit") {
            let s = rl.scalar_text().unwrap_or_default();
            let parsed = s.split_once('/').and_then(|(c, per)| {
                let count = c.trim().parse::<u32>().ok()?;
                let per = match per.trim() {
                    "s" | "sec" => Duration::from_secs(1),
                    "min" | "m" => Duration::from_secs(60),
                    "h" | "hour" => Duration::from_secs(3600),
                    other => parse_duration(other).ok()?,
                };
                Some(RateLimit { count, per })
            });
            match parsed {
                Some(x) if x.count > 0 => r.rate_limit = x,
                _ => self.err(rl, format!("rate_limit `{s}` must look like 10/min")),
            }
        }
        if let Some(kn) = f.get("keys") {
            let Value::Map(entries) = &kn.value else {
                self.err(
                    kn,
                    "remote.keys must map key ids to their public key and rights",
                );
                return r;
            };
            for (k, v) in entries {
                let Some(kid) = self.id(k, "key id", 64) else {
                    continue;
                };
                if let Some(key) = self.remote_key(kid, k, v, zone_ids) {
                    r.keys.push(key);
                }
            }
        }
        r
    }

    fn remote_key(
        &mut self,
        id: String,
        key: &Node,
        n: &Node,
        zone_ids: &[String],
    ) -> Option<RemoteKey> {
        use base64::Engine;
        let what = format!("key `{id}`");
        let f = self.fields(n, &what, keys::KEY)?;
        let pk = self.required(&f, "public_key", &what)?;
        let text = self.text(pk, "public_key")?;
        let public_key: [u8; 32] = match base64::engine::general_purpose::STANDARD
            .decode(text.trim())
        {
            Ok(b) if b.len() == 32 => b.try_into().ok()?,
            Ok(b) => {
                self.err(pk, format!("public_key of {what} decodes to {} bytes, not the 32 of an Ed25519 key; paste the line `loa keygen` printed", b.len()));
                return None;
            }
            Err(_) => {
                self.err(
                    pk,
                    format!(
                        "public_key of {what} is not base64; paste the line `loa keygen` printed"
                    ),
                );
                return None;
            }
        };
        let mut may = Vec::new();
        if let Some(m) = self.required(&f, "may", &what) {
            if let Some(items) = self.list(m, "may") {
                for i in items {
                    let r = self.choice(
                        i,
                        "right",
                        &[
                            ("filler", Right::Announce(Priority::Filler)),
                            ("normal", Right::Announce(Priority::Normal)),
                            ("priority", Right::Announce(Priority::Priority)),
                            ("emergency", Right::Announce(Priority::Emergency)),
                            ("stop", Right::Stop),
                            ("reload", Right::Reload),
                        ],
                    );
                    may.extend(r);
                }
            }
        }
        let zones = f
            .get("zones")
            .and_then(|z| self.zone_list(z, zone_ids, &what));
        Some(RemoteKey {
            id,
            public_key,
            may,
            zones: match f.get("zones") {
                None => None,
                Some(z) if z.as_str() == Some("all") => None,
                Some(_) => Some(zones.unwrap_or_default()),
            },
            loc: self.loc(key),
        })
    }

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

    // ---- schedules/*.yaml --------------------------------------------------

    fn schedule_file(
        &mut self,
        root: &Node,
        station: Option<&Station>,
        programs: &mut Vec<Program>,
        slogans: &mut Vec<Slogan>,
    ) {
        if root.is_null() {
            return; // an empty file is allowed: an operator may keep one as a placeholder
        }
        let Some(f) = self.fields(root, "a schedule file", keys::SCHEDULE_FILE) else {
            return;
        };
        if let Some(pn) = f.get("programs") {
            if let Some(items) = self.list(pn, "programs") {
                for p in items {
                    if let Some(p) = self.program(p, station) {
                        programs.push(p);
                    }
                }
            }
        }
        if let Some(sn) = f.get("slogans") {
            if let Some(items) = self.list(sn, "slogans") {
                for s in items {
                    if let Some(s) = self.slogan(s, station) {
                        slogans.push(s);
                    }
                }
            }
        }
    }

    fn days(&mut self, n: &Node) -> Option<DaySet> {
        let items: Vec<&Node> = match &n.value {
            Value::Seq(items) => items.iter().collect(),
            Value::Str(_) => vec![n],
            _ => {
                self.err(n, "days must be a list such as [mon, wed, fri]");
                return None;
            }
        };
        let mut set = DaySet::empty();
        let mut ok = true;
        for i in items {
            let Some(s) = i.scalar_text() else {
                self.err(i, "a day must be a name such as mon");
                ok = false;
                continue;
            };
            match DaySet::parse_day(&s) {
                Ok(d) => set.insert(d),
                Err(m) => {
                    self.err(i, m);
                    ok = false;
                }
            }
        }
        if ok && set.is_empty() {
            self.err(
                n,
                "days is empty: the program would never air; list days or remove `days`",
            );
            return None;
        }
        ok.then_some(set)
    }

    fn date_range(&mut self, n: &Node) -> Option<DateRange> {
        let f = self.fields(n, "dates", keys::DATES)?;
        let from = f.get("from").and_then(|d| self.date(d, "dates.from"));
        let until = f.get("until").and_then(|d| self.date(d, "dates.until"));
        if f.get("from").is_some() && from.is_none() || f.get("until").is_some() && until.is_none()
        {
            return None;
        }
        if let (Some(a), Some(b)) = (from, until) {
            if a > b {
                self.err(
                    n,
                    format!("dates: from {a} is after until {b}; the program would never air"),
                );
                return None;
            }
        }
        Some(DateRange { from, until })
    }

    fn except(&mut self, n: &Node) -> BTreeSet<NaiveDate> {
        let items: Vec<&Node> = match &n.value {
            Value::Seq(items) => items.iter().collect(),
            _ => vec![n],
        };
        items
            .into_iter()
            .filter_map(|d| self.date(d, "except"))
            .collect()
    }

    fn priority(&mut self, n: &Node) -> Option<Priority> {
        self.choice(
            n,
            "priority",
            &[
                ("filler", Priority::Filler),
                ("normal", Priority::Normal),
                ("priority", Priority::Priority),
                ("emergency", Priority::Emergency),
            ],
        )
    }

    fn program(&mut self, n: &Node, station: Option<&Station>) -> Option<Program> {
        let errors_before = self.diags.errors.len();
        let f = self.fields(n, "program", keys::PROGRAM)?;
        let id = self
            .required(&f, "id", "program")
            .and_then(|i| self.id(i, "program id", 64));
        if let Some(id) = &id {
            self.unique("program", id, n);
        }
        let what = match &id {
            Some(id) => format!("program `{id}`"),
            None => "program".to_string(),
        };
        let title = f
            .get("title")
            .and_then(|t| self.text(t, "title"))
            .or_else(|| id.clone())
            .unwrap_or_default();
        let category = f
            .get("category")
            .and_then(|c| self.text(c, "category"))
            .unwrap_or_else(|| "other".into());

        let at = f.get("at");
        let cron = f.get("cron");
        let mut at_time = None;
        let recurrence = match (at, cron) {
            (Some(_), Some(c)) => {
                self.err(c, format!("{what} has both `at` and `cron`; keep one"));
                None
            }
            (None, None) => {
                self.err(
                    n,
                    format!("{what} needs `at` (a time, with optional `days`) or `cron`"),
                );
                None
            }
            (Some(a), None) => {
                let t = self.time_of_day(a, "at");
                at_time = t;
                let days = match f.get("days") {
                    Some(d) => self.days(d),
                    None => Some(DaySet::ALL),
                };
                match (t, days) {
                    (Some(at), Some(days)) => Some(Recurrence::Daily { at, days }),
                    _ => None,
                }
            }
            (None, Some(c)) => {
                if let Some(d) = f.get("days") {
                    self.err(d, "`days` goes with `at`; with `cron`, put the weekdays in its fifth/sixth field");
                }
                let s = self.text(c, "cron")?;
                match CronRule::parse(&s) {
                    Ok(rule) => Some(Recurrence::Cron(rule)),
                    Err(m) => {
                        self.err(c, format!("cron `{s}`: {m}"));
                        None
                    }
                }
            }
        };
        let dates = match f.get("dates") {
            Some(d) => self.date_range(d),
            None => Some(DateRange::default()),
        };
        let except = f.get("except").map(|e| self.except(e)).unwrap_or_default();

        let zone_ids: Vec<String> = station
            .map(|s| s.zones.iter().map(|z| z.id.clone()).collect())
            .unwrap_or_default();
        let zones = match self.required(&f, "zones", &what) {
            Some(z) => match self.zone_list(z, &zone_ids, &what) {
                None => zone_ids.clone(),
                Some(list) => {
                    // station.yaml order, as the airtime log records them
                    let mut v: Vec<String> = zone_ids
                        .iter()
                        .filter(|z| list.contains(z))
                        .cloned()
                        .collect();
                    if zone_ids.is_empty() {
                        v = list;
                    }
                    v
                }
            },
            None => Vec::new(),
        };
        let priority = f
            .get("priority")
            .map(|p| self.priority(p))
            .unwrap_or(Some(Priority::Normal));
        let duration = f.get("duration").and_then(|d| self.duration(d, "duration"));
        if let (Some(dn), Some(d)) = (f.get("duration"), duration) {
            if d.is_zero() {
                self.err(
                    dn,
                    "duration 0 would cut the program at once; remove it or give a length",
                );
            }
        }
        let if_busy = match f.get("if_busy") {
            None => IfBusy::Wait(Duration::from_secs(15 * 60)),
            Some(b) => {
                let s = b.scalar_text().unwrap_or_default();
                match s.as_str() {
                    "preempt" => IfBusy::Preempt,
                    "skip" => IfBusy::Skip,
                    _ => match s.strip_prefix("wait") {
                        Some(rest) if rest.trim().is_empty() => {
                            IfBusy::Wait(Duration::from_secs(15 * 60))
                        }
                        Some(rest) => match parse_duration(rest.trim()) {
                            Ok(d) => IfBusy::Wait(d),
                            Err(m) => {
                                self.err(b, format!("if_busy: {m}"));
                                IfBusy::Wait(Duration::from_secs(15 * 60))
                            }
                        },
                        None => {
                            let hint = suggestion(&s, ["preempt", "skip", "wait"]);
                            self.err(b, format!("if_busy `{s}` must be preempt, skip or wait DURATION (e.g. wait 15m){hint}"));
                            IfBusy::Wait(Duration::from_secs(15 * 60))
                        }
                    },
                }
            }
        };
        let late_start = f.get("late_start").and_then(|l| self.late_start(l));
        let volume = match f.get("volume") {
            Some(v) => match self.number(v, "volume") {
                Some(x) if (0.0..=2.0).contains(&x) => x as f32,
                Some(x) => {
                    self.err(v, format!("volume {x} is outside 0..2 (1.0 = as master)"));
                    1.0
                }
                None => 1.0,
            },
            None => 1.0,
        };
        let looped = f
            .get("loop")
            .and_then(|l| self.boolean(l, "loop"))
            .unwrap_or(false);
        let approved_by = f
            .get("approved_by")
            .and_then(|a| self.text(a, "approved_by"));

        let media = station.map(|s| s.paths.media.clone()).unwrap_or_default();
        let mut items = Vec::new();
        if let Some(itn) = self.required(&f, "items", &what) {
            if let Some(list) = self.list(itn, "items") {
                if list.is_empty() {
                    self.err(
                        itn,
                        format!("{what} has no items; list at least one thing to play"),
                    );
                }
                for i in list {
                    if let Some(item) = self.item(i, &media) {
                        items.push(item);
                    }
                }
            }
        }
        if duration.is_none() && f.get("duration").is_none() {
            for item in &items {
                if item.source.is_endless() {
                    let kind = item.source.kind();
                    self.diags.error(
                        item.loc.clone(),
                        format!("{what}: a {kind} item never ends by itself; give the program a `duration` (e.g. duration: 30m)"),
                    );
                }
            }
        }
        if looped && duration.is_none() && f.get("duration").is_none() {
            let at = f.key_node("loop").unwrap_or(n);
            self.err(
                at,
                format!("{what} loops but has no `duration`; it would never end"),
            );
        }

        // Starting inside quiet hours is an error: only emergencies may sound then.
        if let (
            Some(at),
            Some(st),
            Some(Priority::Normal | Priority::Filler | Priority::Priority),
        ) = (at_time, station, priority)
        {
            if let Some(q) = st.policy.quiet_hours {
                if q.contains(at) {
                    let an = f.get("at").unwrap_or(n);
                    self.err(
                        an,
                        format!(
                            "{what} starts at {} inside quiet hours {}; only emergency may sound then (move it, or change policy.quiet_hours)",
                            at.format("%H:%M"),
                            fmt_window(&q)
                        ),
                    );
                }
            }
        }

        if self.diags.errors.len() > errors_before {
            return None;
        }
        let occurs = Occurrences {
            recurrence: recurrence?,
            dates: dates?,
            except,
        };
        if let Some(st) = station {
            if occurs.never_fires(st.timezone) {
                let at = f.get("cron").or(f.get("dates")).unwrap_or(n);
                self.err(
                    at,
                    format!("{what} never airs: no day matches its rule within its dates"),
                );
                return None;
            }
        }
        Some(Program {
            id: id?,
            title,
            category,
            occurs,
            zones,
            priority: priority?,
            duration,
            if_busy,
            late_start,
            volume,
            looped,
            approved_by,
            items,
            loc: self.loc(n),
        })
    }

    /// A file pattern under the media directory. Absolute patterns, `..`
    /// and `**` are refused: matching walks directories, and a pattern that
    /// reaches the whole filesystem (or a symlink loop) would never finish.
    fn media_glob(&mut self, n: &Node, media: &Path, what: &str) -> Option<String> {
        let g = self.text(n, what)?;
        if Path::new(&g).is_absolute() || g.split('/').any(|c| c == "..") {
            self.err(n, format!("{what} `{g}` must be a pattern under the media directory, e.g. news/ban-tin-*.mp3"));
            return None;
        }
        if g.contains("**") {
            self.err(
                n,
                format!("{what} `{g}`: `**` is not supported; name the folder, e.g. news/*.mp3"),
            );
            return None;
        }
        if let Err(e) = glob::Pattern::new(&g) {
            self.err(n, format!("{what} `{g}` is not a valid pattern: {e}"));
            return None;
        }
        Some(media.join(g).to_string_lossy().into_owned())
    }

    fn media_path(&mut self, n: &Node, media: &Path, what: &str) -> Option<PathBuf> {
        let s = self.text(n, what)?;
        if s.trim().is_empty() {
            self.err(
                n,
                format!("{what} is empty; give a path under the media directory"),
            );
            return None;
        }
        Some(media.join(s))
    }

    /// `stream: URL` or `stream: [URL, URL...]`: the relay's sources in the
    /// order they are tried. Every entry is checked, so that one look at
    /// `loa check` names every bad one.
    fn stream_urls(&mut self, v: &Node) -> Option<Vec<String>> {
        let Value::Seq(list) = &v.value else {
            let url = self.text(v, "stream")?;
            return self.stream_url(v, url, "stream").map(|u| vec![u]);
        };
        if list.is_empty() {
            self.err(
                v,
                "stream lists no source; give one address, or several to try in order, e.g. \
                 stream: [https://.../playlist.m3u8, http://...:7001/;stream/]",
            );
            return None;
        }
        // Each good source with its number and line, for "already source N".
        let mut urls: Vec<(String, usize, u32)> = Vec::with_capacity(list.len());
        let mut bad = false;
        for (i, entry) in list.iter().enumerate() {
            let what = format!("stream source {}", i + 1);
            let Some(url) = self
                .text(entry, &what)
                .and_then(|u| self.stream_url(entry, u, &what))
            else {
                bad = true;
                continue;
            };
            if let Some((_, number, line)) = urls.iter().find(|(u, _, _)| *u == url) {
                self.err(
                    entry,
                    format!("{what} `{url}` is already source {number} (line {line}); list each source once"),
                );
                bad = true;
                continue;
            }
            urls.push((url, i + 1, entry.pos.line));
        }
        (!bad).then(|| urls.into_iter().map(|(u, _, _)| u).collect())
    }

    /// One relay source: an http:// or https:// address with a host.
    fn stream_url(&mut self, n: &Node, url: String, what: &str) -> Option<String> {
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"));
        let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            let hint = if url.contains(',') {
                "; for several sources write a list: stream: [FIRST_URL, SECOND_URL]"
            } else {
                "; write spaces in an address as %20"
            };
            self.err(n, format!("{what} `{url}` has a space in it{hint}"));
            return None;
        }
        if host.is_none_or(|h| h.is_empty() || h.starts_with(':')) {
            self.err(
                n,
                format!(
                    "{what} `{url}` must be an http:// or https:// address, \
                     e.g. https://str.vov.gov.vn/vovlive/vov1vov5Vietnamese.sdp_aac/playlist.m3u8"
                ),
            );
            return None;
        }
        Some(url)
    }

    /// `bandwidth:` in bits per second: `64000` or `64k`.
    fn bandwidth(&mut self, n: &Node) -> Option<u64> {
        let text = n.scalar_text().unwrap_or_else(|| n.kind().into());
        let bits = match &n.value {
            Value::Int(i) => u64::try_from(*i).ok(),
            Value::Str(s) => s
                .strip_suffix(['k', 'K'])
                .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|d| d.parse::<u64>().ok())
                .and_then(|k| k.checked_mul(1000)),
            _ => None,
        };
        match bits {
            Some(b) if b >= 1000 => Some(b),
            Some(b) if b > 0 => {
                self.err(
                    n,
                    format!("bandwidth {b} is in bits per second, too low for audio; did you mean {b}k?"),
                );
                None
            }
            _ => {
                self.err(
                    n,
                    format!("bandwidth `{text}` must be bits per second: a whole number such as 64000, or 64k"),
                );
                None
            }
        }
    }

    fn item(&mut self, n: &Node, media: &Path) -> Option<Item> {
        let f = self.fields(n, "item", keys::ITEM)?;
        let present: Vec<&str> = keys::ITEM_SOURCES
            .iter()
            .copied()
            .filter(|k| f.entries.iter().any(|(e, _, _)| e == k))
            .collect();
        let kind = match present.as_slice() {
            [one] => *one,
            [] => {
                self.err(
                    n,
                    format!("item needs one of: {}", keys::ITEM_SOURCES.join(", ")),
                );
                return None;
            }
            [a, b, ..] => {
                let at = f.key_node(b).unwrap_or(n);
                self.err(
                    at,
                    format!(
                        "item has both `{a}` and `{b}`; put each in its own item (`- {b}: ...`)"
                    ),
                );
                return None;
            }
        };
        // Options that belong to another kind of item are mistakes, not silently ignored.
        let allowed_extra: &[&str] = match kind {
            "newest" => &["max_age"],
            "playlist" => &["order"],
            "tts" => &["voice"],
            "stream" => &["fallback", "bandwidth"],
            _ => &[],
        };
        for (k, kn, _) in &f.entries {
            if *k != kind && !allowed_extra.contains(k) {
                self.err(kn, format!("`{k}` does not apply to a {kind} item"));
            }
        }
        let v = f.get(kind).unwrap_or(n);
        let source = match kind {
            "file" => Source::File(self.media_path(v, media, "file")?),
            "newest" => {
                let glob = self.media_glob(v, media, "newest")?;
                let max_age = f.get("max_age").and_then(|d| self.duration(d, "max_age"));
                Source::Newest { glob, max_age }
            }
            "playlist" => {
                let entries = match &v.value {
                    Value::Seq(list) => {
                        if list.is_empty() {
                            self.err(
                                v,
                                "playlist is empty; list files or give a glob such as music/*.mp3",
                            );
                            return None;
                        }
                        PlaylistEntries::Files(
                            list.iter()
                                .filter_map(|p| self.media_path(p, media, "playlist entry"))
                                .collect(),
                        )
                    }
                    _ => PlaylistEntries::Glob(self.media_glob(v, media, "playlist")?),
                };
                let order = f
                    .get("order")
                    .and_then(|o| {
                        self.choice(
                            o,
                            "order",
                            &[
                                ("sequential", Order::Sequential),
                                ("shuffle", Order::Shuffle),
                            ],
                        )
                    })
                    .unwrap_or(Order::Sequential);
                Source::Playlist { entries, order }
            }
            "tts" => {
                let text = self.text(v, "tts")?;
                if text.trim().is_empty() {
                    self.err(v, "tts text is empty");
                    return None;
                }
                if text.chars().count() > 2000 {
                    self.err(
                        v,
                        "tts text is over 2,000 characters; split it into several items",
                    );
                    return None;
                }
                let voice = f.get("voice").and_then(|vn| self.voice(vn));
                Source::Tts { text, voice }
            }
            "stream" => {
                // Both are read before either fails: every problem is reported.
                let urls = self.stream_urls(v);
                let bandwidth = f.get("bandwidth").map(|b| self.bandwidth(b));
                let urls = urls?;
                let bandwidth = match bandwidth {
                    Some(b) => Some(b?),
                    None => None,
                };
                let fallback = match f.get("fallback") {
                    None => Vec::new(),
                    Some(fb) => match &fb.value {
                        Value::Seq(list) => list
                            .iter()
                            .filter_map(|p| self.media_path(p, media, "fallback"))
                            .collect(),
                        _ => self.media_path(fb, media, "fallback").into_iter().collect(),
                    },
                };
                Source::Stream {
                    urls,
                    bandwidth,
                    fallback,
                }
            }
            "live" => {
                let input = if f.get("live").is_none() {
                    "default".to_string()
                } else if let Some(s) = v.as_str() {
                    s.to_string()
                } else {
                    let lf = self.fields(v, "live", keys::LIVE)?;
                    lf.get("input")
                        .and_then(|i| self.text(i, "live input"))
                        .unwrap_or_else(|| "default".into())
                };
                Source::Live { input }
            }
            "silence" => Source::Silence(self.duration(v, "silence")?),
            "tone" => {
                let tf = self.fields(v, "tone", keys::TONE)?;
                let hz = self
                    .required(&tf, "hz", "tone")
                    .and_then(|h| self.number(h, "hz"));
                let length = self
                    .required(&tf, "for", "tone")
                    .and_then(|d| self.duration(d, "tone for"));
                let hz = hz?;
                if !(20.0..=20000.0).contains(&hz) {
                    let hn = tf.get("hz").unwrap_or(v);
                    self.err(
                        hn,
                        format!("tone {hz} Hz is outside what loudspeakers play (20-20000)"),
                    );
                    return None;
                }
                Source::Tone {
                    hz,
                    length: length?,
                }
            }
            _ => unreachable!("kind comes from ITEM_SOURCES"),
        };
        Some(Item {
            source,
            loc: self.loc(n),
        })
    }

    fn slogan(&mut self, n: &Node, station: Option<&Station>) -> Option<Slogan> {
        let errors_before = self.diags.errors.len();
        let f = self.fields(n, "slogan", keys::SLOGAN)?;
        let id = self
            .required(&f, "id", "slogan")
            .and_then(|i| self.id(i, "slogan id", 64));
        if let Some(id) = &id {
            self.unique("slogan", id, n);
        }
        let what = match &id {
            Some(id) => format!("slogan `{id}`"),
            None => "slogan".into(),
        };
        let board_ids: Vec<String> = station
            .map(|s| s.boards.iter().map(|b| b.id.clone()).collect())
            .unwrap_or_default();
        let boards = match self.required(&f, "boards", &what) {
            Some(b) => {
                if board_ids.is_empty() && station.is_some() {
                    self.err(
                        b,
                        format!("{what} names boards, but station.yaml defines no `boards`"),
                    );
                }
                match self.id_list(
                    b,
                    &board_ids,
                    &what,
                    "board",
                    "boards are defined in station.yaml",
                ) {
                    None => board_ids.clone(),
                    Some(list) => list,
                }
            }
            None => Vec::new(),
        };
        let text = self
            .required(&f, "text", &what)
            .and_then(|t| self.text(t, "text"));
        if let (Some(t), Some(tn)) = (&text, f.get("text")) {
            if t.trim().is_empty() {
                self.err(tn, format!("{what} has empty text"));
            }
        }
        let between = f
            .get("between")
            .and_then(|b| self.daily_window(b, "between"));
        let days = match f.get("days") {
            Some(d) => self.days(d),
            None => Some(DaySet::ALL),
        };
        let dates = match f.get("dates") {
            Some(d) => self.date_range(d),
            None => Some(DateRange::default()),
        };
        let every = f.get("every").and_then(|e| self.duration(e, "every"));
        if let (None, Some(k)) = (f.get("color"), f.key_node("color")) {
            self.err(
                k,
                "color is empty: a # starts a comment in YAML, so quote it: color: \"#FFD700\"",
            );
        }
        let color = match f.get("color") {
            Some(c) => {
                let s = self.text(c, "color")?;
                let ok = s.len() == 7
                    && s.starts_with('#')
                    && s[1..].chars().all(|ch| ch.is_ascii_hexdigit());
                if !ok {
                    self.err(c, format!("color `{s}` must be #RRGGBB, e.g. \"#FFD700\" (quote it: # starts a comment)"));
                }
                Some(s.to_ascii_uppercase())
            }
            None => None,
        };
        if self.diags.errors.len() > errors_before {
            return None;
        }
        Some(Slogan {
            id: id?,
            boards,
            text: text?,
            between,
            days: days?,
            dates: dates?,
            every,
            color,
            loc: self.loc(n),
        })
    }
}

/// "21:30-05:00".
pub fn fmt_window(w: &DailyWindow) -> String {
    format!("{}-{}", w.start.format("%H:%M"), w.end.format("%H:%M"))
}

/// "-50dB", "-50 dBFS", "-50".
fn parse_db(s: &str) -> Result<f64, ()> {
    let t = s.trim();
    let t = t
        .strip_suffix("dBFS")
        .or_else(|| t.strip_suffix("dBfs"))
        .or_else(|| t.strip_suffix("dB"))
        .or_else(|| t.strip_suffix("db"))
        .unwrap_or(t)
        .trim();
    match t.parse::<f64>() {
        Ok(x) if (-120.0..=0.0).contains(&x) => Ok(x),
        _ => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loads one item written at the top of `a.yaml`: the item (if valid)
    /// and every problem as `FILE:LINE:COLUMN: message`.
    fn item(yaml: &str) -> (Option<Item>, Vec<String>) {
        let node = yaml::parse(yaml).expect("test YAML parses");
        let mut diags = Diagnostics::default();
        let mut ids = std::collections::HashMap::new();
        let mut cx = Cx {
            file: "a.yaml".into(),
            diags: &mut diags,
            dir: Path::new("/etc/loa"),
            ids: &mut ids,
        };
        let item = cx.item(&node, Path::new("/media"));
        let problems = diags.errors.iter().map(|d| d.to_string()).collect();
        (item, problems)
    }

    fn stream(yaml: &str) -> (Vec<String>, Option<u64>, Vec<PathBuf>) {
        match item(yaml) {
            (
                Some(Item {
                    source:
                        Source::Stream {
                            urls,
                            bandwidth,
                            fallback,
                        },
                    ..
                }),
                problems,
            ) if problems.is_empty() => (urls, bandwidth, fallback),
            other => panic!("not a valid stream item: {other:?}"),
        }
    }

    const VOV1: &str = "https://str.vov.gov.vn/vovlive/vov1vov5Vietnamese.sdp_aac/playlist.m3u8";
    const PORT: &str = "http://media.kythuatvov.vn:7001/;stream/";

    #[test]
    fn a_stream_is_one_address_or_a_list_tried_in_order() {
        let (urls, bandwidth, fallback) = stream(&format!("stream: {VOV1}\n"));
        assert_eq!(
            (urls, bandwidth, fallback),
            (vec![VOV1.to_string()], None, vec![])
        );

        let (urls, _, fallback) = stream(&format!(
            "stream: [{VOV1}, {PORT}]\nfallback: [music/nhac-nen.mp3]\n"
        ));
        assert_eq!(urls, [VOV1, PORT]);
        assert_eq!(fallback, [PathBuf::from("/media/music/nhac-nen.mp3")]);

        let (urls, _, _) = stream(&format!("stream:\n  - {VOV1}\n  - {PORT}\n"));
        assert_eq!(urls, [VOV1, PORT]);
    }

    #[test]
    fn bandwidth_is_bits_per_second_plain_or_in_k() {
        for (written, bits) in [("64000", 64_000), ("48k", 48_000), ("\"128K\"", 128_000)] {
            let (_, bandwidth, _) = stream(&format!("stream: {VOV1}\nbandwidth: {written}\n"));
            assert_eq!(bandwidth, Some(bits), "{written}");
        }
    }

    #[test]
    fn bad_sources_are_named_each_at_its_line_with_the_fix() {
        let (got, problems) = item("stream: []\n");
        assert!(got.is_none());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("a.yaml:1:9: stream lists no source; give one address"),
            "{problems:?}"
        );

        let (got, problems) = item(&format!(
            "stream:\n  - {VOV1}\n  - ftp://vov.vn/a.mp3\n  - {{url: x}}\n  - {VOV1}\n"
        ));
        assert!(got.is_none());
        assert_eq!(
            problems,
            [
                "a.yaml:3:5: stream source 2 `ftp://vov.vn/a.mp3` must be an http:// or https:// address, e.g. https://str.vov.gov.vn/vovlive/vov1vov5Vietnamese.sdp_aac/playlist.m3u8".to_string(),
                "a.yaml:4:5: stream source 3 must be text, found a mapping".into(),
                format!("a.yaml:5:5: stream source 4 `{VOV1}` is already source 1 (line 2); list each source once"),
            ]
        );

        let (_, problems) = item(&format!("stream: \"{VOV1}, {PORT}\"\n"));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("a.yaml:1:9: stream `")
                && problems[0].ends_with(
                    "has a space in it; for several sources write a list: stream: [FIRST_URL, SECOND_URL]"
                ),
            "{problems:?}"
        );

        let (_, problems) = item("stream: http://\n");
        assert!(
            problems[0].contains("must be an http:// or https:// address"),
            "{problems:?}"
        );
    }

    #[test]
    fn bandwidth_mistakes_say_what_to_write() {
        let (_, problems) = item(&format!("stream: {VOV1}\nbandwidth: 48\n"));
        assert_eq!(
            problems,
            ["a.yaml:2:12: bandwidth 48 is in bits per second, too low for audio; did you mean 48k?"]
        );
        for bad in ["48kb", "1.5M", "-64000", "fast"] {
            let (_, problems) = item(&format!("stream: {VOV1}\nbandwidth: {bad}\n"));
            assert_eq!(
                problems,
                [format!("a.yaml:2:12: bandwidth `{bad}` must be bits per second: a whole number such as 64000, or 64k")],
                "{bad}"
            );
        }
        let (_, problems) = item("file: a.mp3\nbandwidth: 64k\n");
        assert_eq!(
            problems,
            ["a.yaml:2:1: `bandwidth` does not apply to a file item"]
        );
    }
}
