//! Sample-rate conversion to the engine rate, for files, relays and capture
//! cards that are not 48 kHz (44.1 kHz music, 22.05 kHz speech renders).
//!
//! Band-limited, with rubato's synchronous FFT resampler: the ratio of two
//! fixed rates is exact, so each block of input becomes a fixed block of
//! output through one FFT, a windowed-sinc filter (Blackman-Harris squared)
//! and one inverse FFT. A 15 kHz tone from 44.1 kHz comes out with nothing
//! else above -140 dB, where cubic interpolation left images at -14 dB, for
//! about 14 ns per output frame (0.07 % of one core at real time; `cargo
//! bench -p loa-audio --bench resample`). The filter's delay is taken out,
//! so the first input frame is output frame 0 and an item keeps its onset
//! and its length (input frames * 48000 / rate, to the frame). Live input
//! cannot be had early: a capture card not at 48 kHz (they are opened at
//! 48 kHz when they can) waits for a block and the filter, up to 10 ms at
//! 44.1 kHz.
//! At 48 kHz in it is a pass-through, so positions in 48 kHz files stay
//! sample-exact.

use rubato::audioadapter::Adapter;
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Async, Fft, FixedAsync, FixedSync, Indexing, SincInterpolationParameters,
    SincInterpolationType, WindowFunction,
};

use crate::format::RATE;

/// Input frames per FFT block, rounded up to the rates' smallest whole
/// block (147 at 44.1 kHz, so 294): the filter is this long. Longer costs
/// a little less per frame but delays live input more; 256 already keeps
/// everything spurious under -140 dB.
const BLOCK: usize = 256;

/// Rates whose smallest whole block is longer than this (47.999 kHz is one
/// second) go through rubato's sinc resampler instead, at a ratio fixed to
/// within its floating point; its delay is whole frames rounded down, so an
/// onset there may come up to a frame early.
const LONGEST_BLOCK: usize = 4096;

pub(crate) struct Resampler {
    /// `None` at the engine rate: a pass-through.
    conversion: Option<Conversion>,
}

struct Conversion {
    rate: u32,
    inner: Box<dyn rubato::Resampler<f32>>,
    /// Input frames waiting for a whole block, interleaved stereo.
    pending: Vec<f32>,
    /// One block of output.
    block: Vec<f32>,
    /// Output frames still to drop at the start: the filter's delay.
    delay_left: usize,
    frames_in: u64,
    frames_out: u64,
}

impl Resampler {
    pub fn new(input_rate: u32) -> Self {
        Resampler {
            conversion: (input_rate != RATE && input_rate != 0)
                .then(|| Conversion::new(input_rate)),
        }
    }

    /// Forgets what it holds, e.g. after a seek.
    pub fn reset(&mut self) {
        if let Some(c) = &mut self.conversion {
            c.reset();
        }
    }

    /// Converts interleaved stereo `input` and appends the result to `out`.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
        match &mut self.conversion {
            None => out.extend_from_slice(input),
            Some(c) => c.process(input, out),
        }
    }

    /// Lets the last input frames out at the end of a file, so that the
    /// output is exactly as long as the input, then starts afresh.
    pub fn flush(&mut self, out: &mut Vec<f32>) {
        if let Some(c) = &mut self.conversion {
            c.flush(out);
        }
    }
}

impl Conversion {
    fn new(rate: u32) -> Self {
        let (input, output) = (rate as usize, RATE as usize);
        let smallest_block = input / gcd(input, output);
        let inner: Box<dyn rubato::Resampler<f32>> = if smallest_block <= LONGEST_BLOCK {
            Box::new(
                Fft::new_custom(
                    input,
                    output,
                    BLOCK,
                    1,
                    2,
                    WindowFunction::BlackmanHarris2,
                    FixedSync::Both,
                )
                .expect("valid rates and block"),
            )
        } else {
            let parameters = SincInterpolationParameters {
                sinc_len: 256,
                f_cutoff: None,
                oversampling_factor: 256,
                interpolation: SincInterpolationType::Cubic,
                window: WindowFunction::BlackmanHarris2,
            };
            Box::new(
                Async::new_sinc(
                    output as f64 / input as f64,
                    1.0,
                    &parameters,
                    BLOCK,
                    2,
                    FixedAsync::Input,
                )
                .expect("valid rates and block"),
            )
        };
        let block = vec![0.0; inner.output_frames_max() * 2];
        let mut c = Conversion {
            rate,
            delay_left: inner.output_delay(),
            inner,
            pending: Vec::with_capacity(4 * BLOCK),
            block,
            frames_in: 0,
            frames_out: 0,
        };
        c.reset();
        c
    }

