//! HLS relays (RFC 8216): a master playlist's audio rendition, a live media
//! playlist joined three target durations from its end and followed as its
//! window slides, each segment fetched once and in order, AES-128 segments
//! decrypted, discontinuities faded across, a playlist that ends played once.
//!
//! Playlists are parsed by m3u8-rs; segments are demultiplexed and decoded
//! in `segment`. What is written here is only the client's policy, which no
//! crate provides: where to join, when to reload, what counts as dead.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aes::cipher::{block_padding::Pkcs7, BlockModeDecrypt, KeyIvInit};
use m3u8_rs::{KeyMethod, MasterPlaylist, MediaPlaylist, Playlist};

use super::feed::{Ended, Sink};
use super::http::{get_bytes, get_text, join, SEGMENT_LIMIT};
use super::segment::SegmentDecoder;

/// Tries of one segment before it counts as failed.
const SEGMENT_TRIES: u32 = 3;
/// Segments failing in a row before the source counts as dead.
const FAILED_IN_A_ROW: u32 = 2;

/// What a source remembers across reconnections, so that a rejoin neither
/// replays nor silently skips.
#[derive(Default)]
pub(crate) struct HlsState {
    /// The media playlist last followed.
    media_url: Option<String>,
    /// The next media sequence number to fetch.
    next: Option<u64>,
    keys: HashMap<String, [u8; 16]>,
    init: Option<(String, Vec<u8>)>,
    decoder: Option<SegmentDecoder>,
}

/// True if `text` is an HLS playlist rather than a plain .m3u list.
pub(crate) fn is_hls(text: &str) -> bool {
    text.trim_start_matches('\u{feff}').starts_with("#EXTM3U")
        && (text.contains("#EXT-X-TARGETDURATION") || text.contains("#EXT-X-STREAM-INF"))
}

/// A parsed media playlist and where it came from.
pub(crate) struct Media {
    pub url: String,
    pub playlist: MediaPlaylist,
    /// The chosen rendition's BANDWIDTH, after a master playlist.
    pub bandwidth: Option<u64>,
}

/// Parses `text` fetched from `url`; a master playlist is resolved to the
/// media playlist of its rendition.
pub(crate) fn media_playlist(
    agent: &ureq::Agent,
    url: &str,
    text: &str,
    bandwidth: Option<u64>,
) -> Result<Media, String> {
    match parse(text)? {
        Playlist::MediaPlaylist(playlist) => Ok(Media {
            url: url.to_string(),
            playlist,
            bandwidth: None,
        }),
        Playlist::MasterPlaylist(master) => {
            let (uri, bw) = rendition(&master, bandwidth)?;
            let media_url = join(url, &uri)?;
            let text = get_text(agent, &media_url)?;
            match parse(&text)? {
                Playlist::MediaPlaylist(playlist) => Ok(Media {
                    url: media_url,
                    playlist,
                    bandwidth: bw,
                }),
                Playlist::MasterPlaylist(_) => {
                    Err("the master playlist names another master playlist".into())
                }
            }
        }
    }
}

fn parse(text: &str) -> Result<Playlist, String> {
    m3u8_rs::parse_playlist_res(text.as_bytes())
        .map_err(|_| "the HLS playlist cannot be read (not RFC 8216)".to_string())
}

/// The rendition to relay: the lowest bandwidth at or above `wanted`, else
/// the lowest; an audio-only EXT-X-MEDIA rendition of its group if it has one.
fn rendition(
    master: &MasterPlaylist,
    wanted: Option<u64>,
) -> Result<(String, Option<u64>), String> {
    let mut variants: Vec<_> = master.variants.iter().filter(|v| !v.is_i_frame).collect();
    if variants.is_empty() {
        return Err("the master playlist has no renditions".into());
    }
    variants.sort_by_key(|v| v.bandwidth);
    let chosen = wanted
        .and_then(|w| variants.iter().find(|v| v.bandwidth >= w))
        .unwrap_or(&variants[0]);
    // A separate audio rendition (EXT-X-MEDIA TYPE=AUDIO with a URI) carries
    // the sound of a video variant; take the group's default one.
    if let Some(group) = &chosen.audio {
        let mut audio: Vec<_> = master
            .alternatives
            .iter()
            .filter(|a| {
                a.media_type == m3u8_rs::AlternativeMediaType::Audio
                    && &a.group_id == group
                    && a.uri.is_some()
            })
            .collect();
        audio.sort_by_key(|a| !a.default);
        if let Some(a) = audio.first() {
            return Ok((a.uri.clone().unwrap_or_default(), Some(chosen.bandwidth)));
        }
    }
    Ok((chosen.uri.clone(), Some(chosen.bandwidth)))
}

