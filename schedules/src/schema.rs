//! JSON Schema of station.yaml and of schedule files, for editors: with
//! yaml-language-server, the operator sees mistakes and completions as they
//! type. The key lists are the loader's own (a test keeps them in step).

use serde_json::{json, Value};

use crate::holidays::Holiday;

const ID: &str = "^[a-z0-9-]{1,64}$";
const DURATION: &str = "^([0-9]+(\\.[0-9]+)?(ms|s|m|min|h|d))+$";
const TIME: &str = "^([01]?[0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$";
const WINDOW: &str = "^([01]?[0-9]|2[0-3]):[0-5][0-9]-([01]?[0-9]|2[0-3]):[0-5][0-9]$";
const DATE: &str = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$";
const LUNAR: &str = "^([1-9]|[12][0-9]|30)(/([1-9]|1[0-2])( (nhuận|nhuan|Nhuận|Nhuan))?)?$";

fn obj(props: Value, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": props,
        "required": required,
    })
}

fn s(pattern: &str, desc: &str) -> Value {
    json!({"type": "string", "pattern": pattern, "description": desc})
}

fn text(desc: &str) -> Value {
    json!({"type": "string", "description": desc})
}

fn one_of_words(words: &[&str], desc: &str) -> Value {
    json!({"enum": words, "description": desc})
}

fn ids_or_all(desc: &str) -> Value {
    json!({"description": desc, "oneOf": [
        {"const": "all"},
        {"type": "array", "items": {"type": "string", "pattern": ID}, "minItems": 1}
    ]})
}

fn dates() -> Value {
    obj(
        json!({"from": s(DATE, "first day, YYYY-MM-DD"), "until": s(DATE, "last day, YYYY-MM-DD (inclusive)")}),
        &[],
    )
}

/// A lunar date: `15/8`, `15/8 nhuận` (the leap month), `15` (every month).
fn lunar_date(desc: &str) -> Value {
    obj(
        json!({"lunar": {"description": desc, "oneOf": [
            {"type": "string", "pattern": LUNAR},
            {"type": "integer", "minimum": 1, "maximum": 30},
        ]}}),
        &["lunar"],
    )
}

/// The days of `on` and `except`: dates, holidays, lunar dates.
fn day_list(desc: &str) -> Value {
    let mut words: Vec<&str> = Holiday::ALL.iter().map(|h| h.id()).collect();
    words.push(Holiday::ALL_WORD);
    let day = json!({"oneOf": [
        s(DATE, "a date, YYYY-MM-DD"),
        one_of_words(&words, "a public holiday (its days off), or holidays for them all"),
        lunar_date("a lunar date (âm lịch), every year: 15/8, 15/8 nhuận for the leap month, or 15 for every month"),
    ]});
    json!({"description": desc, "oneOf": [
        {"type": "array", "items": day.clone(), "minItems": 1},
        day,
    ]})
}

/// A program's `dates`: solar, or lunar (every lunar year).
fn program_dates() -> Value {
    json!({"oneOf": [
        dates(),
        obj(json!({
            "from": lunar_date("first lunar day of the window, e.g. 23/12"),
            "until": lunar_date("last lunar day of the window, e.g. 7/1 (the window may run across Tết)"),
        }), &["from", "until"]),
    ]})
}

fn days() -> Value {
    json!({"type": "array", "description": "weekdays", "items": {"enum": ["mon","tue","wed","thu","fri","sat","sun"]}, "minItems": 1})
}

