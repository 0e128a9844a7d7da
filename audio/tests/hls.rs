//! HLS relay against live origins that ffmpeg makes while the test runs
//! (tests/common/hls_origin.rs): each container and codec a station meets,
//! a master playlist's renditions, each fault an origin has, several sources,
//! and a relay dead from the start. Each test asserts what aired, from the
//! WAV output window by window (which tone, the fallback, silence), and the
//! airtime pieces the deck reports. Real time: the binary takes about two
//! minutes, the tests overlapping.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use common::hls_origin::{
    is_segment, refused_url, segment_number, steps_clock, Encoding, Origin, Rendition, Request,
    Server, Signal, TARGET,
};
use common::*;
use loa_audio::{
    Deck, DeckConfig, DeckEvent, Ending, Item, ItemId, Media, OutputSpec, Priority, SilencePolicy,
    SourceKind,
};

/// policy.silence.for in every test.
const SILENCE: Duration = Duration::from_secs(2);
/// The tones of the origins, as the timeline writes them.
const TONES: [(char, f32); 3] = [('A', 440.0), ('B', 660.0), ('C', 880.0)];
const FALLBACK_TAG: i16 = 7;
/// The longest dead air a relay may leave, in windows: the silence window,
/// plus half a second of fades.
const DEAD_AIR: usize = (SILENCE.as_millis() as usize + 500) / 20;
/// How long a relay usually takes to start (waited for up to [`patience`]
/// of it: a liveness limit, not a figure).
const JOIN: Duration = Duration::from_secs(20);
/// A relay dead from the start is handed to the deck this far ahead of its
/// start, as the daemon hands over items (its lead is 3 s): the item's first
/// frame is then known exactly, whatever the machine's load.
const LEAD: Duration = Duration::from_secs(1);
/// What a row's aired time may differ from the WAV by (fades, seams): 0.5 s.
const ROW_SLACK: u64 = 24_000;
/// Windows in a second.
const SECOND: usize = 50;
/// Length of each of ffmpeg's segments (AAC frames of 1024 samples make
/// 2.005 s out of `-hls_time 2`; one in a while is 1.984 s).
const SEGMENT_SECONDS: f64 = 2.005;

/// A relay airing on a real-time deck with a WAV output; every event kept.
struct Air {
    deck: Deck,
    out: PathBuf,
    id: ItemId,
    events: Vec<DeckEvent>,
    /// Output window at which the item starts: when it was handed over, or
    /// the start it was handed over ahead of.
    played: usize,
}

impl Air {
    fn relay(
        out: PathBuf,
        sources: &[&str],
        bandwidth: Option<u64>,
        fallback: Option<&Path>,
    ) -> Air {
        Air::relay_ahead(out, sources, bandwidth, fallback, Duration::ZERO)
    }

    /// As [`Air::relay`], handed over `ahead` of its start (none: now).
    fn relay_ahead(
        out: PathBuf,
        sources: &[&str],
        bandwidth: Option<u64>,
        fallback: Option<&Path>,
        ahead: Duration,
    ) -> Air {
        let config = DeckConfig {
            silence: SilencePolicy {
                below_dbfs: -50.0,
                duration: SILENCE,
            },
            ..Default::default()
        };
        let deck = Deck::open(&OutputSpec::Wav(out.clone()), config).unwrap();
        let media = Media::Stream {
            sources: sources.iter().map(|s| s.to_string()).collect(),
            bandwidth,
            fallback: fallback.into_iter().map(Path::to_path_buf).collect(),
        };
        let mut air = Air {
            deck,
            out,
            id: ItemId(0),
            events: vec![],
            played: 0,
        };
        let item = Item::new(media, Priority::Normal);
        if ahead.is_zero() {
            air.played = air.now();
            air.id = air.deck.play(item);
        } else {
            let start = air.deck.now() + ahead;
            air.played = air.window_of(start);
            air.id = air.deck.play(item.starting_at(start));
        }
        air
    }

    /// The output window the deck renders now.
    fn now(&self) -> usize {
        self.window_of(self.deck.now())
    }

    /// The output window of the deck's time `t`.
    fn window_of(&self, t: SystemTime) -> usize {
        let d = t.duration_since(self.deck.epoch()).unwrap();
        (d.as_micros() as u64 * RATE / 1_000_000) as usize / WINDOW
    }

