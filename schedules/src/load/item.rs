//! One item of a program -> `Item`: what it plays (a file, the newest of a
//! pattern, a playlist, TTS, a relayed stream, live input, silence, a tone)
//! and the options of each kind, media paths and patterns checked on the way.

use std::path::{Path, PathBuf};

use super::Cx;
use crate::model::*;
use crate::yaml::{Node, Value};

/// The keys an item may have: unknown keys are errors.
pub(super) mod keys {
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
        "rate",
        "pitch",
        "fallback",
        "bandwidth",
    ];
    pub const LIVE: &[&str] = &["input"];
    pub const TONE: &[&str] = &["hz", "for"];
}

impl Cx<'_> {
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

    pub(super) fn item(&mut self, n: &Node, media: &Path) -> Option<Item> {
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
            "tts" => &["voice", "rate", "pitch"],
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
                let voice = loa_core::Voice {
                    name: f.get("voice").and_then(|n| self.voice(n)),
                    rate: f.get("rate").and_then(|n| self.rate(n)),
                    pitch: f.get("pitch").and_then(|n| self.pitch(n)),
                };
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Diagnostics;
    use crate::yaml;

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