/// The target duration (at least a second).
pub(crate) fn target(p: &MediaPlaylist) -> Duration {
    Duration::from_secs(p.target_duration.max(1))
}

/// Where to join: the first segment that starts at least three target
/// durations from the end (RFC 8216 6.3.3); a finished playlist from its start.
pub(crate) fn live_edge(p: &MediaPlaylist) -> u64 {
    if p.end_list {
        return p.media_sequence;
    }
    let three = 3.0 * target(p).as_secs_f64();
    let mut from_end = 0.0;
    for (i, s) in p.segments.iter().enumerate().rev() {
        from_end += s.duration as f64;
        if from_end >= three {
            return p.media_sequence + i as u64;
        }
    }
    p.media_sequence
}

/// One past the newest segment's sequence number.
fn end(p: &MediaPlaylist) -> u64 {
    p.media_sequence + p.segments.len() as u64
}

/// The key (method, URI, IV) and the init segment in force at segment `i`:
/// tags apply to every segment after them until the next.
fn in_force(p: &MediaPlaylist, i: usize) -> (Option<&m3u8_rs::Key>, Option<&m3u8_rs::Map>) {
    let key = p.segments[..=i].iter().rev().find_map(|s| s.key.as_ref());
    let map = p.segments[..=i].iter().rev().find_map(|s| s.map.as_ref());
    (key, map)
}

/// Follows a live playlist (or plays a finished one) into `sink`.
pub(crate) fn run(
    agent: &ureq::Agent,
    url: &str,
    text: &str,
    bandwidth: Option<u64>,
    state: &mut HlsState,
    sink: &mut Sink<'_>,
) -> Result<Ended, String> {
    let Media {
        url: media_url,
        playlist: mut pl,
        ..
    } = media_playlist(agent, url, text, bandwidth)?;
    let td = target(&pl);
    sink_prebuffer(sink, td);
    let mut decoder = state.decoder.take().unwrap_or_else(SegmentDecoder::new);
    let result = follow(agent, &media_url, &mut pl, td, state, &mut decoder, sink);
    state.decoder = Some(decoder);
    result
}

fn sink_prebuffer(sink: &Sink<'_>, td: Duration) {
    // Rejoin after a full segment's worth (at most 4 s): a source that
    // delivers in bursts should not flap between itself and the fallback.
    let ms = td.min(Duration::from_secs(4)).as_millis() as u32;
    sink.set_prebuffer(ms);
}

