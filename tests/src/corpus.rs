//! The hostile input corpora of tests/corpus/ (README.md there), read and
//! expanded: the unit tests beside the parsers and the end-to-end test run
//! the same cases.

use serde_json::Value;

/// One control-socket line the daemon must refuse.
#[derive(Clone, Debug)]
pub struct ControlCase {
    pub code: String,
    /// A piece of the refusal's reason.
    pub needle: String,
    pub line: String,
}

/// What a remote case's body starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    Announce,
    Stop,
    Reload,
    /// The patch is the whole body.
    Raw,
}

/// One signed remote command body the station must refuse.
#[derive(Clone, Debug)]
pub struct RemoteCase {
    pub code: String,
    pub needle: String,
    pub base: Base,
    pub patch: String,
}

impl RemoteCase {
    /// The body text for station `station` at `now` (Unix s) with id `id`.
    pub fn body(&self, station: &str, id: &str, now: i64) -> String {
        let head = serde_json::json!({
            "v": 1, "id": id, "ts": now, "exp": now + 300, "to": format!("station:{station}"),
        });
        let rest = match self.base {
            Base::Raw => return self.patch.clone(),
            Base::Announce => serde_json::json!({"cmd": "announce", "priority": "normal",
                "zones": "all", "text": "Họp dân lúc 8 giờ"}),
            Base::Stop => serde_json::json!({"cmd": "stop", "target": "all"}),
            Base::Reload => serde_json::json!({"cmd": "reload"}),
        };
        let patch: Value = serde_json::from_str(&self.patch)
            .unwrap_or_else(|e| panic!("tests/corpus/remote.tsv: bad patch {}: {e}", self.patch));
        let mut body = head;
        for (k, v) in rest
            .as_object()
            .into_iter()
            .flatten()
            .chain(patch.as_object().expect("a patch is an object"))
        {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body.to_string()
    }

    /// The topic leaf (`P/cmd/<leaf>`) the command goes on: its own `cmd`.
    pub fn leaf(&self) -> &'static str {
        match self.base {
            Base::Stop => "stop",
            Base::Reload => "reload",
            Base::Announce | Base::Raw => "announce",
        }
    }
}

fn expand(s: &str) -> String {
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let zones = format!("[{}]", vec!["\"z\""; 1001].join(","));
    s.replace("{HUGE}", &"x".repeat(60_000))
        .replace("{TEXT2001}", &"a".repeat(2001))
        .replace("{DEEP}", &deep)
        .replace("{ZONES1001}", &zones)
}

fn rows(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split('\t').collect())
}

/// tests/corpus/control.tsv.
pub fn control() -> Vec<ControlCase> {
    rows(include_str!("../corpus/control.tsv"))
        .map(|f| {
            assert_eq!(f.len(), 3, "tests/corpus/control.tsv: {f:?}");
            ControlCase {
                code: f[0].into(),
                needle: f[1].into(),
                line: expand(f[2]),
            }
        })
        .collect()
}

/// tests/corpus/remote.tsv.
pub fn remote() -> Vec<RemoteCase> {
    rows(include_str!("../corpus/remote.tsv"))
        .map(|f| {
            assert_eq!(f.len(), 4, "tests/corpus/remote.tsv: {f:?}");
            let base = match f[2] {
                "announce" => Base::Announce,
                "stop" => Base::Stop,
                "reload" => Base::Reload,
                "raw" => Base::Raw,
                other => panic!("tests/corpus/remote.tsv: unknown base {other}"),
            };
            RemoteCase {
                code: f[0].into(),
                needle: f[1].into(),
                base,
                patch: expand(f[3]),
            }
        })
        .collect()
}

/// The start of a case, for a failing test's message.
pub fn brief(s: &str) -> String {
    s.chars().take(120).collect()
}
