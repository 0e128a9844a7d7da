//! Loa's audio engine: what puts sound on the loudspeakers.
//!
//! Module map:
//! - [`deck`]: a [`Deck`] per output airs one [`Item`] at a time by
//!   [`Priority`], with preemption, resumption, hard ends and airtime events;
//!   [`VirtualDeck`] is the same on a virtual clock.
//! - [`output`]: where audio goes (`device:NAME`, `wav:PATH`, `null`) behind
//!   the [`Output`] trait; [`list_devices`] for `loa devices`.
//! - [`item`]: what the daemon hands a deck and the events it gets back.
//! - [`probe`]: recognise a media file and tell its playing length.
//! - [`loudness`]: EBU R128 measurement (cached) and normalisation gain.
//! - [`tts`]: text to speech through a configurable command, cached.
//! - [`stream`]: HTTP(S) relays with reconnection, silence detection, fallback.
//! - internal: `contain` (a decoder's panic becomes its item's error),
//!   `decode` (files to the engine format), `resample`, `source`
//!   (files, playlists, tone, silence, chime), `live` (capture), `prepare`
//!   (items to sources, off the audio thread), `format` (48 kHz stereo f32),
//!   `ring` (the wait-free rings between threads).
//!
//! The engine knows nothing of YAML or MQTT; the daemon drives it with plain
//! types (paths, URLs, durations, priorities, instants).
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use loa_audio::{DeckConfig, DeckEvent, Item, Media, Ending, OutputSpec, Priority, VirtualDeck};
//!
//! // A deck on a virtual clock (`Deck::open` is the same on the real one).
//! let epoch = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
//! let mut deck = VirtualDeck::open(&OutputSpec::Null, DeckConfig::default(), epoch).unwrap();
//! let music = deck.play(Item::new(
//!     Media::Tone { hz: 440.0, length: Duration::from_secs(60) },
//!     Priority::Filler,
//! ));
//! // An announcement at 10 s preempts it; the filler resumes afterwards.
//! let chime = deck.play(Item::new(Media::Chime, Priority::Emergency)
//!     .starting_at(epoch + Duration::from_secs(10)));
//! // The window closes at 30 s: the filler fades out, silent exactly then.
//! deck.end_at(music, epoch + Duration::from_secs(30));
//! deck.run_until(epoch + Duration::from_secs(31));
//! let ends: Vec<_> = deck.events().try_iter().filter_map(|e| match e {
//!     DeckEvent::ItemEnded { item, outcome, at } => Some((item, outcome, at)),
//!     _ => None,
//! }).collect();
//! assert_eq!(ends[0].0, chime);
//! assert_eq!(ends[1], (music, Ending::Cut, epoch + Duration::from_secs(30)));
//! ```

// One call has no safe wrapper (real-time priority, output/device.rs); it
// says so where it allows itself the exception.
#![deny(unsafe_code)]

mod contain;
pub mod deck;
mod decode;
pub mod format;
// Lengths a file claims, checked before symphonia allocates them.
mod claims;
pub mod item;
mod live;
pub mod loudness;
pub mod output;
mod prepare;
pub mod probe;
mod resample;
mod ring;
mod source;
pub mod stream;
pub mod tts;

pub use deck::{Deck, DeckConfig, VirtualDeck};

/// How long the built-in attention chime sounds.
pub const BUILTIN_CHIME: std::time::Duration = std::time::Duration::from_millis(1600);
pub use item::{
    DeckEvent, Ending, EventSink, Item, ItemId, Media, Order, Piece, Priority, SourceKind, Wake,
};
pub use loudness::Loudness;
pub use output::{
    check_icecast, list_devices, open_output, open_output_retrying, AudioDevice, Clock,
    IcecastRefusal, Output, OutputError, OutputSpec,
};
pub use probe::{media_length, ProbeError};
pub use stream::SilencePolicy;
pub use tts::TtsConfig;
