//! Resampler figures (a bench binary that prints them; `cargo bench -p
//! loa-audio --bench resample`): the cost of converting to the engine rate,
//! in nanoseconds per output frame and in percent of one core at real time
//! (48 kHz stereo), for the band-limited resampler (src/resample.rs) and, for
//! comparison, the cubic Hermite interpolator it replaced. 48 kHz media are
//! passed through and cost nothing; the common 44.1 kHz and 22.05 kHz
//! (speech renders) media pay this.

use std::time::{Duration, Instant};

// The resampler is internal to the crate: compiled here from its source.
#[path = "../src/resample.rs"]
#[allow(dead_code, reason = "the bench calls only new and process")]
mod resample;

mod format {
    pub use loa_audio::format::RATE;
}

/// The interpolator before rubato, kept here only to compare.
mod cubic {
    use loa_audio::format::RATE;

    pub struct Resampler {
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

        /// Converts interleaved stereo `input` and appends the result to `out`.
        pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
            if self.passthrough {
                out.extend_from_slice(input);
                return;
            }
            self.buf.extend(input.chunks_exact(2).map(|f| [f[0], f[1]]));
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
}

/// 10 s of music-like stereo at `rate`: two tones over noise.
fn music(rate: u32) -> Vec<f32> {
    let mut rng = fastrand::Rng::with_seed(7);
    (0..rate as usize * 10)
        .flat_map(|i| {
            let t = i as f32 / rate as f32;
            let tones = 0.3 * (t * 330.0 * std::f32::consts::TAU).sin()
                + 0.1 * (t * 4_400.0 * std::f32::consts::TAU).sin();
            [
                tones + 0.1 * (rng.f32() - 0.5),
                tones + 0.1 * (rng.f32() - 0.5),
            ]
        })
        .collect()
}

/// The best of 5 runs over `input` in calls of 1,152 frames (an MP3 frame),
/// and the output frames made.
fn time(input: &[f32], mut run: impl FnMut(&[f32], &mut Vec<f32>)) -> (Duration, usize) {
    let mut out = Vec::with_capacity(input.len() * 3);
    let mut best = Duration::MAX;
    for _ in 0..5 {
        out.clear();
        let start = Instant::now();
        for call in input.chunks(1_152 * 2) {
            run(call, &mut out);
        }
        best = best.min(start.elapsed());
    }
    (best, out.len() / 2)
}

fn report(what: &str, (took, frames): (Duration, usize)) {
    let ns = took.as_nanos() as f64 / frames as f64;
    // Real time is 48,000 output frames a second.
    let core = ns * 48_000.0 / 1e9 * 100.0;
    println!("  {what}: {ns:.1} ns per output frame, {core:.3} % of one core");
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    for rate in [44_100, 22_050] {
        let input = music(rate);
        println!("{rate} Hz -> 48000 Hz, stereo:");
        let mut new = resample::Resampler::new(rate);
        report(
            "band-limited (rubato FFT)",
            time(&input, |i, o| new.process(i, o)),
        );
        let mut old = cubic::Resampler::new(rate);
        report(
            "cubic Hermite (before)",
            time(&input, |i, o| old.process(i, o)),
        );
    }
}
