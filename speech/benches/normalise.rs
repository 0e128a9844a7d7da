//! Figures for the reading of notices: how many 2,000-character notices a
//! second `normalise` reads, and how long the default engine (espeak-ng,
//! northern voice, 150 words a minute) takes to render a 600-character
//! notice once it is read. `cargo bench -p loa-speech`.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use loa_speech::{normalise, Reading};

/// The corpus's notices, joined until `chars` characters.
fn notice(chars: usize) -> String {
    let corpus = include_str!("../tests/corpus.txt");
    let lines: Vec<&str> = corpus
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("= ") && l.chars().count() > 20)
        .collect();
    let mut text = String::new();
    for l in lines.iter().cycle() {
        if text.chars().count() + l.chars().count() + 1 > chars {
            break;
        }
        text.push_str(l);
        text.push(' ');
    }
    text
}

fn main() {
    let reading = Reading::default();
    let long = notice(2000);
    let n = long.chars().count();
    let start = Instant::now();
    let mut texts = 0u64;
    while start.elapsed() < Duration::from_secs(2) {
        std::hint::black_box(normalise(std::hint::black_box(&long), &reading));
        texts += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "normalise: {:.0} notices of {n} characters a second ({:.1} µs each, {:.1} MB/s)",
        texts as f64 / secs,
        secs / texts as f64 * 1e6,
        texts as f64 * long.len() as f64 / secs / 1e6
    );

    let short = notice(600);
    let spoken = normalise(&short, &reading);
    let out = std::env::temp_dir().join(format!("loa-bench-{}.wav", std::process::id()));
    let mut times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let child = Command::new("espeak-ng")
            .args(["-v", "vi", "-s", "150", "-p", "50", "-w"])
            .arg(&out)
            .arg("--stdin")
            .stdin(Stdio::piped())
            .spawn();
        let Ok(mut child) = child else {
            println!("render: espeak-ng is not installed (scripts/install-deps)");
            return;
        };
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(spoken.as_bytes());
        }
        let ok = child.wait().is_ok_and(|s| s.success());
        times.push(t.elapsed());
        if !ok {
            println!("render: espeak-ng failed");
            return;
        }
    }
    let speech = std::fs::metadata(&out).map_or(0, |m| m.len()) as f64 / 2.0 / 22_050.0;
    let _ = std::fs::remove_file(&out);
    times.sort();
    println!(
        "render: a {}-character notice ({} characters as read) in {:.0} ms (median of 3), {speech:.1} s of speech",
        short.chars().count(),
        spoken.chars().count(),
        times[1].as_secs_f64() * 1e3
    );
}
