//! `loa check --online` and `loa doctor`: fetch one relay source once and
//! say what it is, without airing anything.

use std::time::Duration;

/// What kind of server a source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    /// An HLS playlist (master or media) and its segments.
    Hls,
    /// A continuous HTTP body: Icecast, Shoutcast (also "ICY 200 OK").
    Icecast,
}

impl std::fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SourceFormat::Hls => "HLS",
            SourceFormat::Icecast => "Icecast",
        })
    }
}

/// One source, fetched once.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceReport {
    pub format: SourceFormat,
    /// "AAC", "MP3", "Vorbis"... as decoded.
    pub codec: String,
    /// Bits per second: the rendition's BANDWIDTH, the server's icy-br, or
    /// measured from the bytes of the first audio.
    pub bitrate: Option<u64>,
    /// HLS: the media playlist's target duration (segment length).
    pub segment: Option<Duration>,
    /// Sample rate and channels of the decoded audio.
    pub sample_rate: Option<u32>,
    pub channels: Option<u16>,
    /// From the first request to the first decoded audio.
    pub first_audio: Duration,
    /// HLS: the media playlist actually read (after a master playlist).
    pub resolved: Option<String>,
}

/// Fetches `url` once (HLS: the playlists and one segment; Icecast: until the
/// first audio decodes), within `timeout`. The error is one line: the HTTP
/// status, the DNS or TLS error, or why the audio cannot be read.
pub fn probe(url: &str, bandwidth: Option<u64>, timeout: Duration) -> Result<SourceReport, String> {
    super::probe_source(url, bandwidth, timeout)
}
