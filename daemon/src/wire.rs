//! What arrives from outside the station (a control-socket request, the body
//! of a signed remote command) becomes typed values here before anything
//! reads it: bounded numbers, texts with their limits, priorities and zone
//! lists, and one way to turn JSON into a typed request whose refusal names
//! the field and what it allows, on one line.
//!
//! Nothing downstream re-checks a field's type or range: a value of these
//! types is in range by construction, so no arithmetic on it can overflow.

use std::fmt;
use std::time::Duration;

use loa_schedules::Priority;
use serde::de::{self, Deserialize, Deserializer, Unexpected, Visitor};
use serde_json::Value;

use crate::outside;

/// A refusal quotes at most this many characters of what was sent, so that
/// a huge field gives a short answer.
const QUOTE_CHARS: usize = 40;
/// A refusal's reason is at most this long (serde quotes values it refuses).
const REASON_CHARS: usize = 300;

/// `json` as a `T`. The reason of a refusal is one line: `not JSON: ...`, or
/// the field's name in backquotes and what is wrong with it.
#[cfg(test)]
pub fn parse<T: de::DeserializeOwned>(json: &str) -> Result<T, String> {
    let value: Value = serde_json::from_str(json).map_err(|e| short(format!("not JSON: {e}")))?;
    from_value(&value)
}

/// `value` as a `T`, refused as [`parse`] refuses.
pub fn from_value<'a, T: Deserialize<'a>>(value: &'a Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde names an unknown or missing field itself; any other path is
        // quoted short (it may hold a name as sent).
        let named = inner.starts_with("unknown field") || inner.starts_with("missing field");
        short(if path == "." || named {
            inner
        } else {
            format!("`{}`: {inner}", quote(&path))
        })
    })
}

fn short(reason: String) -> String {
    if reason.chars().count() <= REASON_CHARS {
        return reason;
    }
    let mut s: String = reason.chars().take(REASON_CHARS).collect();
    s.push('…');
    s
}

/// What was sent, for a refusal: visible and cut short.
fn quote(s: &str) -> String {
    let mut q: String = s.chars().take(QUOTE_CHARS).collect();
    if s.chars().count() > QUOTE_CHARS {
        q.push('…');
    }
    outside::visible(&q).to_string()
}

/// A whole number from `LO` to `HI` (a JSON integer; `3.0`, `"3"` and
/// anything out of range are refused with the range).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Whole<const LO: u64, const HI: u64>(u64);

impl<const LO: u64, const HI: u64> Whole<LO, HI> {
    pub fn get(self) -> u64 {
        self.0
    }
}

impl<'de, const LO: u64, const HI: u64> Deserialize<'de> for Whole<LO, HI> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<const LO: u64, const HI: u64>;
        impl<const LO: u64, const HI: u64> Visitor<'_> for V<LO, HI> {
            type Value = Whole<LO, HI>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a whole number from {LO} to {HI}")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                if (LO..=HI).contains(&v) {
                    Ok(Whole(v))
                } else {
                    Err(E::invalid_value(Unexpected::Unsigned(v), &self))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                match u64::try_from(v) {
                    Ok(u) => self.visit_u64(u),
                    Err(_) => Err(E::invalid_value(Unexpected::Signed(v), &self)),
                }
            }
        }
        d.deserialize_any(V::<LO, HI>)
    }
}

/// A Unix time in whole seconds: any 64-bit integer (comparisons with it
/// are made without overflow).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnixTime(pub i64);

impl<'de> Deserialize<'de> for UnixTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = UnixTime;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Unix time in whole seconds (a 64-bit integer)")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<UnixTime, E> {
                Ok(UnixTime(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<UnixTime, E> {
                i64::try_from(v)
                    .map(UnixTime)
                    .map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

/// How long a stream relays: a whole number of seconds or a duration such
/// as `15m`, from 1 s to `MAX_SECS` seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Length<const MAX_SECS: u64>(Duration);

impl<const MAX_SECS: u64> Length<MAX_SECS> {
    pub fn get(self) -> Duration {
        self.0
    }

    fn check<E: de::Error>(d: Duration) -> Result<Self, E> {
        if d < Duration::from_secs(1) {
            return Err(E::custom("must be at least 1 s"));
        }
        if d > Duration::from_secs(MAX_SECS) {
            return Err(E::custom(format!(
                "is {} s; at most {MAX_SECS} s ({}) are allowed",
                d.as_secs(),
                loa_schedules::format_duration(Duration::from_secs(MAX_SECS))
            )));
        }
        Ok(Length(d))
    }
}

impl<'de, const MAX_SECS: u64> Deserialize<'de> for Length<MAX_SECS> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<const MAX_SECS: u64>;
        impl<const MAX_SECS: u64> Visitor<'_> for V<MAX_SECS> {
            type Value = Length<MAX_SECS>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "a positive number of seconds (at most {MAX_SECS}) or a duration such as 15m"
                )
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                if v > MAX_SECS {
                    return Err(E::invalid_value(Unexpected::Unsigned(v), &self));
                }
                Length::check(Duration::from_secs(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                match u64::try_from(v) {
                    Ok(u) => self.visit_u64(u),
                    Err(_) => Err(E::invalid_value(Unexpected::Signed(v), &self)),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                if v.len() > 32 {
                    return Err(E::custom(format!(
                        "`{}` is not a duration such as 15m",
                        quote(v)
                    )));
                }
                let d = loa_schedules::parse_duration(v).map_err(|_| {
                    E::custom(format!("`{}` is not a duration such as 15m", quote(v)))
                })?;
                Length::check(d)
            }
        }
        d.deserialize_any(V::<MAX_SECS>)
    }
}

/// A JSON string of at most `MAX` bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bounded<const MAX: usize>(pub String);

impl<'de, const MAX: usize> Deserialize<'de> for Bounded<MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.len() > MAX {
            return Err(de::Error::custom(format!(
                "is {} bytes long; at most {MAX} are allowed",
                s.len()
            )));
        }
        Ok(Bounded(s))
    }
}

