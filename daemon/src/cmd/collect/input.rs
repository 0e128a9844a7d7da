//! What stations send, typed and bounded before it reaches the database:
//! the topic's station id, an airtime row (SPEC 7, as
//! runtime/airtime/outbox.rs publishes it) and a status document (SPEC 6).
//! Anything else is a [`Refusal`] with its reason.

use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use serde::Deserialize;

/// The longest text a column takes (a TTS text is at most 2,000
/// characters; a file path or URL 4,096 bytes).
pub const MAX_TEXT: usize = 16 * 1024;

/// How far ahead of the collector's clock a row may have started (clocks
/// differ; a row days ahead is a station with a wrong clock or a forgery).
pub const FUTURE: TimeDelta = TimeDelta::hours(1);

/// What a message is about, from its topic `<root>/<station>/<kind>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Topic {
    Airtime(String),
    Status(String),
}

/// Why a message was not stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The station it claims to be from ("?" when the topic has none).
    pub station: String,
    pub reason: String,
}

/// A station id as station.yaml allows it: 1 to 40 of `[a-z0-9-]`.
pub fn valid_station(s: &str) -> bool {
    (1..=40).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The station and kind of a topic `<root>/<station>/airtime|status`.
pub fn topic(t: &str, stations: &[String]) -> Result<Topic, Refusal> {
    let parts: Vec<&str> = t.split('/').collect();
    let refuse = |station: &str, reason: String| Refusal {
        station: station.to_string(),
        reason,
    };
    let [_, station, kind] = parts.as_slice() else {
        return Err(refuse("?", format!("unexpected topic `{}`", clip(t))));
    };
    if !valid_station(station) {
        return Err(refuse(
            "?",
            format!(
                "station id `{}` is not 1 to 40 of a-z, 0-9, -",
                clip(station)
            ),
        ));
    }
    if !stations.is_empty() && !stations.iter().any(|p| station.starts_with(p.as_str())) {
        return Err(refuse(station, "station not among `stations`".into()));
    }
    match *kind {
        "airtime" => Ok(Topic::Airtime(station.to_string())),
        "status" => Ok(Topic::Status(station.to_string())),
        k => Err(refuse(
            station,
            format!("unexpected topic kind `{}`", clip(k)),
        )),
    }
}

/// At most 40 characters of something sent, for a log line.
pub fn clip(s: &str) -> String {
    let mut o: String = s
        .chars()
        .take(40)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if s.chars().count() > 40 {
        o.push('…');
    }
    o
}

/// One airtime row as stations publish it (every column of SPEC 7).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Row {
    pub id: i64,
    pub program_id: Option<String>,
    pub title: String,
    pub category: String,
    pub source_kind: String,
    pub source: String,
    pub trigger: String,
    pub requested_by: Option<String>,
    pub priority: String,
    pub zones: String,
    pub scheduled_at: Option<String>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub planned_ms: i64,
    pub aired_ms: i64,
    pub outcome: String,
    pub detail: Option<String>,
}

const OUTCOMES: [&str; 7] = [
    "airing",
    "completed",
    "cut",
    "preempted",
    "failed",
    "skipped",
    "interrupted",
];

fn time(field: &str, s: &str) -> Result<DateTime<FixedOffset>, String> {
    DateTime::parse_from_rfc3339(s)
        .map_err(|_| format!("`{field}` is not an RFC 3339 time: `{}`", clip(s)))
}

/// The row in `payload`, checked: types, bounds, times, no NUL (which
/// PostgreSQL text cannot hold), not from the future.
pub fn row(payload: &[u8], now: DateTime<Utc>) -> Result<Row, String> {
    let r: Row = serde_json::from_slice(payload).map_err(|e| {
        let mut m = e.to_string();
        m.truncate(200);
        format!("not an airtime row: {m}")
    })?;
    if r.id < 1 {
        return Err(format!("`id` {} is not a row id", r.id));
    }
    let texts = [
        ("program_id", r.program_id.as_deref()),
        ("title", Some(r.title.as_str())),
        ("category", Some(r.category.as_str())),
        ("source_kind", Some(r.source_kind.as_str())),
        ("source", Some(r.source.as_str())),
        ("trigger", Some(r.trigger.as_str())),
        ("requested_by", r.requested_by.as_deref()),
        ("priority", Some(r.priority.as_str())),
        ("zones", Some(r.zones.as_str())),
        ("detail", r.detail.as_deref()),
    ];
    for (field, v) in texts {
        let Some(v) = v else { continue };
        if v.len() > MAX_TEXT {
            return Err(format!(
                "`{field}` is {} bytes (at most {MAX_TEXT})",
                v.len()
            ));
        }
        if v.contains('\0') {
            return Err(format!("`{field}` holds a NUL character"));
        }
    }
    if !OUTCOMES.contains(&r.outcome.as_str()) {
        return Err(format!(
            "`outcome` `{}` is none of SPEC 7's",
            clip(&r.outcome)
        ));
    }
    if r.planned_ms < 0 || r.aired_ms < 0 {
        return Err("`planned_ms` and `aired_ms` must not be negative".into());
    }
    let started = time("started_at", &r.started_at)?;
    for (field, v) in [("scheduled_at", &r.scheduled_at), ("ended_at", &r.ended_at)] {
        if let Some(v) = v {
            time(field, v)?;
        }
    }
    if started.with_timezone(&Utc) > now + FUTURE {
        return Err(format!(
            "a row from the future (started_at {})",
            r.started_at
        ));
    }
    Ok(r)
}

