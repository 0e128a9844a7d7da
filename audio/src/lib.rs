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
//! - internal: `decode` (files to the engine format), `resample`, `source`
//!   (files, playlists, tone, silence, chime), `live` (capture), `prepare`
//!   (items to sources, off the audio thread), `format` (48 kHz stereo f32).
//!
//! The engine knows nothing of YAML or MQTT; the daemon drives it with plain
//! types (paths, URLs, durations, priorities, instants).

pub mod deck;
mod decode;
pub mod format;
pub mod item;
mod live;
pub mod loudness;
pub mod output;
mod prepare;
pub mod probe;
mod resample;
mod source;
pub mod stream;
pub mod tts;

pub use deck::{Deck, DeckConfig, VirtualDeck};
pub use item::{DeckEvent, Item, ItemId, Media, Order, Outcome, Piece, Priority, SourceKind};
pub use loudness::Loudness;
pub use output::{
    list_devices, open_output, open_output_retrying, AudioDevice, Clock, Output, OutputError,
    OutputSpec,
};
pub use probe::{media_length, ProbeError};
pub use stream::SilencePolicy;
pub use tts::TtsConfig;
