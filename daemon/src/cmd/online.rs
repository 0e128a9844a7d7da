//! `loa check --online` and `loa doctor`: every relay source of the
//! configuration fetched once (`loa_audio::stream::probe`), a few at a time,
//! so that an operator sees what a relay would find without waiting for its
//! hour: a source that moved, a port that closed, a codec that changed.
//!
//! A dead source is a warning, not an error: the relay tries the next
//! source and airs its fallback meanwhile (SPEC section 4).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use loa_audio::stream::SourceReport;
use loa_schedules::{Config, Loc, Source};

/// How long one source may take to give its first audio.
pub const TIMEOUT: Duration = Duration::from_secs(15);
/// Sources fetched at the same time: enough to finish a station's handful
/// of relays quickly, few enough not to look like a flood to a server.
const AT_ONCE: usize = 4;

/// One source of one relay item: `program` item `item` source `number`
/// (both counted from 1, as an operator counts them in the file).
#[derive(Clone, Debug, PartialEq)]
pub struct RelaySource {
    pub program: String,
    pub item: usize,
    pub number: usize,
    pub url: String,
    pub bandwidth: Option<u64>,
    /// How many sources the item lists, and whether it has a fallback:
    /// what airs while this one is dead.
    pub of: usize,
    pub fallback: bool,
    /// The item, for warnings.
    pub loc: Loc,
}

impl RelaySource {
    /// "vov1-sang item 1 source 2 http://...".
    pub fn name(&self) -> String {
        format!(
            "{} item {} source {} {}",
            self.program, self.item, self.number, self.url
        )
    }
}

/// A source and what fetching it found.
pub struct Probed {
    pub source: RelaySource,
    pub result: Result<SourceReport, String>,
}

/// Every stream source of the configuration, in file order.
pub fn relay_sources(config: &Config) -> Vec<RelaySource> {
    let mut out = Vec::new();
    for p in &config.programs {
        for (i, item) in p.items.iter().enumerate() {
            if let Source::Stream {
                urls,
                bandwidth,
                fallback,
            } = &item.source
            {
                out.extend(urls.iter().enumerate().map(|(n, url)| RelaySource {
                    program: p.id.clone(),
                    item: i + 1,
                    number: n + 1,
                    url: url.clone(),
                    bandwidth: *bandwidth,
                    of: urls.len(),
                    fallback: !fallback.is_empty(),
                    loc: item.loc.clone(),
                }));
            }
        }
    }
    out
}

/// Fetches each distinct (URL, bandwidth) once, `AT_ONCE` at a time, with
/// `fetch` (the audio crate's probe; tests pass their own), and answers
/// for every source in the order given.
pub fn probe_all(
    sources: Vec<RelaySource>,
    fetch: impl Fn(&str, Option<u64>) -> Result<SourceReport, String> + Sync,
) -> Vec<Probed> {
    let mut distinct: Vec<(&str, Option<u64>)> = Vec::new();
    for s in &sources {
        if !distinct.contains(&(s.url.as_str(), s.bandwidth)) {
            distinct.push((s.url.as_str(), s.bandwidth));
        }
    }
    let found: Vec<Mutex<Option<Result<SourceReport, String>>>> =
        distinct.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..AT_ONCE.min(distinct.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(url, bandwidth)) = distinct.get(i) else {
                    break;
                };
                let result = fetch(url, bandwidth);
                *found[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
            });
        }
    });
    let found: Vec<Result<SourceReport, String>> = found
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .unwrap_or_else(|| Err("not checked".into()))
        })
        .collect();
    let results: Vec<Result<SourceReport, String>> = sources
        .iter()
        .map(|s| {
            let i = distinct
                .iter()
                .position(|d| *d == (s.url.as_str(), s.bandwidth))
                .expect("every source has its distinct entry");
            found[i].clone()
        })
        .collect();
    sources
        .into_iter()
        .zip(results)
        .map(|(source, result)| Probed { source, result })
        .collect()
}