    fn reset(&mut self) {
        self.inner.reset();
        self.pending.clear();
        self.delay_left = self.inner.output_delay();
        self.frames_in = 0;
        self.frames_out = 0;
    }

    fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
        self.frames_in += (input.len() / 2) as u64;
        // Taken out while `convert` borrows the rest (no allocation).
        let mut pending = std::mem::take(&mut self.pending);
        pending.extend_from_slice(input);
        let frames = pending.len() / 2;
        let mut used = 0;
        while frames - used >= self.inner.input_frames_next() {
            let rest = InterleavedSlice::new(&pending[used * 2..], 2, frames - used)
                .expect("stereo frames");
            used += self.convert(&rest, None, out);
        }
        pending.drain(..used * 2);
        self.pending = pending;
    }

    fn flush(&mut self, out: &mut Vec<f32>) {
        // input * 48000 / rate, rounded: the file's length at the engine rate.
        let rate = self.rate as u64;
        let length = (self.frames_in * RATE as u64 + rate / 2) / rate;
        let frames = self.pending.len() / 2;
        let pending = std::mem::take(&mut self.pending);
        let rest = InterleavedSlice::new(&pending[..], 2, frames).expect("stereo frames");
        // The last partial block, then silence until the filter has let
        // the last input frame out.
        let mut partial = Some(frames);
        while self.frames_out < length {
            self.convert(&rest, partial, out);
            partial = Some(0);
        }
        let over = (self.frames_out - length) as usize;
        out.truncate(out.len() - over * 2);
        self.pending = pending;
        self.reset();
    }

    /// Converts one block from the start of `input` (of `partial` frames
    /// and silence after them, if given), appends what is past the delay
    /// to `out` and returns the input frames used.
    fn convert(
        &mut self,
        input: &dyn Adapter<f32>,
        partial: Option<usize>,
        out: &mut Vec<f32>,
    ) -> usize {
        let frames = self.inner.output_frames_next();
        let mut block =
            InterleavedSlice::new_mut(&mut self.block[..], 2, frames).expect("sized for a block");
        let indexing = Indexing {
            partial_len: partial,
            ..Indexing::default()
        };
        let (used, made) = self
            .inner
            .process_into_buffer(input, &mut block, Some(&indexing))
            .expect("buffers sized for the resampler");
        let skip = self.delay_left.min(made);
        self.delay_left -= skip;
        out.extend_from_slice(&self.block[skip * 2..made * 2]);
        self.frames_out += (made - skip) as u64;
        used
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Spreads or folds `channels`-channel interleaved samples to stereo.
pub(crate) fn to_stereo(input: &[f32], channels: usize, out: &mut Vec<f32>) {
    match channels {
        1 => {
            for &s in input {
                out.push(s);
                out.push(s);
            }
        }
        2 => out.extend_from_slice(input),
        n if n > 2 => {
            // Front left/right carry the programme in broadcast material.
            for f in input.chunks_exact(n) {
                out.push(f[0]);
                out.push(f[1]);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `frames` frames of a sine at `hz` sampled at `rate`, amplitude 0.5,
    /// interleaved stereo.
    fn tone(rate: u32, hz: f64, frames: usize) -> Vec<f32> {
        (0..frames)
            .flat_map(|i| {
                let s = (0.5 * (i as f64 * hz * std::f64::consts::TAU / rate as f64).sin()) as f32;
                [s, s]
            })
            .collect()
    }

    /// Everything `input` becomes, fed in calls of `sizes` frames in turn.
    fn convert(rate: u32, input: &[f32], sizes: &[usize]) -> Vec<f32> {
        let mut r = Resampler::new(rate);
        let mut out = Vec::new();
        let mut rest = input;
        for &n in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (now, later) = rest.split_at((n * 2).min(rest.len()));
            r.process(now, &mut out);
            rest = later;
        }
        r.flush(&mut out);
        out
    }

    fn left(stereo: &[f32]) -> Vec<f32> {
        stereo.iter().step_by(2).copied().collect()
    }

    /// The tone's level (dBFS) and the strongest other component relative to
    /// it (dB), from a Blackman-Harris-windowed FFT of 65,536 frames from the
    /// middle of `signal` (48 kHz), clear of the start and end.
    fn spectrum(signal: &[f32], tone_hz: f64) -> (f64, f64) {
        const N: usize = 65_536;
        assert!(signal.len() >= N + 16_384, "{} frames", signal.len());
        let start = (signal.len() - N) / 2;
        // 4-term Blackman-Harris: sidelobes at -92 dB, below what is measured.
        let a = [0.35875, 0.48829, 0.14128, 0.01168];
        let mut x: Vec<f64> = (0..N)
            .map(|i| {
                let p = std::f64::consts::TAU * i as f64 / N as f64;
                let w = a[0] - a[1] * p.cos() + a[2] * (2.0 * p).cos() - a[3] * (3.0 * p).cos();
                signal[start + i] as f64 * w
            })
            .collect();
        let fft = realfft::RealFftPlanner::<f64>::new().plan_fft_forward(N);
        let mut bins = fft.make_output_vec();
        fft.process(&mut x, &mut bins).unwrap();
        let mag: Vec<f64> = bins.iter().map(|c| c.norm()).collect();
        let tone_bin = (tone_hz * N as f64 / RATE as f64).round() as usize;
        // The window's main lobe is 4 bins each side; 8 leaves its skirt out.
        let lobe = tone_bin - 8..=tone_bin + 8;
        let peak = lobe.clone().map(|b| mag[b]).fold(0.0, f64::max);
        let spur = (0..mag.len())
            .filter(|b| !lobe.contains(b))
            .map(|b| mag[b])
            .fold(0.0, f64::max);
        // A sine of amplitude 1 peaks at N * a0 / 2 through the window.
        let full_scale = N as f64 * a[0] / 2.0;
        (
            20.0 * (peak / full_scale).log10(),
            20.0 * (spur / peak).log10(),
        )
    }

    /// Every spurious component of a tone converted to 48 kHz is 80 dB under
    /// the tone: 15 kHz where the input carries it, lower for speech rates.
    #[test]
    fn a_converted_tone_has_nothing_else_above_minus_80_db() {
        for (rate, hz) in [
            (44_100, 15_000.0),
            (22_050, 8_250.0),
            (16_000, 6_000.0),
            (32_000, 15_000.0),
            (96_000, 15_000.0),
            // An odd rate: through the sinc resampler.
            (44_056, 15_000.0),
        ] {
            let out = convert(rate, &tone(rate, hz, rate as usize * 2), &[4096]);
            let (level, spur) = spectrum(&left(&out), hz);
            println!("{rate} Hz in, {hz} Hz tone: {level:.2} dBFS, worst other {spur:.1} dB");
            // Amplitude 0.5 is -6.02 dBFS, flat below 90 % of the input's
            // Nyquist; above, the filter rolls off (15 kHz from 32 kHz: -2 dB).
            if hz < 0.9 * rate as f64 / 2.0 {
                assert!(
                    (level + 6.02).abs() < 0.1,
                    "{rate}: tone at {level:.2} dBFS"
                );
            }
            assert!(spur < -80.0, "{rate}: a component at {spur:.1} dB");
        }
    }

    /// From 96 kHz, what the engine rate cannot carry is filtered out, not
    /// folded back: a 30 kHz tone beside the 15 kHz one would alias to 18 kHz.
    #[test]
    fn nothing_above_24_khz_folds_back() {
        let rate = 96_000;
        let input: Vec<f32> = tone(rate, 15_000.0, 192_000)
            .iter()
            .zip(tone(rate, 30_000.0, 192_000))
            .map(|(a, b)| a + b)
            .collect();
        let (_, spur) = spectrum(&left(&convert(rate, &input, &[4096])), 15_000.0);
        assert!(spur < -80.0, "a component at {spur:.1} dB");
    }

    #[test]
    fn converts_length_and_keeps_a_tone() {
        // 1 s of a 1 kHz sine at 44.1 kHz becomes 1 s at 48 kHz.
        let out = convert(44_100, &tone(44_100, 1000.0, 44_100), &[1000]);
        assert_eq!(out.len() / 2, 48_000);
        // Compare with the ideal 48 kHz sine through the signal, its onset
        // included: nothing is delayed.
        let ideal = tone(RATE, 1000.0, 48_000);
        let err = (0..47_000)
            .map(|i| (out[i * 2] - ideal[i * 2]).abs())
            .fold(0f32, f32::max);
        assert!(err < 0.01, "max error {err}");
    }

    /// An item's length is the file's: input frames * 48000 / rate, to the
    /// frame, whatever the rate and however short.
    #[test]
    fn the_length_is_the_inputs() {
        for rate in [
            8_000, 11_025, 16_000, 22_050, 32_000, 44_100, 88_200, 96_000, 44_056, 47_999,
        ] {
            for frames in [0, 1, 7, 147, 1_000, 12_345, 44_100] {
                let out = convert(rate, &tone(rate, 440.0, frames), &[4096]);
                let want = (frames as u64 * RATE as u64 + rate as u64 / 2) / rate as u64;
                let got = out.len() as u64 / 2;
                assert!(
                    got.abs_diff(want) <= 1,
                    "{rate} Hz, {frames} frames: {got}, want {want}"
                );
            }
        }
    }

    /// The filter's delay is taken out: an impulse lands on the output frame
    /// at its instant, symmetric about it, and a sound starting at the first
    /// frame is up at once.
    #[test]
    fn onsets_are_not_delayed() {
        for rate in [44_100u32, 22_050, 16_000, 32_000, 96_000] {
            // Input frame 294 falls on an output frame for every rate here.
            let at_in = 294;
            let at_out = at_in * RATE as usize / rate as usize;
            let mut input = vec![0f32; 2 * rate as usize / 10];
            input[at_in * 2] = 0.5;
            input[at_in * 2 + 1] = 0.5;
            let out = left(&convert(rate, &input, &[4096]));
            let peak = (0..out.len())
                .max_by(|&a, &b| out[a].abs().total_cmp(&out[b].abs()))
                .unwrap();
            assert_eq!(peak, at_out, "{rate} Hz: impulse at {peak}, want {at_out}");
            let asym = (out[at_out - 1] - out[at_out + 1]).abs();
            assert!(asym < 1e-3, "{rate} Hz: lopsided by {asym}");

            // A step at frame 0 (a file that starts loud) is half way up at
            // output frame 0 at the latest and full within a millisecond.
            let input = vec![0.5f32; 2 * rate as usize / 10];
            let out = left(&convert(rate, &input, &[4096]));
            assert!(out[0] >= 0.2, "{rate} Hz: starts at {}", out[0]);
            let settled = (48..out.len() - 480)
                .map(|i| (out[i] - 0.5).abs())
                .fold(0f32, f32::max);
            assert!(settled < 0.005, "{rate} Hz: off by {settled} after 1 ms");
        }
    }

    /// Calls of any size give what one call gives: the file decoder hands
    /// over packets of whatever size the codec has.
    #[test]
    fn call_sizes_do_not_change_the_output() {
        for rate in [44_100, 22_050, 16_000, 96_000] {
            let input = tone(rate, 1234.5, 20_000);
            let whole = convert(rate, &input, &[usize::MAX / 4]);
            for sizes in [&[1usize][..], &[7], &[4096], &[1, 7, 4096, 333]] {
                assert!(
                    convert(rate, &input, sizes) == whole,
                    "{rate} Hz in calls of {sizes:?}"
                );
            }
        }
    }

    /// After a seek nothing from before it comes out.
    #[test]
    fn reset_forgets_everything() {
        let rate = 44_100;
        let mut r = Resampler::new(rate);
        let mut out = Vec::new();
        r.process(&tone(rate, 3000.0, 5_000), &mut out);
        r.reset();
        out.clear();
        let after = tone(rate, 500.0, 10_000);
        r.process(&after, &mut out);
        r.flush(&mut out);
        assert!(out == convert(rate, &after, &[usize::MAX / 4]));
    }

    #[test]
    fn passthrough_at_engine_rate() {
        let mut r = Resampler::new(48_000);
        let mut out = Vec::new();
        r.process(&[0.1, 0.2, 0.3, 0.4], &mut out);
        r.flush(&mut out);
        assert_eq!(out, vec![0.1, 0.2, 0.3, 0.4]);
    }
}
