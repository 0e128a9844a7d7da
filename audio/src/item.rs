//! What the daemon hands a deck (an [`Item`] at a [`Priority`]) and what the
//! deck reports back ([`DeckEvent`]s for the airtime log).

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

pub use loa_core::Priority;

/// Order of a playlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    #[default]
    Sequential,
    Shuffle,
}

/// The sound an item makes.
#[derive(Debug, Clone, PartialEq)]
pub enum Media {
    /// One file or a playlist, played gaplessly.
    Files {
        paths: Vec<PathBuf>,
        order: Order,
    },
    /// The file matching a glob with the newest modification time; an older
    /// one than `max_age` fails the item.
    Newest {
        pattern: PathBuf,
        max_age: Option<Duration>,
    },
    /// Text spoken by the TTS command, in `voice` (its `None`s: the
    /// station's).
    Tts {
        text: String,
        voice: loa_core::Voice,
    },
    /// A relay: Icecast/Shoutcast or HLS over http(s). `sources` are tried in
    /// order when the one airing dies, and the relay returns to the first
    /// when it is back; `fallback` files play while none has audio.
    Stream {
        sources: Vec<String>,
        /// HLS master playlists: the lowest rendition at or above this many
        /// bits per second (None: the lowest).
        bandwidth: Option<u64>,
        fallback: Vec<PathBuf>,
    },
    /// A capture device (`default` or an ALSA name) routed to the output.
    Live {
        input: String,
    },
    Tone {
        hz: f32,
        length: Duration,
    },
    Silence(Duration),
    /// The built-in two-tone attention chime.
    Chime,
}

impl Media {
    /// One file.
    pub fn file(path: impl Into<PathBuf>) -> Media {
        Media::Files {
            paths: vec![path.into()],
            order: Order::Sequential,
        }
    }
}

/// One thing to air on a deck.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub media: Media,
    pub priority: Priority,
    /// Air no earlier than this instant (sample-exact on the deck's clock);
    /// None: as soon as it is ready.
    pub start_at: Option<SystemTime>,
    /// Start this far into the media (joining late); crosses playlist files.
    pub offset: Duration,
    /// Hard end: fade out over the deck's end fade, silent exactly then.
    pub end_at: Option<SystemTime>,
    /// Relative gain, 0..=1 (program volume).
    pub volume: f32,
    /// Loudness normalisation for files and TTS; None: the deck's default.
    pub loudness_target: Option<Option<f64>>,
    /// Continues another item of the same program on this deck: it airs
    /// from the sample that item leaves the deck (however it ends), in its
    /// place among equals, so nothing beneath sounds in between and the two
    /// follow each other with no gap. Given ahead, it is prepared while the
    /// other airs. `start_at` still applies (no earlier than).
    pub after: Option<ItemId>,
    /// What listeners are told airs (an Icecast mount's now-playing
    /// title): the program's title, set by the daemon.
    pub title: Option<String>,
}

impl Item {
    pub fn new(media: Media, priority: Priority) -> Item {
        Item {
            media,
            priority,
            start_at: None,
            offset: Duration::ZERO,
            end_at: None,
            volume: 1.0,
            loudness_target: None,
            after: None,
            title: None,
        }
    }
    pub fn titled(mut self, title: impl Into<String>) -> Item {
        self.title = Some(title.into());
        self
    }
    /// Airs when `prev` leaves the deck, in its place (see [`Item::after`]).
    pub fn following(mut self, prev: ItemId) -> Item {
        self.after = Some(prev);
        self
    }
    pub fn starting_at(mut self, t: SystemTime) -> Item {
        self.start_at = Some(t);
        self
    }
    pub fn from_offset(mut self, d: Duration) -> Item {
        self.offset = d;
        self
    }
    pub fn ending_at(mut self, t: SystemTime) -> Item {
        self.end_at = Some(t);
        self
    }
    pub fn with_volume(mut self, v: f32) -> Item {
        self.volume = v;
        self
    }
    /// Normalise toward `lufs` (None: no normalisation) instead of the deck's default.
    pub fn with_loudness(mut self, lufs: Option<f64>) -> Item {
        self.loudness_target = Some(lufs);
        self
    }
}

/// A deck's handle on an item it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemId(pub u64);

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "item#{}", self.0)
    }
}