fn follow(
    agent: &ureq::Agent,
    media_url: &str,
    pl: &mut MediaPlaylist,
    td: Duration,
    state: &mut HlsState,
    decoder: &mut SegmentDecoder,
    sink: &mut Sink<'_>,
) -> Result<Ended, String> {
    // A (re)join starts at the live edge, but never before what was already
    // relayed: nothing is played twice, and what the source missed while
    // it was away is said in the log, not replayed late.
    let edge = live_edge(pl);
    let mut next = match (state.next, state.media_url.as_deref() == Some(media_url)) {
        (Some(n), true) if n >= edge && n <= end(pl) => n,
        (Some(n), true) if n < edge => {
            tracing::warn!(
                "relay {media_url}: rejoining at the live edge; segments {n} to {} (about {} s) \
                 were not relayed while the source was away",
                edge - 1,
                skipped_duration(pl, n, edge)
            );
            if sink.discontinuity().is_err() {
                return Ok(Ended::Released);
            }
            decoder.reset();
            edge
        }
        _ => edge,
    };
    state.media_url = Some(media_url.to_string());
    let mut newest = end(pl);
    let mut last_change = Instant::now();
    let mut next_reload = Instant::now() + td;
    let mut failed_in_a_row = 0;
    let mut slow_in_a_row = 0;
    let mut pcm = Vec::new();
    loop {
        if !sink.running() {
            return Ok(Ended::Released);
        }
        if next >= pl.media_sequence && next < end(pl) {
            let i = (next - pl.media_sequence) as usize;
            let seg = &pl.segments[i];
            if seg.discontinuity {
                if sink.discontinuity().is_err() {
                    return Ok(Ended::Released);
                }
                decoder.reset();
            }
            let seg_url = join(media_url, &seg.uri)?;
            let (key, map) = in_force(pl, i);
            let pause = |d| super::feed::pause_sink(sink, d);
            let asked = Instant::now();
            let fetched = fetch_segment(agent, media_url, &seg_url, next, key, map, state, &pause);
            // Two segments in a row slower to fetch than to play: the link
            // cannot keep up (one fast one says it can again).
            let took = asked.elapsed().as_secs_f32();
            if took > seg.duration.max(0.5) * 0.9 {
                slow_in_a_row += 1;
                if slow_in_a_row == 2 {
                    tracing::warn!(
                        "relay {media_url}: the link is slower than the stream (a {:.1} s \
                         segment took {took:.1} s); the fallback airs until it keeps up",
                        seg.duration
                    );
                    sink.set_slow(true);
                }
            } else {
                if slow_in_a_row >= 2 {
                    tracing::info!("relay {media_url}: the link keeps up again");
                }
                slow_in_a_row = 0;
                sink.set_slow(false);
            }
            match fetched.and_then(|(data, init)| {
                pcm.clear();
                decoder.decode(&data, init.as_deref(), &mut pcm).map(|_| ())
            }) {
                Ok(()) => {
                    failed_in_a_row = 0;
                    if sink.push(&pcm).is_err() {
                        return Ok(Ended::Released);
                    }
                }
                Err(cause) => {
                    failed_in_a_row += 1;
                    if failed_in_a_row >= FAILED_IN_A_ROW {
                        state.next = Some(next);
                        return Err(format!("segment {next}: {cause}"));
                    }
                    // One lost segment is a jump of its length, not dead air.
                    tracing::warn!(
                        "relay {media_url}: segment {next} ({:.1} s) not relayed: {cause}",
                        seg.duration
                    );
                }
            }
            next += 1;
            state.next = Some(next);
            continue;
        }
        if pl.end_list && next >= end(pl) {
            return sink
                .flush()
                .map(|_| Ended::Finished)
                .or(Ok(Ended::Released));
        }
        if next < pl.media_sequence {
            // Fell behind the window (a link slower than real time).
            let edge = live_edge(pl);
            tracing::warn!(
                "relay {media_url}: segments {next}..{} left the playlist before they could be \
                 fetched; about {} s not relayed (the link is slower than the stream)",
                pl.media_sequence,
                skipped_duration(pl, next, edge)
            );
            if sink.discontinuity().is_err() {
                return Ok(Ended::Released);
            }
            decoder.reset();
            next = edge;
            state.next = Some(next);
            continue;
        }
        // Wait for the playlist to move.
        let now = Instant::now();
        if now < next_reload {
            if !super::feed::pause_sink(sink, (next_reload - now).min(Duration::from_millis(100))) {
                return Ok(Ended::Released);
            }
            continue;
        }
        let text = get_text(agent, media_url).map_err(|e| format!("playlist: {e}"))?;
        let fresh = match parse(&text)? {
            Playlist::MediaPlaylist(p) => p,
            Playlist::MasterPlaylist(_) => {
                return Err("the media playlist turned into a master playlist".into())
            }
        };
        if end(&fresh) + 1 < next && fresh.media_sequence < pl.media_sequence {
            // The numbering went back: the origin restarted.
            tracing::warn!(
                "relay {media_url}: the origin restarted (media sequence {} after {}); \
                 joining its new stream",
                fresh.media_sequence,
                next
            );
            *pl = fresh;
            if sink.discontinuity().is_err() {
                return Ok(Ended::Released);
            }
            decoder.reset();
            next = live_edge(pl);
            newest = end(pl);
            last_change = Instant::now();
            next_reload = Instant::now() + target(pl);
            state.next = Some(next);
            continue;
        }
        *pl = fresh;
        let td = target(pl);
        if end(pl) > newest {
            newest = end(pl);
            last_change = Instant::now();
            next_reload = Instant::now() + td;
        } else if !pl.end_list {
            // Unchanged: ask again after half a target duration (RFC 8216 6.3.4).
            next_reload = Instant::now() + td / 2;
            let still = last_change.elapsed();
            if still > 3 * td {
                return Err(format!(
                    "the playlist stopped advancing ({} s without a new segment)",
                    still.as_secs()
                ));
            }
        }
    }
}