/// A text for the TTS engine: trimmed, at most [`SpokenText::MAX_CHARS`]
/// characters with at least one letter or digit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpokenText(pub String);

impl SpokenText {
    /// A text is spoken whole or not at all (the TTS limit of SPEC section 2).
    pub const MAX_CHARS: usize = 2000;
}

impl<'de> Deserialize<'de> for SpokenText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let t = s.trim();
        if !outside::speakable(t) {
            return Err(de::Error::custom(
                "has nothing to speak (no letter or digit, only spaces, punctuation or invisible characters)",
            ));
        }
        let n = t.chars().count();
        if n > Self::MAX_CHARS {
            return Err(de::Error::custom(format!(
                "is {n} characters long; at most 2,000 are spoken: split it"
            )));
        }
        Ok(SpokenText(t.to_string()))
    }
}

/// A TTS voice's name as the engine's command line takes it
/// ([`loa_core::Voice::valid_name`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VoiceName(pub String);

impl<'de> Deserialize<'de> for VoiceName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if loa_core::Voice::valid_name(&s) {
            Ok(VoiceName(s))
        } else {
            Err(de::Error::custom(format!(
                "`{}` is not a voice name: A-Z, a-z, 0-9 and _.+- only, not beginning with - (e.g. vi-vn-x-south)",
                outside::visible(&s)
            )))
        }
    }
}

/// A priority level by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Level(pub Priority);

impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Level;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("one of filler, normal, priority, emergency")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Level, E> {
                Priority::parse(v).map(Level).ok_or_else(|| {
                    E::custom(format!(
                        "`{}` is not one of filler, normal, priority, emergency",
                        quote(v)
                    ))
                })
            }
        }
        d.deserialize_str(V)
    }
}

/// `"all"` or a list of zone ids (at most [`Zones::MAX`], each at most 64
/// bytes: station.yaml's ids are short words).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Zones {
    All,
    List(Vec<String>),
}

impl Zones {
    /// A group command may name the zones of many stations.
    pub const MAX: usize = 1000;
    const ID_BYTES: usize = 64;
}

impl<'de> Deserialize<'de> for Zones {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Zones;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"all\" or a list of zone ids")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Zones, E> {
                if v == "all" {
                    Ok(Zones::All)
                } else {
                    Err(E::invalid_value(Unexpected::Str(&quote(v)), &self))
                }
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Zones, A::Error> {
                let mut ids = Vec::new();
                while let Some(id) = seq.next_element::<ZoneId>()? {
                    if ids.len() == Zones::MAX {
                        return Err(de::Error::custom(format!(
                            "lists more than {} zones",
                            Zones::MAX
                        )));
                    }
                    ids.push(id.0);
                }
                Ok(Zones::List(ids))
            }
        }
        d.deserialize_any(V)
    }
}

struct ZoneId(String);

