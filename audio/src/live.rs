//! Live input: a capture device (microphone, line-in) routed to the output.
//!
//! The card's callback converts to the engine format and fills a small ring
//! (about 100 ms); the deck reads it. Live audio runs on while held (muted),
//! so it rejoins live, never with stale audio.

use std::sync::{Arc, Mutex};

use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{FromSample, Sample, SampleFormat, SizedSample};

use crate::format::{CHANNELS, RATE};
use crate::item::{Ending, Piece, SourceKind};
use crate::output::device::find_device;
use crate::output::OutputError;
use crate::resample::{to_stereo, Resampler};
use crate::ring;
use crate::source::{scale, PieceLog, Rendered, Source, Tracker};

/// Frames buffered between the capture callback and the deck.
const RING_FRAMES: usize = RATE as usize / 5;

pub(crate) struct LiveSource {
    _stream: cpal::Stream,
    pcm: rtrb::Consumer<f32>,
    tracker: Tracker,
    volume: f32,
    failure: Arc<Mutex<Option<String>>>,
    primed: bool,
}

impl LiveSource {
    pub fn open(input: &str, volume: f32) -> Result<Self, OutputError> {
        let err = |reason: String| OutputError::Capture {
            name: input.to_string(),
            reason,
        };
        let device = find_device(input, false).map_err(|_| err("no such device".into()))?;
        let config = device
            .default_input_config()
            .map_err(|e| err(format!("cannot capture: {e}")))?;
        // Prefer 48 kHz when the card offers it; resample otherwise.
        let chosen = device
            .supported_input_configs()
            .ok()
            .and_then(|mut it| {
                it.find(|r| {
                    r.contains_rate(RATE)
                        && r.sample_format() == config.sample_format()
                        && r.channels() == config.channels()
                })
            })
            .map(|r| r.with_sample_rate(RATE))
            .unwrap_or(config);
        let channels = chosen.channels() as usize;
        let rate = chosen.sample_rate();
        let (producer, consumer) = rtrb::RingBuffer::new(RING_FRAMES * CHANNELS);
        let failure = Arc::new(Mutex::new(None));
        let cfg = chosen.config();
        let stream = match chosen.sample_format() {
            SampleFormat::I16 => {
                build::<i16>(&device, cfg, channels, rate, producer, failure.clone())
            }
            SampleFormat::I32 => {
                build::<i32>(&device, cfg, channels, rate, producer, failure.clone())
            }
            SampleFormat::F32 => {
                build::<f32>(&device, cfg, channels, rate, producer, failure.clone())
            }
            other => return Err(err(format!("unsupported capture format {other}"))),
        }
        .map_err(|e| err(format!("cannot open for capture: {e}")))?;
        stream
            .play()
            .map_err(|e| err(format!("cannot start capture: {e}")))?;
        let mut tracker = Tracker::default();
        tracker.begin(Piece {
            kind: SourceKind::Live,
            source: input.to_string(),
        });
        Ok(LiveSource {
            _stream: stream,
            pcm: consumer,
            tracker,
            volume,
            failure,
            primed: false,
        })
    }
}

fn build<T: SizedSample>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    channels: usize,
    rate: u32,
    mut pcm: rtrb::Producer<f32>,
    failure: Arc<Mutex<Option<String>>>,
) -> Result<cpal::Stream, cpal::Error>
where
    f32: FromSample<T>,
{
    let mut resampler = Resampler::new(rate);
    let mut raw = Vec::new();
    let mut stereo = Vec::new();
    let mut out = Vec::new();
    device.build_input_stream::<T, _, _>(
        config,
        move |data: &[T], _| {
            raw.clear();
            raw.extend(data.iter().map(|s| f32::from_sample(*s)));
            stereo.clear();
            to_stereo(&raw, channels, &mut stereo);
            out.clear();
            resampler.process(&stereo, &mut out);
            // When the deck falls behind, the oldest audio is what goes.
            ring::push(&mut pcm, &out);
        },
        move |e: cpal::Error| {
            if let Ok(mut f) = failure.lock() {
                if f.is_none() {
                    *f = Some(e.to_string());
                }
            }
        },
        None,
    )
}

impl Source for LiveSource {
    fn render(&mut self, out: &mut [f32], audible: bool, log: &mut PieceLog) -> Rendered {
        // Wait until the ring is half full (100 ms) before reading, so it
        // absorbs the capture card's jitter.
        if !self.primed && self.pcm.slots() < RING_FRAMES * CHANNELS / 2 {
            out.fill(0.0);
        } else {
            self.primed = true;
            let n = ring::pop(&mut self.pcm, out);
            out[n..].fill(0.0);
            scale(&mut out[..n], self.volume);
        }
        // Live airs for as long as it is on the deck, gaps in capture included.
        self.tracker.sounded(0, out.len() / CHANNELS, audible, log);
        // try_lock: the audio thread never waits on the card's error callback.
        if let Some(e) = self.failure.try_lock().ok().and_then(|mut f| f.take()) {
            tracing::warn!("live input: {e}");
        }
        Rendered::More
    }

    fn runs_while_held(&self) -> bool {
        true
    }

    fn close(&mut self, outcome: &Ending, offset: usize, log: &mut PieceLog) {
        self.tracker.end(outcome.clone(), offset, log);
    }
}