/// Seconds of the segments from `from` up to `to` that are still listed
/// (those gone are counted at the target duration).
fn skipped_duration(p: &MediaPlaylist, from: u64, to: u64) -> u64 {
    let td = target(p).as_secs_f64();
    let secs: f64 = (from..to)
        .map(|n| {
            n.checked_sub(p.media_sequence)
                .and_then(|i| p.segments.get(i as usize))
                .map(|s| s.duration as f64)
                .unwrap_or(td)
        })
        .sum();
    secs.round() as u64
}

/// Downloads (with retries) and decrypts one segment; the init segment of an
/// fMP4 stream comes with it.
#[allow(
    clippy::too_many_arguments,
    reason = "one segment's URLs, key and init map, with the relay's agent and state"
)]
fn fetch_segment(
    agent: &ureq::Agent,
    media_url: &str,
    seg_url: &str,
    sequence: u64,
    key: Option<&m3u8_rs::Key>,
    map: Option<&m3u8_rs::Map>,
    state: &mut HlsState,
    pause: &dyn Fn(Duration) -> bool,
) -> Result<(Vec<u8>, Option<Vec<u8>>), String> {
    let init = match map {
        None => None,
        Some(m) => {
            let u = join(media_url, &m.uri)?;
            if state.init.as_ref().map(|(k, _)| k != &u).unwrap_or(true) {
                let bytes = retried(pause, || get_bytes(agent, &u, SEGMENT_LIMIT))
                    .map_err(|e| format!("init segment: {e}"))?;
                state.init = Some((u, bytes));
            }
            state.init.as_ref().map(|(_, b)| b.clone())
        }
    };
    let mut data = retried(pause, || get_bytes(agent, seg_url, SEGMENT_LIMIT))?;
    if let Some(key) = key {
        match &key.method {
            KeyMethod::None => {}
            KeyMethod::AES128 => {
                let uri = key.uri.as_deref().ok_or("EXT-X-KEY without a URI")?;
                let key_url = join(media_url, uri)?;
                let k = match state.keys.get(&key_url) {
                    Some(k) => *k,
                    None => {
                        let bytes = retried(pause, || get_bytes(agent, &key_url, 64))
                            .map_err(|e| format!("key: {e}"))?;
                        let k: [u8; 16] = bytes
                            .as_slice()
                            .try_into()
                            .map_err(|_| format!("the key is {} bytes, not 16", bytes.len()))?;
                        state.keys.insert(key_url, k);
                        k
                    }
                };
                let iv = match &key.iv {
                    Some(iv) => parse_iv(iv)?,
                    // Without an IV, the media sequence number is the IV.
                    None => (sequence as u128).to_be_bytes(),
                };
                let plain = cbc::Decryptor::<aes::Aes128>::new(&k.into(), &iv.into())
                    .decrypt_padded::<Pkcs7>(&mut data)
                    .map_err(|_| "cannot decrypt the segment (wrong key?)".to_string())?
                    .len();
                data.truncate(plain);
            }
            KeyMethod::SampleAES => return Err("SAMPLE-AES encryption is not supported".into()),
            KeyMethod::Other(m) => return Err(format!("encryption {m} is not supported")),
        }
    }
    Ok((data, init))
}

/// `loa check --online`: the playlists and the segment a join would start
/// with, decoded.
pub(crate) fn probe(
    agent: &ureq::Agent,
    url: &str,
    text: &str,
    bandwidth: Option<u64>,
    started: Instant,
) -> Result<super::SourceReport, String> {
    let media = media_playlist(agent, url, text, bandwidth)?;
    let pl = &media.playlist;
    if pl.segments.is_empty() {
        return Err("the media playlist lists no segments".into());
    }
    let seq = live_edge(pl);
    let i = (seq - pl.media_sequence) as usize;
    let seg_url = join(&media.url, &pl.segments[i].uri)?;
    let (key, map) = in_force(pl, i);
    let mut state = HlsState::default();
    let pause = |d| {
        std::thread::sleep(d);
        true
    };
    let (data, init) = fetch_segment(
        agent, &media.url, &seg_url, seq, key, map, &mut state, &pause,
    )
    .map_err(|e| format!("segment {seq}: {e}"))?;
    let mut decoder = SegmentDecoder::new();
    let mut pcm = Vec::new();
    decoder
        .decode(&data, init.as_deref(), &mut pcm)
        .map_err(|e| format!("segment {seq}: {e}"))?;
    let info = decoder.info.clone().ok_or("the segment has no audio")?;
    let seconds = pl.segments[i].duration as f64;
    let measured = (seconds > 0.0).then(|| (data.len() as f64 * 8.0 / seconds) as u64);
    Ok(super::SourceReport {
        format: super::SourceFormat::Hls,
        codec: info.codec.to_string(),
        bitrate: media.bandwidth.or(measured),
        segment: Some(target(pl)),
        sample_rate: Some(info.sample_rate),
        channels: Some(info.channels),
        first_audio: started.elapsed(),
        resolved: (media.url != url).then(|| media.url.clone()),
    })
}

