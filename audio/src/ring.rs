//! The wait-free rings between threads (the deck's render thread and a
//! card's callback, a capture callback and the deck, a relay's download
//! thread and the deck): whole frames go in and come out, nothing blocks
//! and nothing allocates.

use crate::format::CHANNELS;

/// Pushes as many whole frames of `samples` as there is room for; returns
/// the number of samples taken.
pub(crate) fn push(ring: &mut rtrb::Producer<f32>, samples: &[f32]) -> usize {
    let n = ring.slots().min(samples.len()) / CHANNELS * CHANNELS;
    match ring.write_chunk_uninit(n) {
        Ok(chunk) => chunk.fill_from_iter(samples[..n].iter().copied()),
        Err(_) => 0,
    }
}

/// Pops as many whole frames as are buffered and fit in `out`; returns the
/// number of samples written to the start of `out`.
pub(crate) fn pop(ring: &mut rtrb::Consumer<f32>, out: &mut [f32]) -> usize {
    let n = ring.slots().min(out.len()) / CHANNELS * CHANNELS;
    match ring.read_chunk(n) {
        Ok(chunk) => {
            let (a, b) = chunk.as_slices();
            out[..a.len()].copy_from_slice(a);
            out[a.len()..n].copy_from_slice(b);
            chunk.commit_all();
            n
        }
        Err(_) => 0,
    }
}

/// Drops up to `frames` buffered frames without copying them; returns the
/// number of frames dropped.
pub(crate) fn skip(ring: &mut rtrb::Consumer<f32>, frames: usize) -> usize {
    let n = ring.slots().min(frames * CHANNELS) / CHANNELS * CHANNELS;
    match ring.read_chunk(n) {
        Ok(chunk) => {
            chunk.commit_all();
            n / CHANNELS
        }
        Err(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_frames_in_and_out_across_the_wrap() {
        let (mut tx, mut rx) = rtrb::RingBuffer::new(6);
        assert_eq!(push(&mut tx, &[1.0, 2.0, 3.0, 4.0]), 4);
        let mut out = [0.0; 3];
        // Only one whole frame fits in three samples.
        assert_eq!(pop(&mut rx, &mut out), 2);
        assert_eq!(out[..2], [1.0, 2.0]);
        // Room for two frames of three: the rest stays with the caller.
        assert_eq!(push(&mut tx, &[5.0, 6.0, 7.0, 8.0, 9.0, 10.0]), 4);
        assert_eq!(skip(&mut rx, 1), 1);
        let mut out = [0.0; 8];
        assert_eq!(pop(&mut rx, &mut out), 4);
        assert_eq!(out[..4], [5.0, 6.0, 7.0, 8.0]);
        assert_eq!(skip(&mut rx, 5), 0);
    }
}