/// The real fetch: `loa_audio::stream::probe` within `TIMEOUT`.
pub fn fetch(url: &str, bandwidth: Option<u64>) -> Result<SourceReport, String> {
    loa_audio::stream::probe(url, bandwidth, TIMEOUT)
}

/// "HLS, AAC 48 kb/s, 48000 Hz mono, segments 10 s, first audio in 1.2 s",
/// or "unreachable: connection refused".
pub fn describe(p: &Probed) -> String {
    let r = match &p.result {
        Ok(r) => r,
        Err(why) => return format!("unreachable: {why}"),
    };
    let mut parts = vec![r.format.to_string()];
    parts.push(match r.bitrate {
        Some(b) => format!("{} {} kb/s", r.codec, (b + 500) / 1000),
        None => r.codec.clone(),
    });
    let channels = r.channels.map(|c| match c {
        1 => "mono".to_string(),
        2 => "stereo".to_string(),
        n => format!("{n} channels"),
    });
    match (r.sample_rate, channels) {
        (Some(hz), Some(c)) => parts.push(format!("{hz} Hz {c}")),
        (Some(hz), None) => parts.push(format!("{hz} Hz")),
        (None, Some(c)) => parts.push(c),
        (None, None) => {}
    }
    if let Some(s) = r.segment {
        parts.push(format!("segments {} s", seconds(s)));
    }
    parts.push(format!(
        "first audio in {:.1} s",
        r.first_audio.as_secs_f64()
    ));
    if let Some(media) = r.resolved.as_ref().filter(|m| **m != p.source.url) {
        parts.push(format!("plays {media}"));
    }
    parts.join(", ")
}

/// Whole seconds plainly, else one decimal: "10", "1.2".
fn seconds(d: Duration) -> String {
    let tenths = (d.as_millis() + 50) / 100;
    if tenths.is_multiple_of(10) {
        format!("{}", tenths / 10)
    } else {
        format!("{}.{}", tenths / 10, tenths % 10)
    }
}

/// The warning a dead source gets in `loa check`: what it is, why.
pub fn warning(p: &Probed) -> Option<String> {
    let why = p.result.as_ref().err()?;
    let s = &p.source;
    Some(format!(
        "program `{}` item {}: stream source {} {} is unreachable: {why}; {}",
        s.program,
        s.item,
        s.number,
        s.url,
        advice(s)
    ))
}

/// What airs while `s` is dead, and what to do about it.
pub fn advice(s: &RelaySource) -> String {
    let meanwhile = match (s.of > 1, s.fallback) {
        (true, true) => "the relay airs its other sources or its fallback",
        (true, false) => "the relay airs its other sources, or silence (the item has no fallback)",
        (false, true) => "the relay airs its fallback",
        (false, false) => "the zones hear silence (the item has no fallback)",
    };
    format!("until it answers {meanwhile}; if the station moved it, put its current address in `stream:` (admin guide: When a station changes its stream URL)")
}