    /// Waits until what the WAV holds so far (its header follows the
    /// output every second) satisfies `pred`, given as its timeline; the
    /// deck's events are kept meanwhile. Expected within `usual`, waited
    /// for up to [`patience`] of it.
    fn wait_until(
        &mut self,
        what: &str,
        usual: Duration,
        pred: impl Fn(&str, &[(i16, i16)]) -> bool,
    ) {
        let limit = patience(usual);
        let until = Instant::now() + limit;
        loop {
            self.events.extend(self.deck.events().try_iter());
            let frames = read_wav(&self.out);
            let line = tone_timeline(&frames, &TONES, FALLBACK_TAG);
            if pred(&line, &frames) {
                return;
            }
            assert!(
                Instant::now() < until,
                "{what}: not within {limit:?}: {line}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Waits until `windows` windows of `c` in a row aired from window
    /// `from` on.
    fn wait_on_air(&mut self, c: char, from: usize, windows: usize, usual: Duration) {
        let run = c.to_string().repeat(windows);
        self.wait_until(
            &format!("{windows} windows of '{c}' from window {from} on"),
            usual,
            |line, _| line.get(from..).is_some_and(|l| l.contains(&run)),
        );
    }

    /// Waits until a second of `c` aired from now on: what airs at the end.
    fn wait_settled_on(&mut self, c: char) {
        let now = self.now();
        self.wait_on_air(c, now, SECOND, Duration::from_secs(10));
    }

    /// Waits until a piece from `source` makes its first sound.
    fn wait_started(&mut self, source: &str, timeout: Duration) {
        let seen = |e: &DeckEvent| {
            matches!(e, DeckEvent::Started { piece, .. }
                if piece.kind == SourceKind::Stream && piece.source == source)
        };
        if self.events.iter().any(seen) {
            return;
        }
        let limit = patience(timeout);
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Ok(e) = self.deck.events().recv_timeout(Duration::from_millis(50)) {
                let hit = seen(&e);
                self.events.push(e);
                if hit {
                    return;
                }
            }
        }
        panic!(
            "{source} did not start airing within {limit:?}: {:?}",
            self.events
        );
    }

    /// Lets the deck air for at least `d` (a busy machine makes it longer).
    fn run(&mut self, d: Duration) {
        std::thread::sleep(d);
        self.events.extend(self.deck.events().try_iter());
    }

    /// Stops the relay, waits for its end, closes the output and reads it.
    fn finish(mut self) -> Aired {
        let stopped = self.now();
        self.deck.stop(self.id);
        let until = Instant::now() + patience(Duration::from_secs(5));
        let mut ended = self
            .events
            .iter()
            .any(|e| matches!(e, DeckEvent::ItemEnded { item, .. } if *item == self.id));
        while !ended && Instant::now() < until {
            if let Ok(e) = self.deck.events().recv_timeout(Duration::from_millis(50)) {
                ended = matches!(e, DeckEvent::ItemEnded { item, .. } if item == self.id);
                self.events.push(e);
            }
        }
        let epoch = self.deck.epoch();
        self.deck.close();
        let frames = read_wav(&self.out);
        let line = tone_timeline(&frames, &TONES, FALLBACK_TAG);
        eprintln!("{}: {line}", self.out.display());
        eprintln!("{:?}", self.events);
        assert!(
            ended,
            "the relay item ended when stopped: {:?}",
            self.events
        );
        Aired {
            line,
            frames,
            epoch,
            events: self.events,
            played: self.played,
            stopped,
        }
    }
}

/// What a relay aired: the WAV's timeline (see `tone_timeline`) and events.
struct Aired {
    line: String,
    frames: Vec<(i16, i16)>,
    /// The deck's frame 0, which event times count from.
    epoch: SystemTime,
    events: Vec<DeckEvent>,
    played: usize,
    stopped: usize,
}

/// An airtime piece as the deck reported its end.
#[derive(Debug)]
struct Row {
    kind: SourceKind,
    source: String,
    outcome: Ending,
    aired: u64,
}

impl Aired {
    /// First window from `from` on (before the stop) that is `c`.
    fn first(&self, c: char, from: usize) -> Option<usize> {
        let end = self.stopped.min(self.line.len());
        (from..end).find(|&i| self.line.as_bytes()[i] == c as u8)
    }

    /// Last window before `before` that is `c`.
    fn last(&self, c: char, before: usize) -> Option<usize> {
        (0..before.min(self.line.len())).rfind(|&i| self.line.as_bytes()[i] == c as u8)
    }

    /// The window where a piece from `source` first made a sound.
    fn started(&self, source: &str) -> Option<usize> {
        self.events.iter().find_map(|e| match e {
            DeckEvent::Started { piece, at, .. } if piece.source == source => {
                let d = at.duration_since(self.epoch).unwrap();
                Some((d.as_micros() as u64 * RATE / 1_000_000) as usize / WINDOW)
            }
            _ => None,
        })
    }

    /// Windows of `c` in the whole output (the stop's fade included, as the
    /// rows count it).
    fn count(&self, c: char) -> usize {
        self.line.matches(c).count()
    }

    /// The windows [from, to) as a string.
    fn span(&self, from: usize, to: usize) -> &str {
        &self.line[from.min(self.line.len())..to.min(self.line.len())]
    }

    /// Asserts windows [from, the stop) are all `c`.
    fn assert_only(&self, c: char, from: usize, what: &str) {
        let end = self.stopped.saturating_sub(1);
        let span = self.span(from, end);
        assert!(
            !span.is_empty() && span.chars().all(|w| w == c),
            "{what}: windows {from}..{end} should all be '{c}': {}",
            self.line
        );
    }

    /// Asserts no run of windows from `from` to the stop airs neither a tone
    /// nor the fallback for longer than `DEAD_AIR`.
    fn assert_no_dead_air(&self, from: usize) {
        let span = self.span(from, self.stopped.saturating_sub(1));
        let longest = span
            .split(|c: char| c != '.' && c != '?')
            .map(str::len)
            .max()
            .unwrap_or(0);
        assert!(
            longest <= DEAD_AIR,
            "{longest} windows of dead air (at most {DEAD_AIR}): {}",
            self.line
        );
    }

    /// Windows that sound and are not the fallback: the relay's (tones of
    /// any frequency, seams).
    fn sounding(&self) -> usize {
        self.line
            .chars()
            .filter(|c| !matches!(c, '.' | 'F'))
            .count()
    }

    /// [`steps_clock`] of the output up to the stop.
    fn steps_clock(&self) -> Vec<(u64, u64)> {
        steps_clock(&self.frames[..(self.stopped * WINDOW).min(self.frames.len())])
    }

    /// Asserts the origin's seconds (a [`Signal::Steps`] origin) aired one
    /// after the other at a delay that moves by at most 0.3 s: no gap, no
    /// repeat, no skip. Returns the delay (output second minus origin's).
    fn assert_steady(&self) -> f64 {
        let clock = self.steps_clock();
        assert!(clock.len() >= 5, "the stepped tone aired: {clock:?}");
        for pair in clock.windows(2) {
            assert_eq!(pair[1].1, pair[0].1 + 1, "seconds in order: {clock:?}");
        }
        let lags: Vec<f64> = clock.iter().map(lag).collect();
        let (min, max) = lags
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), l| (lo.min(*l), hi.max(*l)));
        assert!(
            max - min <= 0.3,
            "the delay moved by {:.2} s: {lags:?}",
            max - min
        );
        lags[0]
    }

