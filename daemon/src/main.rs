//! The `loa` binary: everything is in the library (src/lib.rs has the map).

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    loa::main()
}