/// Airtime `source_kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    File,
    Stream,
    Tts,
    Live,
    Tone,
    Silence,
    Chime,
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceKind::File => "file",
            SourceKind::Stream => "stream",
            SourceKind::Tts => "tts",
            SourceKind::Live => "live",
            SourceKind::Tone => "tone",
            SourceKind::Silence => "silence",
            SourceKind::Chime => "chime",
        })
    }
}

/// One airtime row's worth of an item: a file of a playlist, a fallback
/// file, the relay itself, a TTS text...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub kind: SourceKind,
    /// Path, URL, TTS text, input name, or a description ("1000 Hz").
    pub source: String,
}

/// How a deck item or a piece ended, with the reason when it failed. Its
/// word in the airtime log is [`Ending::outcome`] (the one vocabulary,
/// `loa_core::Outcome`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Played to its natural end.
    Completed,
    /// Stopped, or faded out at its hard end, while airing.
    Cut,
    /// Paused or muted by a higher item and never resumed.
    Preempted,
    /// Could not play (missing, corrupt, unreachable...): the reason.
    Failed(String),
    /// Removed before it made any sound (stopped or ended while waiting).
    NotAired,
}

impl Ending {
    /// The airtime log's outcome for this ending.
    pub fn outcome(&self) -> loa_core::Outcome {
        match self {
            Ending::Completed => loa_core::Outcome::Completed,
            Ending::Cut => loa_core::Outcome::Cut,
            Ending::Preempted => loa_core::Outcome::Preempted,
            Ending::Failed(_) => loa_core::Outcome::Failed,
            Ending::NotAired => loa_core::Outcome::Skipped,
        }
    }
}

/// Called after a deck or its output reported something, so that an
/// owner waiting asynchronously (the daemon's loop) wakes when there is news
/// instead of polling. Runs on the audio threads: it must be quick and never
/// block (a `tokio::sync::Notify::notify_one`).
#[derive(Clone)]
pub struct Wake(pub std::sync::Arc<dyn Fn() + Send + Sync>);

impl fmt::Debug for Wake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Wake")
    }
}

/// Where a deck and its output send their [`DeckEvent`]s: a channel, and
/// the owner's [`Wake`] after each.
#[derive(Clone, Debug)]
pub struct EventSink {
    tx: std::sync::mpsc::Sender<DeckEvent>,
    wake: Option<Wake>,
}

impl EventSink {
    pub fn new(tx: std::sync::mpsc::Sender<DeckEvent>, wake: Option<Wake>) -> Self {
        EventSink { tx, wake }
    }

    /// Sends `e` (dropped if nobody listens any more) and wakes the owner.
    pub fn send(&self, e: DeckEvent) {
        let _ = self.tx.send(e);
        if let Some(w) = &self.wake {
            (w.0)();
        }
    }
}

impl From<std::sync::mpsc::Sender<DeckEvent>> for EventSink {
    fn from(tx: std::sync::mpsc::Sender<DeckEvent>) -> Self {
        EventSink::new(tx, None)
    }
}

/// What a deck reports, in the order it happened on its timeline. `at` is the
/// wall time of the sample concerned (the deck's clock: real or virtual).
#[derive(Debug, Clone, PartialEq)]
pub enum DeckEvent {
    /// A piece made its first sound.
    Started {
        item: ItemId,
        piece: Piece,
        at: SystemTime,
    },
    /// A piece ended; `aired_frames` counts the 48 kHz frames it sounded
    /// (a relay counts only relayed audio).
    Ended {
        item: ItemId,
        piece: Piece,
        outcome: Ending,
        aired_frames: u64,
        at: SystemTime,
    },
    /// The whole item is over; the deck has forgotten it.
    ItemEnded {
        item: ItemId,
        outcome: Ending,
        at: SystemTime,
    },
    /// The output stopped taking audio (device gone, disk full...).
    OutputFailed { reason: String, at: SystemTime },
    /// The output is back after a gap of `gap`.
    OutputRestored { gap: Duration, at: SystemTime },
}

impl DeckEvent {
    /// Aired time of an `Ended` piece.
    pub fn aired(&self) -> Option<Duration> {
        match self {
            DeckEvent::Ended { aired_frames, .. } => {
                Some(crate::format::frames_to_duration(*aired_frames))
            }
            _ => None,
        }
    }
}