    fn rows(&self) -> Vec<Row> {
        self.events
            .iter()
            .filter_map(|e| match e {
                DeckEvent::Ended {
                    piece,
                    outcome,
                    aired_frames,
                    ..
                } => Some(Row {
                    kind: piece.kind,
                    source: piece.source.clone(),
                    outcome: outcome.clone(),
                    aired: *aired_frames,
                }),
                _ => None,
            })
            .collect()
    }

    /// Relayed frames the rows give `source` (every piece it aired).
    fn relayed(&self, source: &str) -> u64 {
        self.rows()
            .iter()
            .filter(|r| r.kind == SourceKind::Stream && r.source == source)
            .map(|r| r.aired)
            .sum()
    }

    /// Frames the rows give the fallback files.
    fn fallback_aired(&self) -> u64 {
        self.rows()
            .iter()
            .filter(|r| r.kind == SourceKind::File)
            .map(|r| r.aired)
            .sum()
    }

    /// Asserts `source`'s rows count what the WAV shows of its `windows`.
    fn assert_relayed(&self, source: &str, windows: usize) {
        let rows = self.relayed(source);
        let heard = (windows * WINDOW) as u64;
        assert!(
            rows.abs_diff(heard) <= ROW_SLACK,
            "{source}: rows say {rows} frames relayed, the output {heard}: {:?}",
            self.rows()
        );
    }

    /// Asserts the fallback's rows count the 'F' windows, and none failed.
    fn assert_fallback_rows(&self) {
        let heard = (self.count('F') * WINDOW) as u64;
        let rows = self.fallback_aired();
        assert!(
            rows.abs_diff(heard) <= ROW_SLACK,
            "rows say the fallback aired {rows} frames, the output {heard}: {:?}",
            self.rows()
        );
        assert!(
            self.rows()
                .iter()
                .filter(|r| r.kind == SourceKind::File)
                .all(|r| !matches!(r.outcome, Ending::Failed(_))),
            "{:?}",
            self.rows()
        );
    }
}

/// Output second minus the origin's second at a step of [`steps_clock`].
fn lag((frame, second): &(u64, u64)) -> f64 {
    *frame as f64 / RATE as f64 - *second as f64
}

/// A temporary directory and a 60 s position-coded fallback file in it.
fn station() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let fallback = dir.path().join("nhac-nen.wav");
    coded_wav(&fallback, FALLBACK_TAG, RATE * 60);
    (dir, fallback)
}

fn segment_requests(origin: &Origin) -> Vec<Request> {
    origin
        .http
        .requests()
        .into_iter()
        .filter(|r| is_segment(&r.name))
        .collect()
}