/// The schema of station.yaml.
pub fn station_schema() -> Value {
    let relay_msg = obj(
        json!({"topic": text("MQTT topic"), "payload": text("payload")}),
        &["topic", "payload"],
    );
    let zone = obj(
        json!({
            "name": text("display name, e.g. Thôn 1"),
            "output": s(ID, "the output that feeds this zone"),
            "relay": obj(json!({
                "preset": one_of_words(&["tasmota","shelly","esphome","custom"], "relay device kind"),
                "topic": text("the device's MQTT topic or prefix"),
                "channel": {"description": "relay number (tasmota, shelly) or switch id (esphome)", "type": ["integer","string"]},
                "switch_on": relay_msg.clone(),
                "switch_off": relay_msg.clone(),
                "renew": relay_msg,
                "lease": s(DURATION, "dead-man lease: the device switches itself off unless Loa renews it (3s to 18h, default 2m)"),
            }), &["preset"]),
            "receiver": s(ID, "an IP cluster receiver (loa-rx/<id>) that plays this zone's icecast:// output; not with relay"),
            "volume": {"type": "number", "minimum": 0, "maximum": 1, "description": "the receiver's gain, 0..1 (default 1); only with receiver"},
            "preroll": s(DURATION, "switch on this long before the first sound (default 2s)"),
            "hold": s(DURATION, "keep on this long after the last sound (default 10s)"),
        }),
        &[],
    );
    let board = obj(
        json!({
            "name": text("display name"),
            "preset": one_of_words(&["awtrix","wled","tasmota","text","json"], "LED board firmware"),
            "topic": text("device topic or prefix"),
            "charset": one_of_words(&["utf8","ascii"], "ascii folds Vietnamese (đ -> d, marks dropped)"),
            "show_now_playing": {"type": "boolean"},
        }),
        &["preset", "topic"],
    );
    let key = obj(
        json!({
            "public_key": text("base64 of the 32-byte Ed25519 public key (from `loa keygen`)"),
            "may": {"type": "array", "items": {"enum": ["filler","normal","priority","emergency","stop","reload"]}},
            "zones": ids_or_all("zones this key may address"),
        }),
        &["public_key", "may"],
    );
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://loa.invalid/schema/station.json",
        "title": "Loa station.yaml",
        "type": "object",
        "additionalProperties": false,
        "required": ["station", "outputs", "zones"],
        "properties": {
            "station": obj(json!({
                "id": s("^[a-z0-9-]{1,40}$", "used in MQTT topics"),
                "name": text("the station's name"),
                "timezone": text("IANA time zone, e.g. Asia/Ho_Chi_Minh"),
            }), &["id", "name", "timezone"]),
            "paths": obj(json!({"media": text("media directory"), "state": text("state directory")}), &[]),
            "outputs": {"type": "object", "minProperties": 1,
                "additionalProperties": s(
                    "^(null|device:.+|wav:.+|icecasts?://.+)$",
                    "device:NAME, wav:PATH, null or icecast://USER@HOST:PORT/MOUNT?password_file=PATH",
                )},
            "zones": {"type": "object", "minProperties": 1, "additionalProperties": zone},
            "boards": {"type": "object", "additionalProperties": board},
            "mqtt": obj(json!({
                "url": s("^mqtts?://", "mqtt://host:port or mqtts://host:port"),
                "client_id": text("default loa-<station id>"),
                "username": text("broker user"),
                "password_file": text("file holding the password"),
                "ca_file": {"type": ["string", "null"]},
                "prefix": text("default loa/<station id>"),
                "groups": {"type": "array", "items": {"type": "string", "pattern": ID}},
                "homeassistant": {"type": "boolean"},
            }), &["url"]),
            "policy": obj(json!({
                "quiet_hours": s(WINDOW, "only emergency may sound then, e.g. 21:30-05:00"),
                "max_session": s(DURATION, "warn about programs longer than this"),
                "live_limit": s(DURATION, "a live microphone session (loa now --live) open this long is closed; default 30m"),
                "volume": {"type": "number", "minimum": 0, "maximum": 1},
                "chime": text("builtin or an audio path"),
                "loudness": {"type": ["number", "null"], "description": "target LUFS, e.g. -16; null = off"},
                "late_start": one_of_words(&["join","restart","skip"], "programs found in progress at start-up"),
                "silence": obj(json!({"below": text("e.g. -50dB"), "for": s(DURATION, "e.g. 10s")}), &[]),
            }), &[]),
            "tts": obj(json!({
                "command": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "voice": s("^[A-Za-z0-9_.+][A-Za-z0-9_.+-]{0,63}$", "default voice: vi (northern), vi-vn-x-central, vi-vn-x-south"),
                "rate": {"type": "integer", "minimum": 80, "maximum": 450, "description": "words per minute, default 150"},
                "pitch": {"type": "integer", "minimum": 0, "maximum": 99, "description": "default 50"},
                "timeout": s(DURATION, "e.g. 30s"),
                "numbers": one_of_words(&["northern", "southern"], "105: một trăm linh năm (northern) or lẻ năm (southern); nghìn or ngàn"),
                "lexicon": text("file of the station's abbreviations, one `ABBR = reading` per line"),
            }), &[]),
            "remote": obj(json!({
                "max_skew": s(DURATION, "accepted clock difference, e.g. 120s"),
                "rate_limit": s("^[0-9]+/(s|sec|m|min|h|hour)$", "e.g. 10/min"),
                "keys": {"type": "object", "additionalProperties": key},
            }), &[]),
            "calendar": calendar(),
        }
    })
}