fn parse_iv(text: &str) -> Result<[u8; 16], String> {
    let hex = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    let n = u128::from_str_radix(hex, 16).map_err(|_| format!("bad IV {text}"))?;
    Ok(n.to_be_bytes())
}

/// A request tried up to [`SEGMENT_TRIES`] times (a cut connection, a 5xx).
fn retried<T>(
    pause: &dyn Fn(Duration) -> bool,
    mut f: impl FnMut() -> Result<T, String>,
) -> Result<T, String> {
    let mut wait = Duration::from_millis(250);
    let mut tries = 0;
    loop {
        tries += 1;
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if tries >= SEGMENT_TRIES => return Err(format!("{e} (after {tries} tries)")),
            Err(e) => {
                tracing::debug!("try {tries}: {e}");
                if !pause(wait) {
                    return Err(e);
                }
                wait *= 2;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media(text: &str) -> MediaPlaylist {
        match parse(text).unwrap() {
            Playlist::MediaPlaylist(p) => p,
            Playlist::MasterPlaylist(_) => panic!("master"),
        }
    }

    const LIVE: &str = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n\
        #EXT-X-MEDIA-SEQUENCE:40\n#EXTINF:2.0,\ns40.ts\n#EXTINF:2.0,\ns41.ts\n\
        #EXTINF:2.0,\ns42.ts\n#EXTINF:2.0,\ns43.ts\n#EXTINF:2.0,\ns44.ts\n";

    #[test]
    fn a_live_playlist_is_joined_three_target_durations_from_its_end() {
        let p = media(LIVE);
        assert_eq!(live_edge(&p), 42);
        let ended = media(&format!("{LIVE}#EXT-X-ENDLIST\n"));
        assert_eq!(live_edge(&ended), 40);
        assert!(is_hls(LIVE));
        assert!(!is_hls(
            "#EXTM3U\n#EXTINF:-1,VOV1\nhttp://x.invalid/a.mp3\n"
        ));
    }

    #[test]
    fn the_lowest_rendition_at_or_above_the_wanted_bandwidth_is_chosen() {
        let text = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=128000,CODECS=\"mp4a.40.2\"\nhigh.m3u8\n\
            #EXT-X-STREAM-INF:BANDWIDTH=48000,CODECS=\"mp4a.40.2\"\nlow.m3u8\n\
            #EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS=\"mp4a.40.2\"\nmid.m3u8\n";
        let Playlist::MasterPlaylist(m) = parse(text).unwrap() else {
            panic!("not a master")
        };
        assert_eq!(rendition(&m, None).unwrap().0, "low.m3u8");
        assert_eq!(rendition(&m, Some(50_000)).unwrap().0, "mid.m3u8");
        assert_eq!(rendition(&m, Some(64_000)).unwrap().0, "mid.m3u8");
        // Above every rendition: the lowest, not nothing.
        assert_eq!(rendition(&m, Some(1_000_000)).unwrap().0, "low.m3u8");
    }

    #[test]
    fn keys_and_init_segments_apply_until_the_next_tag() {
        let p = media(
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n\
             #EXT-X-MAP:URI=\"init.mp4\"\n#EXT-X-KEY:METHOD=AES-128,URI=\"k1\"\n\
             #EXTINF:2.0,\na.m4s\n#EXTINF:2.0,\nb.m4s\n\
             #EXT-X-KEY:METHOD=AES-128,URI=\"k2\",IV=0x0000000000000000000000000000000A\n\
             #EXTINF:2.0,\nc.m4s\n",
        );
        let (k, m) = in_force(&p, 1);
        assert_eq!(k.unwrap().uri.as_deref(), Some("k1"));
        assert_eq!(m.unwrap().uri, "init.mp4");
        let (k, _) = in_force(&p, 2);
        assert_eq!(k.unwrap().uri.as_deref(), Some("k2"));
        assert_eq!(parse_iv(k.unwrap().iv.as_deref().unwrap()).unwrap()[15], 10);
    }
}