impl<'de> Deserialize<'de> for ZoneId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ZoneId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a zone id")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ZoneId, E> {
                if v.is_empty() || v.len() > Zones::ID_BYTES {
                    return Err(E::custom(format!(
                        "zone id `{}` is not 1 to {} bytes long",
                        quote(v),
                        Zones::ID_BYTES
                    )));
                }
                Ok(ZoneId(v.to_string()))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        repeat: Option<Whole<1, 10>>,
        duration: Option<Length<14400>>,
        ts: Option<UnixTime>,
        zones: Option<Zones>,
        priority: Option<Level>,
        text: Option<SpokenText>,
    }

    fn refusal(json: &str) -> String {
        parse::<Sample>(json).unwrap_err()
    }

    #[test]
    fn an_unknown_field_is_named_once() {
        assert_eq!(
            refusal(r#"{"zone": ["a"]}"#),
            "unknown field `zone`, expected one of `repeat`, `duration`, `ts`, `zones`, `priority`, `text`"
        );
    }

    #[test]
    fn every_refusal_names_its_field_and_what_it_allows_on_one_line() {
        for (json, needle) in [
            (r#"{"repeat": 11}"#, "`repeat`: invalid value: integer `11`, expected a whole number from 1 to 10"),
            (r#"{"repeat": 0}"#, "from 1 to 10"),
            (r#"{"repeat": -1}"#, "`repeat`: invalid value: integer `-1`"),
            (r#"{"repeat": 3.0}"#, "`repeat`: invalid type: floating point `3.0`, expected a whole number from 1 to 10"),
            (r#"{"repeat": 1e300}"#, "`repeat`: invalid type: floating point"),
            (r#"{"repeat": 18446744073709551616}"#, "`repeat`: invalid type: floating point"),
            (r#"{"repeat": "2"}"#, "`repeat`: invalid type: string \"2\""),
            (r#"{"repeat": [1]}"#, "`repeat`: invalid type: sequence"),
            (r#"{"duration": 0}"#, "`duration`: must be at least 1 s"),
            (r#"{"duration": "10ms"}"#, "`duration`: must be at least 1 s"),
            (r#"{"duration": 14401}"#, "at most 14400"),
            (r#"{"duration": "4h1m"}"#, "`duration`: is 14460 s; at most 14400 s (4h) are allowed"),
            (r#"{"duration": "99999999999999999999h"}"#, "`duration`"),
            (r#"{"duration": -5}"#, "`duration`: invalid value: integer `-5`"),
            (r#"{"ts": 9223372036854775808}"#, "`ts`: invalid value"),
            (r#"{"ts": 1.5}"#, "`ts`: invalid type: floating point"),
            (r#"{"zones": "some"}"#, "`zones`: invalid value: string \"some\", expected \"all\" or a list of zone ids"),
            (r#"{"zones": [1]}"#, "`zones[0]`: invalid type: integer `1`, expected a zone id"),
            (r#"{"zones": {"a": 1}}"#, "`zones`: invalid type: map"),
            (r#"{"priority": "urgent"}"#, "`priority`: `urgent` is not one of filler, normal, priority, emergency"),
            (r#"{"priority": 3}"#, "`priority`: invalid type: integer `3`, expected one of filler"),
            (r#"{"text": " . "}"#, "`text`: has nothing to speak"),
            (r#"{"zone": ["a"]}"#, "unknown field `zone`, expected one of `repeat`"),
            ("{\"repeat\": 1", "not JSON: EOF while parsing"),
        ] {
            let r = refusal(json);
            assert!(r.contains(needle), "{json}: {r}");
            assert!(!r.contains('\n'), "{json}: {r}");
        }
    }

    #[test]
    fn huge_values_give_short_refusals() {
        let huge = "x".repeat(60_000);
        for json in [
            format!(r#"{{"priority": "{huge}"}}"#),
            format!(r#"{{"zones": "{huge}"}}"#),
            format!(r#"{{"zones": ["{huge}"]}}"#),
            format!(r#"{{"duration": "{huge}"}}"#),
            format!(r#"{{"text": "{}"}}"#, "a".repeat(2001)),
            format!(r#"{{"{huge}": 1}}"#),
            format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000)),
        ] {
            let r = refusal(&json);
            assert!(r.chars().count() <= REASON_CHARS + 1, "{r}");
        }
        let many = format!(r#"{{"zones": [{}]}}"#, vec!["\"z\""; 1001].join(","));
        assert!(refusal(&many).contains("more than 1000 zones"));
    }

    #[test]
    fn values_in_range_are_read() {
        let s: Sample = parse(
            r#"{"repeat": 10, "duration": "15m", "ts": -9223372036854775808, "zones": ["a", "b"],
                "priority": "emergency", "text": "  Họp dân  "}"#,
        )
        .unwrap();
        assert_eq!(s.repeat.unwrap().get(), 10);
        assert_eq!(s.duration.unwrap().get(), Duration::from_secs(900));
        assert_eq!(s.ts, Some(UnixTime(i64::MIN)));
        assert_eq!(s.zones, Some(Zones::List(vec!["a".into(), "b".into()])));
        assert_eq!(s.priority, Some(Level(Priority::Emergency)));
        assert_eq!(s.text.unwrap().0, "Họp dân");
        let s: Sample = parse(r#"{"duration": 14400, "zones": "all", "repeat": null}"#).unwrap();
        assert_eq!(s.duration.unwrap().get(), Duration::from_secs(14400));
        assert_eq!((s.zones, s.repeat), (Some(Zones::All), None));
    }
}
