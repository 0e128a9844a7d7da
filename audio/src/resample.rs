//! Sample-rate conversion to the engine rate, for files, relays and capture
//! cards that are not 48 kHz (44.1 kHz music, 22.05 kHz speech renders).
//!
//! Cubic Hermite interpolation: cheap enough for the audio thread, clean
//! enough for speech and music on horn loudspeakers. At 48 kHz in it is a
//! pass-through, so positions in 48 kHz files stay sample-exact.

use crate::format::RATE;

pub(crate) struct Resampler {
    /// Input frames advanced per output frame.
    step: f64,
    /// Position of the next output frame in `buf`, in input frames.
    pos: f64,
    /// Pending input frames; `buf[0]` is the one before `pos` (context).
    buf: Vec<[f32; 2]>,
    passthrough: bool,
}

impl Resampler {
    pub fn new(input_rate: u32) -> Self {
        Resampler {
            step: input_rate as f64 / RATE as f64,
            pos: 1.0,
            buf: vec![[0.0; 2]],
            passthrough: input_rate == RATE,
        }
    }

    /// Forgets what it holds, e.g. after a seek.
    pub fn reset(&mut self) {
        self.pos = 1.0;
        self.buf.clear();
        self.buf.push([0.0; 2]);
    }

    /// Converts interleaved stereo `input` and appends the result to `out`.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
        if self.passthrough {
            out.extend_from_slice(input);
            return;
        }
        self.buf.extend(input.chunks_exact(2).map(|f| [f[0], f[1]]));
        self.run(out);
    }

    /// Lets the last input frames out at the end of a file.
    pub fn flush(&mut self, out: &mut Vec<f32>) {
        if self.passthrough {
            return;
        }
        self.buf.extend([[0.0; 2]; 2]);
        self.run(out);
    }

    fn run(&mut self, out: &mut Vec<f32>) {
        while (self.pos as usize) + 2 < self.buf.len() {
            let i = self.pos as usize;
            let t = (self.pos - i as f64) as f32;
            let (xm, x0, x1, x2) = (
                self.buf[i - 1],
                self.buf[i],
                self.buf[i + 1],
                self.buf[i + 2],
            );
            for c in 0..2 {
                out.push(hermite(xm[c], x0[c], x1[c], x2[c], t));
            }
            self.pos += self.step;
        }
        let keep_from = (self.pos as usize).saturating_sub(1).min(self.buf.len());
        self.buf.drain(..keep_from);
        self.pos -= keep_from as f64;
    }
}

fn hermite(xm: f32, x0: f32, x1: f32, x2: f32, t: f32) -> f32 {
    let c0 = x0;
    let c1 = 0.5 * (x1 - xm);
    let c2 = xm - 2.5 * x0 + 2.0 * x1 - 0.5 * x2;
    let c3 = 0.5 * (x2 - xm) + 1.5 * (x0 - x1);
    ((c3 * t + c2) * t + c1) * t + c0
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

    #[test]
    fn converts_length_and_keeps_a_tone() {
        // 1 s of a 1 kHz sine at 44.1 kHz becomes 1 s at 48 kHz.
        let input: Vec<f32> = (0..44_100)
            .flat_map(|i| {
                let s = (i as f32 * 1000.0 * std::f32::consts::TAU / 44_100.0).sin() * 0.5;
                [s, s]
            })
            .collect();
        let mut r = Resampler::new(44_100);
        let mut out = Vec::new();
        for chunk in input.chunks(1000) {
            r.process(chunk, &mut out);
        }
        r.flush(&mut out);
        let frames = out.len() / 2;
        assert!((frames as i64 - 48_000).abs() <= 2, "{frames}");
        // Compare with the ideal 48 kHz sine in the middle of the signal.
        let mut err = 0f32;
        for i in 1000..47_000 {
            let ideal = (i as f32 * 1000.0 * std::f32::consts::TAU / 48_000.0).sin() * 0.5;
            err = err.max((out[i * 2] - ideal).abs());
        }
        assert!(err < 0.01, "max error {err}");
    }

    #[test]
    fn passthrough_at_engine_rate() {
        let mut r = Resampler::new(48_000);
        let mut out = Vec::new();
        r.process(&[0.1, 0.2, 0.3, 0.4], &mut out);
        assert_eq!(out, vec![0.1, 0.2, 0.3, 0.4]);
    }
}
