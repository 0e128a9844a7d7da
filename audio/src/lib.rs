//! Loa's audio engine: what puts sound on the loudspeakers.
//!
//! Module map:
//! - [`probe`]: recognise a media file and tell its playing length.
//!
//! The engine knows nothing of YAML or MQTT; the daemon drives it with plain
//! types (paths, URLs, durations, priorities, instants).

pub mod probe;