/// One object of `loa check --online --format json`'s `online` array.
pub fn to_json(p: &Probed) -> serde_json::Value {
    let s = &p.source;
    let mut v = serde_json::json!({
        "program": s.program,
        "item": s.item,
        "source": s.number,
        "url": s.url,
        "bandwidth": s.bandwidth,
        "reachable": p.result.is_ok(),
    });
    match &p.result {
        Ok(r) => {
            let more = serde_json::json!({
                "format": r.format.to_string(),
                "codec": r.codec,
                "bitrate": r.bitrate,
                "segment_ms": r.segment.map(|d| d.as_millis() as u64),
                "sample_rate": r.sample_rate,
                "channels": r.channels,
                "first_audio_ms": r.first_audio.as_millis() as u64,
                "resolved": r.resolved,
            });
            if let (Some(v), Some(more)) = (v.as_object_mut(), more.as_object()) {
                v.extend(more.clone());
            }
        }
        Err(why) => v["error"] = serde_json::Value::String(why.clone()),
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use loa_audio::stream::SourceFormat;
    use std::sync::atomic::AtomicUsize;

    fn source(program: &str, number: usize, url: &str) -> RelaySource {
        RelaySource {
            program: program.into(),
            item: 1,
            number,
            url: url.into(),
            bandwidth: None,
            of: 2,
            fallback: true,
            loc: Loc {
                file: "schedules/a.yaml".into(),
                pos: loa_schedules::yaml::Pos { line: 7, column: 9 },
            },
        }
    }

    fn hls() -> SourceReport {
        SourceReport {
            format: SourceFormat::Hls,
            codec: "AAC".into(),
            bitrate: Some(48_000),
            segment: Some(Duration::from_secs(10)),
            sample_rate: Some(48_000),
            channels: Some(1),
            first_audio: Duration::from_millis(1_230),
            resolved: None,
        }
    }

    fn probed(result: Result<SourceReport, String>) -> Probed {
        Probed {
            source: source("vov1-sang", 1, "https://a.invalid/playlist.m3u8"),
            result,
        }
    }

    #[test]
    fn a_line_says_what_the_source_is() {
        assert_eq!(
            describe(&probed(Ok(hls()))),
            "HLS, AAC 48 kb/s, 48000 Hz mono, segments 10 s, first audio in 1.2 s"
        );
        let icy = SourceReport {
            format: SourceFormat::Icecast,
            codec: "MP3".into(),
            bitrate: None,
            segment: None,
            sample_rate: Some(44_100),
            channels: Some(2),
            first_audio: Duration::from_millis(300),
            resolved: None,
        };
        assert_eq!(
            describe(&probed(Ok(icy))),
            "Icecast, MP3, 44100 Hz stereo, first audio in 0.3 s"
        );
        assert_eq!(
            describe(&probed(Err("connection refused".into()))),
            "unreachable: connection refused"
        );
    }

    #[test]
    fn each_distinct_source_is_fetched_once_and_every_one_answered_in_order() {
        let fetched = AtomicUsize::new(0);
        let sources = vec![
            source("vov1-sang", 1, "https://a.invalid/playlist.m3u8"),
            source("vov1-sang", 2, "http://b.invalid:7001/;stream/"),
            source("vov1-toi", 1, "https://a.invalid/playlist.m3u8"),
        ];
        let probed = probe_all(sources.clone(), |url, _| {
            fetched.fetch_add(1, Ordering::Relaxed);
            if url.starts_with("https://a") {
                Ok(hls())
            } else {
                Err("connection refused".into())
            }
        });
        assert_eq!(fetched.load(Ordering::Relaxed), 2);
        let got: Vec<(&RelaySource, bool)> = probed
            .iter()
            .map(|p| (&p.source, p.result.is_ok()))
            .collect();
        assert_eq!(
            got,
            [
                (&sources[0], true),
                (&sources[1], false),
                (&sources[2], true)
            ]
        );
        assert_eq!(warning(&probed[0]), None);
        let w = warning(&probed[1]).unwrap();
        assert!(
            w.starts_with("program `vov1-sang` item 1: stream source 2 http://b.invalid:7001/;stream/ is unreachable: connection refused; until it answers the relay airs its other sources or its fallback"),
            "{w}"
        );
        let j = to_json(&probed[1]);
        assert_eq!(j["reachable"], false);
        assert_eq!(j["error"], "connection refused");
        let j = to_json(&probed[0]);
        assert_eq!(
            (
                &j["format"],
                &j["bitrate"],
                &j["segment_ms"],
                &j["first_audio_ms"]
            ),
            (
                &serde_json::json!("HLS"),
                &serde_json::json!(48_000),
                &serde_json::json!(10_000),
                &serde_json::json!(1_230)
            )
        );
    }
}
