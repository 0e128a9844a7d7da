//! Decoders and demultiplexers read bytes that come from outside the
//! station: files an operator copies into the media directory, relays from
//! the internet. A bug in one of them that such bytes reach (symphonia's, or
//! ours) must cost the item that plays them, never the daemon: every call
//! into them goes through [`contained`], which turns a panic into an error
//! for that item.
//!
//! With the feature `uncontained` (the fuzzer hunting decoder bugs, never
//! the daemon) panics go through instead, so that the fuzzer sees every one
//! (audio/fuzz/README.md).

use std::any::Any;

/// Runs `f`; a panic inside it becomes `failed(what the panic said)`.
///
/// Callers must treat the state `f` touched as broken after a panic (the
/// file decoder ends its file, the segment decoder forgets its decoder):
/// that is what makes the `AssertUnwindSafe` here sound.
pub(crate) fn contained<T, E>(
    f: impl FnOnce() -> Result<T, E>,
    failed: impl FnOnce(String) -> E,
) -> Result<T, E> {
    #[cfg(feature = "uncontained")]
    {
        let _ = &failed;
        f()
    }
    #[cfg(not(feature = "uncontained"))]
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => Err(failed(said(payload.as_ref()))),
    }
}

/// What a panic said, on one line.
fn said(payload: &(dyn Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into());
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    line.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_the_items_error_and_a_result_passes_through() {
        let r: Result<u32, String> = contained(
            || panic!("index out of bounds: the len is 4\nbut the index is 9"),
            |why| format!("decoder failed ({why})"),
        );
        assert_eq!(
            r.unwrap_err(),
            "decoder failed (index out of bounds: the len is 4 but the index is 9)"
        );
        let ok: Result<u32, String> = contained(|| Ok(7), |w| w);
        assert_eq!(ok, Ok(7));
        let err: Result<u32, String> = contained(|| Err("damaged".into()), |w| w);
        assert_eq!(err.unwrap_err(), "damaged");
    }
}
