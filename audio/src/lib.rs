//! Loa audio engine.