/// station.yaml's `calendar`.
fn calendar() -> Value {
    let off = obj(
        json!({"from": s(DATE, "first day off, YYYY-MM-DD"), "until": s(DATE, "last day off (inclusive)")}),
        &["from", "until"],
    );
    let by_year = json!({
        "type": "object",
        "description": "the year of the holiday's own day -> its days off as announced",
        "propertyNames": {"pattern": "^(19|20|21)[0-9]{2}$"},
        "additionalProperties": off,
    });
    let holidays: serde_json::Map<String, Value> = Holiday::ALL
        .iter()
        .map(|h| (h.id().to_string(), by_year.clone()))
        .collect();
    obj(
        json!({
            "holidays": one_of_words(&["vn", "none"], "vn (default): programs may name Vietnam's public holidays; none: they may not"),
            "days_off": {
                "type": "object",
                "additionalProperties": false,
                "description": "the days off the government announces, by holiday and year",
                "properties": holidays,
            },
        }),
        &[],
    )
}

/// The schema of a schedule file.
pub fn schedule_schema() -> Value {
    let path_or_list =
        json!({"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]});
    let url = s(
        "^https?://[^\\s]+$",
        "HLS (.m3u8), Icecast/Shoutcast, or .m3u/.pls over http(s)",
    );
    let stream = json!({
        "description": "the relay's source, or several tried in order when the one airing dies",
        "oneOf": [url, {"type": "array", "items": url, "minItems": 1, "uniqueItems": true}],
    });
    let one_source: Vec<Value> = [
        "file", "newest", "playlist", "tts", "stream", "live", "silence", "tone",
    ]
    .iter()
    .map(|k| json!({"required": [k]}))
    .collect();
    let item = json!({
        "type": "object",
        "additionalProperties": false,
        "minProperties": 1,
        "properties": {
            "file": text("audio file under the media directory"),
            "newest": text("glob: the matching file with the newest mtime"),
            "max_age": s(DURATION, "with newest: an older file fails the item"),
            "playlist": path_or_list.clone(),
            "order": one_of_words(&["sequential", "shuffle"], "playlist order"),
            "tts": text("text read by the TTS engine"),
            "voice": s("^[A-Za-z0-9_.+][A-Za-z0-9_.+-]{0,63}$", "with tts: the voice, e.g. vi-vn-x-south"),
            "rate": {"type": "integer", "minimum": 80, "maximum": 450, "description": "with tts: words per minute"},
            "pitch": {"type": "integer", "minimum": 0, "maximum": 99, "description": "with tts: pitch"},
            "stream": stream,
            "bandwidth": {
                "description": "with stream: from an HLS master playlist, the lowest rendition at or above this many bits per second, e.g. 64000 or 64k",
                "oneOf": [{"type": "integer", "minimum": 1000}, {"type": "string", "pattern": "^[0-9]+[kK]$"}],
            },
            "fallback": path_or_list,
            "live": {"oneOf": [{"type": "null"}, {"type": "string"}, obj(json!({"input": text("capture device")}), &[])]},
            "silence": s(DURATION, "e.g. 2s"),
            "tone": obj(json!({"hz": {"type": "number", "minimum": 20, "maximum": 20000}, "for": s(DURATION, "e.g. 1s")}), &["hz", "for"]),
        },
        "oneOf": one_source,
    });
    let program = obj(
        json!({
            "id": s(ID, "unique across all files"),
            "title": text("shown on boards and in the log book"),
            "category": text("news, relay, music, announcement, ident, live, education..."),
            "at": s(TIME, "local start time HH:MM[:SS]"),
            "days": days(),
            "cron": text("sec min hour day month weekday (or the classic five fields)"),
            "dates": program_dates(),
            "on": day_list("the only days it airs: dates, holidays (tet, quoc-khanh...), lunar dates"),
            "except": day_list("days it does not air: dates, holidays (holidays = all of them), lunar dates"),
            "zones": ids_or_all("zones that hear it"),
            "priority": one_of_words(&["filler","normal","priority","emergency"], "default normal"),
            "duration": s(DURATION, "hard end of the window"),
            "if_busy": s("^(preempt|skip|wait( .+)?)$", "preempt | skip | wait DURATION"),
            "late_start": one_of_words(&["join","restart","skip"], "overrides policy.late_start"),
            "volume": {"type": "number", "minimum": 0, "maximum": 2},
            "loop": {"type": "boolean"},
            "approved_by": text("printed in the log book"),
            "items": {"type": "array", "minItems": 1, "items": item},
        }),
        &["id", "zones", "items"],
    );
    let slogan = obj(
        json!({
            "id": s(ID, "unique"),
            "boards": ids_or_all("boards that show it"),
            "text": text("the slogan"),
            "between": s(WINDOW, "daily window, e.g. 06:00-21:00"),
            "days": days(),
            "dates": dates(),
            "every": s(DURATION, "show again this often"),
            "color": s("^#[0-9A-Fa-f]{6}$", "#RRGGBB"),
        }),
        &["id", "boards", "text"],
    );
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://loa.invalid/schema/schedule.json",
        "title": "Loa schedule file",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "programs": {"type": "array", "items": program},
            "slogans": {"type": "array", "items": slogan},
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(v: &Value) -> Vec<String> {
        let mut k: Vec<String> = v["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        k.sort();
        k
    }

    fn sorted(k: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = k.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    }

    #[test]
    fn schema_keys_match_the_loader() {
        let st = station_schema();
        assert_eq!(keys(&st), sorted(crate::load::STATION_FILE_KEYS));
        assert_eq!(
            keys(&st["properties"]["zones"]["additionalProperties"]),
            sorted(crate::load::ZONE_KEYS)
        );
        assert_eq!(
            keys(&st["properties"]["boards"]["additionalProperties"]),
            sorted(crate::load::BOARD_KEYS)
        );
        let calendar = &st["properties"]["calendar"];
        assert_eq!(keys(calendar), sorted(crate::load::CALENDAR_KEYS));
        let holidays: Vec<&str> = Holiday::ALL.iter().map(|h| h.id()).collect();
        let days_off = &calendar["properties"]["days_off"];
        assert_eq!(keys(days_off), sorted(&holidays));
        assert_eq!(
            keys(&days_off["properties"]["tet"]["additionalProperties"]),
            sorted(crate::load::DAYS_OFF_KEYS)
        );
        let sc = schedule_schema();
        let program = &sc["properties"]["programs"]["items"];
        assert_eq!(keys(program), sorted(crate::load::PROGRAM_KEYS));
        assert_eq!(
            keys(&program["properties"]["items"]["items"]),
            sorted(crate::load::ITEM_KEYS)
        );
        assert_eq!(
            keys(&sc["properties"]["slogans"]["items"]),
            sorted(crate::load::SLOGAN_KEYS)
        );
    }
}