/// What the collector keeps of a status document.
#[derive(Clone, Debug, PartialEq)]
pub struct Status {
    /// online or offline.
    pub state: String,
    pub version: Option<String>,
    /// `{"zone": "on"|"off"|"fault"}` as sent.
    pub zones: Option<serde_json::Value>,
    pub outputs: Option<serde_json::Value>,
    /// The last configuration load or reload (`config`).
    pub config: Option<serde_json::Value>,
    /// Zone ids reported `fault`.
    pub zone_faults: Vec<String>,
}

/// The status document in `payload`, checked.
pub fn status(payload: &[u8]) -> Result<Status, String> {
    let v: serde_json::Value =
        serde_json::from_slice(payload).map_err(|e| format!("status is not JSON: {e}"))?;
    let Some(o) = v.as_object() else {
        return Err("status is not a JSON object".into());
    };
    let state = match o.get("state").and_then(|s| s.as_str()) {
        Some(s @ ("online" | "offline")) => s.to_string(),
        _ => return Err("status `state` is not \"online\" or \"offline\"".into()),
    };
    if payload.contains(&0) || v.to_string().contains("\\u0000") {
        return Err("status holds a NUL character".into());
    }
    let version = match o.get("version") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) if s.len() <= 100 => Some(s.clone()),
        Some(_) => return Err("status `version` is not a short text".into()),
    };
    let zones = o.get("zones").filter(|z| z.is_object()).cloned();
    let zone_faults = zones
        .as_ref()
        .and_then(|z| z.as_object())
        .map(|z| {
            z.iter()
                .filter(|(_, s)| s.as_str() == Some("fault"))
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default();
    Ok(Status {
        state,
        version,
        zones,
        outputs: o.get("outputs").cloned(),
        config: o.get("config").cloned(),
        zone_faults,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: &str = r#"{"id":7,"program_id":"tin-sang","title":"Tin sáng","category":"news",
        "source_kind":"file","source":"news/a.mp3","trigger":"schedule","requested_by":null,
        "priority":"normal","zones":"thon-1,thon-2","scheduled_at":"2026-11-01T06:00:00.000+07:00",
        "started_at":"2026-11-01T06:00:00.000+07:00","ended_at":"2026-11-01T06:10:00.000+07:00",
        "planned_ms":600000,"aired_ms":600000,"outcome":"completed","detail":null}"#;

    fn now() -> DateTime<Utc> {
        "2026-12-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_row_as_stations_send_it() {
        let r = row(ROW.as_bytes(), now()).unwrap();
        assert_eq!(
            (r.id, r.title.as_str(), r.aired_ms),
            (7, "Tin sáng", 600_000)
        );
    }

    #[test]
    fn hostile_rows_are_refused_with_their_reason() {
        let with = |from: &str, to: &str| ROW.replace(from, to);
        let cases = [
            (ROW[..40].to_string(), "not an airtime row"),
            (with("\"id\":7", "\"id\":\"7\""), "not an airtime row"),
            (with("\"id\":7", "\"id\":-1"), "is not a row id"),
            (with("Tin sáng", &"x".repeat(MAX_TEXT + 1)), "`title` is"),
            (with("Tin sáng", "a\\u0000b"), "NUL"),
            (
                with(
                    "\"outcome\":\"completed\"",
                    "\"outcome\":\"x'); DROP TABLE airtime;--\"",
                ),
                "`outcome`",
            ),
            (with("\"aired_ms\":600000", "\"aired_ms\":-5"), "negative"),
            (
                with(
                    "\"started_at\":\"2026-11-01T06:00:00.000+07:00\"",
                    "\"started_at\":\"yesterday\"",
                ),
                "RFC 3339",
            ),
            (
                with(
                    "\"started_at\":\"2026-11-01T06:00:00.000+07:00\"",
                    "\"started_at\":\"2027-01-01T06:00:00.000+07:00\"",
                ),
                "from the future",
            ),
        ];
        for (payload, why) in cases {
            let e = row(payload.as_bytes(), now()).unwrap_err();
            assert!(e.contains(why), "{e} (wanted {why})");
        }
    }

    #[test]
    fn topics_name_a_valid_station() {
        let none: Vec<String> = vec![];
        assert_eq!(
            topic("loa/au-lau/airtime", &none),
            Ok(Topic::Airtime("au-lau".into()))
        );
        assert_eq!(
            topic("loa/au-lau/status", &none),
            Ok(Topic::Status("au-lau".into()))
        );
        assert!(topic("loa/Au Lau/status", &none).is_err());
        assert!(topic("loa/au-lau/cmd", &none).is_err());
        let only = vec!["tuyen-".to_string()];
        assert!(topic("loa/au-lau/status", &only).is_err());
        assert!(topic("loa/tuyen-hoa/status", &only).is_ok());
    }

    #[test]
    fn a_status_with_its_faults() {
        let s = status(br#"{"state":"online","version":"0.1.0","zones":{"a":"on","b":"fault"},"config":{"result":"ok"}}"#).unwrap();
        assert_eq!(s.zone_faults, ["b"]);
        assert_eq!(s.version.as_deref(), Some("0.1.0"));
        assert_eq!(status(br#"{"state":"offline"}"#).unwrap().state, "offline");
        assert!(status(br#"{"state":"sleeping"}"#).is_err());
        assert!(status(b"[1,2]").is_err());
    }
}