/// Waits until the origin served `name` (expected within `usual`).
fn wait_fetched(origin: &Origin, name: &str, usual: Duration) {
    let limit = patience(usual);
    let until = Instant::now() + limit;
    while origin.http.fetches(name) == 0 {
        assert!(
            Instant::now() < until,
            "{name} was not fetched within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Asserts each segment was asked for once, except those in `retried`.
fn assert_each_segment_once(origin: &Origin, retried: &[&str]) {
    let requests = segment_requests(origin);
    for r in &requests {
        let n = requests.iter().filter(|q| q.name == r.name).count();
        assert!(
            n == 1 || retried.contains(&r.name.as_str()),
            "{} fetched {n} times: {:?}",
            r.name,
            requests.iter().map(|r| &r.name).collect::<Vec<_>>()
        );
    }
}

/// Asserts segments were first asked for in increasing order and, if
/// `contiguous`, with no number left out.
fn assert_in_order(origin: &Origin, contiguous: bool) {
    let mut firsts: Vec<u64> = vec![];
    for r in segment_requests(origin) {
        let n = segment_number(&r.name).unwrap();
        if !firsts.contains(&n) {
            firsts.push(n);
        }
    }
    assert!(!firsts.is_empty(), "no segment was fetched");
    for pair in firsts.windows(2) {
        assert!(
            pair[1] > pair[0] && (!contiguous || pair[1] == pair[0] + 1),
            "segments fetched out of order or with a hole: {firsts:?}"
        );
    }
}

/// Asserts the first segment asked for after `after` lies at least three
/// target durations from the end of the playlist the relay last read
/// (RFC 8216 6.3.3), and within its window: 2 to 4 segments before its
/// newest.
fn assert_joined_near_live_edge(origin: &Origin, after: Instant) {
    let requests = origin.http.requests();
    let (i, first) = requests
        .iter()
        .enumerate()
        .find(|(_, r)| r.at >= after && is_segment(&r.name))
        .expect("a segment was fetched");
    let newest = requests[..i]
        .iter()
        .rev()
        .find_map(|r| r.newest)
        .expect("a media playlist was read first");
    let n = segment_number(&first.name).unwrap();
    assert!(
        n + 2 <= newest && n + 4 >= newest,
        "joined at segment {n} of a playlist ending at {newest}"
    );
}

/// A live origin of `encoding` relayed from its live edge, without a
/// fallback: the tone airs without a gap from its first sound to the stop,
/// each segment is fetched once and in order, and the relay's one row
/// counts what aired.
fn relays_live(encoding: Encoding) -> Origin {
    let (dir, _) = station();
    let origin = Origin::start(encoding, Signal::Sine(440));
    let url = origin.url();
    let joined = Instant::now();
    let mut air = Air::relay(dir.path().join("out.wav"), &[&url], None, None);
    air.wait_started(&url, JOIN);
    air.run(Duration::from_secs(6));
    let aired = air.finish();

    let first = aired.first('A', 0).expect("the tone aired");
    aired.assert_only('A', first, "the tone without a gap");
    let rows = aired.rows();
    assert!(
        rows.len() == 1
            && rows[0].kind == SourceKind::Stream
            && rows[0].source == url
            && rows[0].outcome == Ending::Cut,
        "one row, the relay, cut by the stop: {rows:?}"
    );
    aired.assert_relayed(&url, aired.count('A'));
    assert_each_segment_once(&origin, &[]);
    assert_in_order(&origin, true);
    assert_joined_near_live_edge(&origin, joined);
    origin
}

#[test]
fn ts_aac_live_airs_each_second_from_the_joined_segment_on_once_and_in_order() {
    let (dir, _) = station();
    // The stepped tone: the output says which second of the origin aired.
    let origin = Origin::start(Encoding::TsAac, Signal::Steps);
    let url = origin.url();
    let joined = Instant::now();
    let mut air = Air::relay(dir.path().join("out.wav"), &[&url], None, None);
    air.wait_started(&url, JOIN);
    air.run(Duration::from_secs(8));
    let aired = air.finish();

    assert_each_segment_once(&origin, &[]);
    assert_in_order(&origin, true);
    assert_joined_near_live_edge(&origin, joined);
    // From its first sound, the relay airs the origin from the start of the
    // segment it joined at (nothing skipped to get closer to live), each
    // second once, at a constant delay.
    let lag = aired.assert_steady();
    let first_sound = aired.line.find(|c| c != '.').unwrap() * WINDOW;
    let aired_from = first_sound as f64 / RATE as f64 - lag;
    let joined_at = segment_number(&segment_requests(&origin)[0].name).unwrap();
    let segment_start = joined_at as f64 * SEGMENT_SECONDS;
    assert!(
        (aired_from - segment_start).abs() <= 0.3,
        "the relay began at second {aired_from:.2} of the origin, segment {joined_at} at {segment_start:.2}"
    );
    let rows = aired.rows();
    assert!(
        rows.len() == 1
            && rows[0].kind == SourceKind::Stream
            && rows[0].source == url
            && rows[0].outcome == Ending::Cut,
        "one row, the relay, cut by the stop: {rows:?}"
    );
    aired.assert_relayed(&url, aired.sounding());
}

#[test]
fn fmp4_aac_live_is_relayed() {
    let origin = relays_live(Encoding::Fmp4Aac);
    assert!(
        origin.http.fetches("init.mp4") >= 1,
        "the init segment was read"
    );
}

#[test]
fn aes_128_segments_are_decrypted() {
    let origin = relays_live(Encoding::TsAacAes128);
    assert!(origin.http.fetches("key.bin") >= 1, "the key was fetched");
}

#[test]
fn mp3_in_ts_live_is_relayed() {
    relays_live(Encoding::TsMp3);
}

#[test]
fn packed_aac_live_is_relayed() {
    relays_live(Encoding::PackedAac);
}

#[test]
fn a_playlist_with_an_endlist_airs_once_from_its_start_to_its_end() {
    let (dir, _) = station();
    let origin = Origin::ended(440, 7);
    let url = origin.url();
    let mut air = Air::relay(dir.path().join("out.wav"), &[&url], None, None);
    air.wait_started(&url, JOIN);
    air.wait_until(
        "the end of the stream",
        Duration::from_secs(10),
        |line, _| {
            let sounded = line.trim_end_matches('.');
            sounded.contains('A') && line.len() - sounded.len() >= SECOND
        },
    );
    let aired = air.finish();

    // All of it, from the first segment (an ended stream has no live edge to
    // keep away from), once, without a gap.
    let requests = segment_requests(&origin);
    assert_eq!(requests[0].name, "seg00000.ts", "from the start");
    assert_each_segment_once(&origin, &[]);
    assert_in_order(&origin, true);
    let first = aired.first('A', 0).expect("the tone aired");
    let last = aired.last('A', aired.line.len()).unwrap();
    assert!(
        aired.span(first, last + 1).chars().all(|c| c == 'A'),
        "without a gap: {}",
        aired.line
    );
    let aired_secs = aired.sounding() as f64 / SECOND as f64;
    let listed = origin.listed_seconds();
    assert!(
        (aired_secs - listed).abs() <= 0.2,
        "{aired_secs:.2} s aired of the {listed:.2} s listed: {}",
        aired.line
    );
    aired.assert_relayed(&url, aired.sounding());
}

#[test]
fn a_master_playlist_airs_the_lowest_rendition_or_the_lowest_at_or_above_the_bandwidth() {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::master(
        Rendition { hz: 440, kbps: 32 },
        Rendition { hz: 880, kbps: 96 },
    );
    let bandwidths = origin.bandwidths();
    let low = bandwidths.iter().map(|b| b.1).min().unwrap();
    let high = bandwidths.iter().map(|b| b.1).max().unwrap();
    assert!(low < high, "two renditions: {bandwidths:?}");
    assert_eq!(bandwidths[0].1, high, "the higher is listed first");
    let url = origin.url();

    let mut lowest = Air::relay(dir.path().join("lowest.wav"), &[&url], None, None);
    let mut above = Air::relay(dir.path().join("above.wav"), &[&url], Some(low + 1), None);
    lowest.wait_started(&url, JOIN);
    above.wait_started(&url, JOIN);
    std::thread::sleep(Duration::from_secs(5));
    let (lowest, above) = (lowest.finish(), above.finish());

    // Without `bandwidth`: the lowest rendition, 440 Hz.
    let first = lowest.first('A', 0).expect("the lower rendition aired");
    lowest.assert_only('A', first, "the lower rendition only");
    lowest.assert_relayed(&url, lowest.count('A'));
    // Above the lower's BANDWIDTH: the higher, 880 Hz.
    let first = above.first('C', 0).expect("the higher rendition aired");
    above.assert_only('C', first, "the higher rendition only");
    above.assert_relayed(&url, above.count('C'));
}

#[test]
fn a_missing_segment_leaves_no_dead_air_and_the_relay_goes_on() {
    let (dir, fallback) = station();
    let origin = Origin::start(Encoding::TsAac, Signal::Sine(440));
    let url = origin.url();
    let mut air = Air::relay(dir.path().join("out.wav"), &[&url], None, Some(&fallback));
    air.wait_started(&url, JOIN);
    air.run(Duration::from_secs(2));
    let lost = origin.upcoming(1);
    let after = origin.upcoming(2);
    origin.http.lose(&lost);
    air.run(Duration::from_secs(18));
    wait_fetched(&origin, &after, Duration::from_secs(10));
    air.wait_settled_on('A');
    let aired = air.finish();

    assert!(
        origin.http.fetches(&lost) >= 1,
        "the relay asked for {lost}"
    );
    assert_eq!(
        origin.http.fetches(&after),
        1,
        "the relay went on past {lost}"
    );
    assert_each_segment_once(&origin, &[&lost]);
    // Bridged by the buffer or covered by the fallback, never dead air; the
    // relay is back well before the end.
    let first = aired.first('A', 0).expect("the tone aired");
    aired.assert_no_dead_air(first);
    aired.assert_only('A', aired.stopped - SECOND, "the relay at the end");
    aired.assert_relayed(&url, aired.count('A'));
    aired.assert_fallback_rows();
}

#[test]
fn segments_missing_longer_than_the_buffer_air_the_fallback_then_the_relay_again() {
    let (dir, fallback) = station();
    let origin = Origin::start(Encoding::TsAac, Signal::Sine(440));
    let url = origin.url();
    let mut air = Air::relay(dir.path().join("out.wav"), &[&url], None, Some(&fallback));
    air.wait_started(&url, JOIN);
    air.run(Duration::from_secs(2));
    let mark = air.now();
    // Five segments in a row: 10 s, more than the relay buffers.
    let lost: Vec<String> = (1..=5).map(|k| origin.upcoming(k)).collect();
    for name in &lost {
        origin.http.lose(name);
    }
    air.wait_on_air('F', mark, SECOND, Duration::from_secs(15));
    air.wait_settled_on('A');
    let aired = air.finish();

    let f = aired.first('F', mark).expect("the fallback aired");
    aired.first('A', f).expect("the relay came back");
    aired.assert_no_dead_air(aired.first('A', 0).unwrap());
    aired.assert_only('A', aired.stopped - SECOND, "the relay at the end");
    let lost: Vec<&str> = lost.iter().map(String::as_str).collect();
    assert_each_segment_once(&origin, &lost);
    assert_in_order(&origin, false);
    aired.assert_relayed(&url, aired.count('A'));
    aired.assert_fallback_rows();
}

#[test]
fn a_playlist_that_stops_advancing_airs_the_fallback_then_the_relay_rejoins_at_the_live_edge() {
    let (dir, fallback) = station();
    let origin = Origin::start(Encoding::TsAac, Signal::Sine(440));
    let url = origin.url();
    let mut air = Air::relay(dir.path().join("out.wav"), &[&url], None, Some(&fallback));
    air.wait_started(&url, JOIN);
    air.run(Duration::from_secs(2));
    let frozen = air.now();
    origin.http.freeze();
    // The buffer plays out and the fallback covers; it stays while frozen.
    air.wait_on_air('F', frozen, SECOND, Duration::from_secs(15));
    air.run(Duration::from_secs(2));
    let thawed = air.now();
    let thawed_at = Instant::now();
    origin.http.thaw();
    air.wait_settled_on('A');
    let aired = air.finish();

    // The buffer plays out, then the fallback; nothing old is aired again
    // while the playlist stands still.
    let f = aired.first('F', frozen).expect("the fallback aired");
    assert!(
        f < thawed,
        "the fallback aired before the thaw: {}",
        aired.line
    );
    assert!(
        !aired.span(f, thawed).contains('A'),
        "nothing relayed while frozen once the buffer ran out: {}",
        aired.line
    );
    aired.first('A', thawed).expect("the relay rejoined");
    aired.assert_only('A', aired.stopped - SECOND, "the relay at the end");
    aired.assert_no_dead_air(aired.first('A', 0).unwrap());
    assert_each_segment_once(&origin, &[]);
    assert_in_order(&origin, false);
    assert_joined_near_live_edge(&origin, thawed_at);
    aired.assert_relayed(&url, aired.count('A'));
    aired.assert_fallback_rows();
}

#[test]
fn a_connection_cut_mid_segment_is_retried_with_nothing_lost_or_repeated() {
    let (dir, fallback) = station();
    // The stepped tone: the output says which second of the origin aired.
    let origin = Origin::start(Encoding::TsAac, Signal::Steps);
    let url = origin.url();
    let mut air = Air::relay(dir.path().join("out.wav"), &[&url], None, Some(&fallback));
    air.wait_started(&url, JOIN);
    air.run(Duration::from_secs(2));
    origin.http.cut_next(1);
    // The cut segment fetched again, and its seconds and the next one's on
    // the air.
    let until = Instant::now() + patience(Duration::from_secs(8));
    let cut = loop {
        let refetched = origin
            .http
            .requests()
            .into_iter()
            .find(|r| r.cut)
            .filter(|r| origin.http.fetches(&r.name) >= 2);
        if let Some(r) = refetched {
            break r;
        }
        assert!(
            Instant::now() < until,
            "no segment was cut and fetched again"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let past = ((segment_number(&cut.name).unwrap() + 1) as f64 * SEGMENT_SECONDS) as u64 + 1;
    air.wait_until(
        &format!("second {past} of the origin"),
        Duration::from_secs(10),
        |_, frames| steps_clock(frames).last().is_some_and(|(_, s)| *s >= past),
    );
    let aired = air.finish();

    assert_each_segment_once(&origin, &[&cut.name]);
    assert_in_order(&origin, true);
    // Every second of the origin aired once, in order, at a constant delay:
    // nothing lost, nothing repeated, no pause.
    aired.assert_steady();
    assert!(
        aired.first('F', aired.started(&url).unwrap()).is_none(),
        "the retry needed no fallback: {}",
        aired.line
    );
    aired.assert_relayed(&url, aired.sounding());
}

#[test]
fn an_origin_restart_passes_its_discontinuity_without_a_stall() {
    let (dir, fallback) = station();
    let origin = Origin::start(Encoding::TsAac, Signal::Sine(440));
    let url = origin.url();
    let mut air = Air::relay(dir.path().join("out.wav"), &[&url], None, Some(&fallback));
    air.wait_started(&url, JOIN);
    air.run(Duration::from_secs(2));
    let restarted = air.now();
    origin.restart(Signal::Sine(660));
    air.wait_settled_on('B');
    let aired = air.finish();

    let b = aired
        .first('B', restarted)
        .expect("the restarted origin aired");
    assert!(
        !aired.span(b, aired.stopped).contains('A'),
        "the old tone never comes back: {}",
        aired.line
    );
    let a = aired.last('A', b).expect("the first origin aired");
    assert!(
        b - a <= 10 && !aired.span(a, b).contains('F'),
        "from the old origin to the new in at most 0.2 s: {}",
        aired.line
    );
    aired.assert_no_dead_air(aired.first('A', 0).unwrap());
    aired.assert_only('B', aired.stopped - SECOND, "the new origin at the end");
    assert!(
        aired.first('F', aired.first('A', 0).unwrap()).is_none(),
        "no fallback once relayed: {}",
        aired.line
    );
    assert_each_segment_once(&origin, &[]);
    assert_in_order(&origin, true);
    aired.assert_relayed(&url, aired.count('A') + aired.count('B'));
}

#[test]
fn a_link_slower_than_real_time_is_covered_by_the_fallback_and_the_relay_returns() {
    let (dir, fallback) = station();
    let origin = Origin::start(Encoding::TsAac, Signal::Sine(440));
    let url = origin.url();
    let mut air = Air::relay(dir.path().join("out.wav"), &[&url], None, Some(&fallback));
    air.wait_started(&url, JOIN);
    air.run(Duration::from_secs(2));
    let slowed = air.now();
    // About 7 kB make a second of this stream: 2 kB/s is 3.5 times too slow.
    origin.http.throttle(Some(2_000));
    air.wait_on_air('F', slowed, SECOND, Duration::from_secs(16));
    // Still too slow for a while: the relay must not flap back meanwhile.
    air.run(Duration::from_secs(6));
    let restored = air.now();
    origin.http.throttle(None);
    air.wait_settled_on('A');
    let aired = air.finish();

    let f = aired.first('F', slowed).expect("the fallback aired");
    assert!(
        f < restored,
        "the fallback covered the slow link: {}",
        aired.line
    );
    // Once on the fallback, the relay does not flap back for a segment or
    // two while the link is still too slow: it returns once it keeps up.
    let back = aired.first('A', f).expect("the relay returned");
    assert!(
        back >= restored,
        "the relay came back at window {back}, before the link was restored at {restored}: {}",
        aired.line
    );
    aired.assert_only('A', aired.stopped - SECOND, "the relay at the end");
    aired.assert_no_dead_air(aired.first('A', 0).unwrap());
    // A slow segment may be fetched again, but never an older one after it.
    assert_in_order(&origin, false);
    aired.assert_relayed(&url, aired.count('A'));
    aired.assert_fallback_rows();
}

#[test]
fn the_second_source_airs_while_the_first_is_dead_and_the_relay_returns_to_the_first() {
    let (dir, fallback) = station();
    let (first_origin, second_origin) = std::thread::scope(|s| {
        let second = s.spawn(|| Origin::start(Encoding::TsAac, Signal::Sine(660)));
        let first = Origin::start(Encoding::TsAac, Signal::Sine(440));
        (first, second.join().unwrap())
    });
    first_origin.http.set_refusing(true);
    let (first_url, second_url) = (first_origin.url(), second_origin.url());
    let mut air = Air::relay(
        dir.path().join("out.wav"),
        &[&first_url, &second_url],
        None,
        Some(&fallback),
    );
    air.wait_started(&second_url, JOIN);
    air.run(Duration::from_secs(4));
    let back = air.now();
    let back_at = Instant::now();
    first_origin.http.set_refusing(false);
    air.wait_started(&first_url, Duration::from_secs(30));
    air.run(Duration::from_secs(5));
    let aired = air.finish();

    let b = aired.first('B', 0).expect("the second source aired");
    assert!(
        aired.first('A', 0).is_none_or(|a| a >= back),
        "the first source aired only once back: {}",
        aired.line
    );
    let a = aired
        .first('A', back)
        .expect("the relay returned to the first");
    assert!(
        !aired.span(a, aired.stopped).contains('B'),
        "it stayed on the first: {}",
        aired.line
    );
    let last_b = aired.last('B', a).unwrap();
    assert!(
        a - last_b <= 25 && !aired.span(last_b, a).contains('F'),
        "the switch back took at most 0.5 s, without the fallback: {}",
        aired.line
    );
    aired.assert_no_dead_air(b);
    aired.assert_relayed(&second_url, aired.count('B'));
    aired.assert_relayed(&first_url, aired.count('A'));
    assert_each_segment_once(&first_origin, &[]);
    assert_each_segment_once(&second_origin, &[]);
    assert_joined_near_live_edge(&first_origin, back_at);
}

/// A relay whose only source is dead from the start: the fallback airs
/// within the silence window and stays, and the rows say the relay failed
/// and why.
fn dead_from_the_start_airs_the_fallback(url: &str, cause: &str) {
    let (dir, fallback) = station();
    let out = dir.path().join("out.wav");
    let mut air = Air::relay_ahead(out, &[url], None, Some(&fallback), LEAD);
    let played = air.played;
    air.wait_on_air('F', played, SECOND, Duration::from_secs(4));
    let aired = air.finish();

    let f = aired.first('F', 0).expect("the fallback aired");
    assert!(
        f <= aired.played + SILENCE.as_millis() as usize / 20 + 15,
        "the fallback aired {} s after the start (silence window {SILENCE:?}): {}",
        (f - aired.played) as f64 / SECOND as f64,
        aired.line
    );
    aired.assert_only('F', f, "the fallback to the end");
    aired.assert_fallback_rows();
    let rows = aired.rows();
    assert!(
        rows.iter().any(|r| r.kind == SourceKind::Stream
            && r.source == url
            && r.aired == 0
            && matches!(&r.outcome, Ending::Failed(why) if why.to_lowercase().contains(cause))),
        "a failed relay row saying `{cause}`, nothing aired: {rows:?}"
    );
    assert_eq!(aired.relayed(url), 0, "{rows:?}");
    assert!(
        aired.started(url).is_none(),
        "a relay that made no sound never started: {:?}",
        aired.events
    );
}

#[test]
fn a_refused_source_airs_the_fallback_and_a_failed_row() {
    dead_from_the_start_airs_the_fallback(&refused_url(), "refused");
}

#[test]
fn a_playlist_answering_404_airs_the_fallback_and_a_failed_row() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    dead_from_the_start_airs_the_fallback(&server.url("live.m3u8"), "404");
}

#[test]
fn an_unreadable_playlist_airs_the_fallback_and_a_failed_row() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("live.m3u8"),
        "<html><body>Service temporarily unavailable</body></html>\n",
    )
    .unwrap();
    let server = Server::start(dir.path());
    // Any cause: only that the row says it failed.
    dead_from_the_start_airs_the_fallback(&server.url("live.m3u8"), "");
}

#[test]
fn a_source_dead_from_the_start_takes_over_from_the_fallback_when_it_answers() {
    let (dir, fallback) = station();
    let origin = Origin::start(Encoding::TsAac, Signal::Sine(440));
    origin.http.set_unavailable(true);
    let url = origin.url();
    let out = dir.path().join("out.wav");
    let mut air = Air::relay_ahead(out, &[&url], None, Some(&fallback), LEAD);
    let played = air.played;
    air.wait_on_air('F', played, SECOND, Duration::from_secs(4));
    let back = air.now();
    let back_at = Instant::now();
    origin.http.set_unavailable(false);
    air.wait_started(&url, Duration::from_secs(30));
    air.wait_settled_on('A');
    let aired = air.finish();

    let f = aired.first('F', 0).expect("the fallback aired");
    assert!(
        f <= aired.played + SILENCE.as_millis() as usize / 20 + 15,
        "the fallback within the silence window: {}",
        aired.line
    );
    assert!(
        aired.first('A', 0).is_some_and(|a| a >= back),
        "the relay aired once the origin answered: {}",
        aired.line
    );
    aired.assert_no_dead_air(f);
    aired.assert_only('A', aired.stopped - SECOND, "the relay at the end");
    assert_joined_near_live_edge(&origin, back_at);
    aired.assert_relayed(&url, aired.count('A'));
    aired.assert_fallback_rows();
}

/// `make test` runs this one separately: ten minutes of real time.
#[test]
#[ignore]
fn ten_minutes_of_relay_stay_at_the_distance_from_the_live_edge_it_joined_at() {
    let (dir, _) = station();
    let origin = Origin::start(Encoding::TsAac, Signal::Steps);
    let url = origin.url();
    let mut air = Air::relay(dir.path().join("out.wav"), &[&url], None, None);
    air.wait_started(&url, JOIN);
    air.run(Duration::from_secs(600));
    let aired = air.finish();

    // What aired: the origin's seconds, one after the other, at a delay
    // within two target durations of the delay at the join.
    let clock = aired.steps_clock();
    assert!(
        clock.len() >= 590,
        "ten minutes of seconds: {}",
        clock.len()
    );
    for pair in clock.windows(2) {
        assert_eq!(pair[1].1, pair[0].1 + 1, "seconds in order");
    }
    let joined = lag(&clock[0]);
    let worst = clock
        .iter()
        .map(|c| (lag(c) - joined).abs())
        .fold(0.0, f64::max);
    println!(
        "ten minutes of relay: {} origin seconds in order; {joined:.2} s behind the origin at the \
         join, at most {worst:.2} s from that afterwards (bound {:.0} s)",
        clock.len(),
        2.0 * TARGET.as_secs_f64()
    );
    assert!(
        worst <= 2.0 * TARGET.as_secs_f64(),
        "the delay moved {worst:.2} s from the join's"
    );
    // What was fetched: each segment once, in order, never further from the
    // playlist's newest than at the join plus two.
    assert_each_segment_once(&origin, &[]);
    assert_in_order(&origin, true);
    let mut newest = None;
    let mut distances = vec![];
    for r in origin.http.requests() {
        if r.newest.is_some() {
            newest = r.newest;
        } else if let (true, Some(n)) = (is_segment(&r.name), newest) {
            distances.push(n.saturating_sub(segment_number(&r.name).unwrap()));
        }
    }
    let at_join = distances[0];
    assert!(
        distances.iter().all(|d| *d <= at_join + 2),
        "segments fetched {} behind the newest (joined {at_join} behind)",
        distances.iter().max().unwrap()
    );
}
