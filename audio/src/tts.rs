//! Text-to-speech: text becomes a WAV file by running a configurable command
//! (an argv list, never a shell), cached by a hash of the text and the
//! command as run, so a notice repeated all week is rendered once.
//!
//! The text reaches the command on standard input only: NFC-normalised,
//! control characters removed, at most 2,000 characters, then written out
//! as it is read ([`loa_speech::normalise`]: "7h30" bảy giờ ba mươi phút).
//! `{voice}`, `{rate}` and `{pitch}` in the command are the station's or the
//! item's [`Voice`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use loa_core::Voice;
use loa_speech::Reading;
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;
use wait_timeout::ChildExt;

/// Characters of text a TTS render takes at most.
pub const MAX_TTS_CHARS: usize = 2000;

/// How text becomes speech (station.yaml `tts`).
#[derive(Debug, Clone, PartialEq)]
pub struct TtsConfig {
    /// argv; `{out}` (the WAV to write), `{voice}`, `{rate}` and `{pitch}`
    /// are substituted.
    pub command: Vec<String>,
    pub voice: String,
    pub rate: u32,
    pub pitch: u32,
    pub timeout: Duration,
    /// How numbers and abbreviations are read.
    pub reading: Reading,
}

impl Default for TtsConfig {
    fn default() -> Self {
        TtsConfig {
            command: Voice::DEFAULT_COMMAND.map(String::from).to_vec(),
            voice: Voice::DEFAULT_NAME.into(),
            rate: Voice::DEFAULT_RATE,
            pitch: Voice::DEFAULT_PITCH,
            timeout: Duration::from_secs(30),
            reading: Reading::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TtsError {
    #[error("TTS: the text is empty")]
    Empty,
    #[error("TTS: voice `{0}` is not a valid voice name ([A-Za-z0-9_.+-]{{1,64}})")]
    BadVoice(String),
    #[error("TTS: the command is empty")]
    NoCommand,
    #[error("TTS: cannot run `{program}`: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("TTS: `{program}` took longer than {secs} s and was stopped")]
    Timeout { program: String, secs: u64 },
    #[error("TTS: `{program}` failed ({status}): {stderr}")]
    Failed {
        program: String,
        status: String,
        stderr: String,
    },
    #[error("TTS: cannot write the render under {}: {source}", dir.display())]
    Cache {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The text as the engine is given it: cleaned, then written out as it is
/// read, its line ends kept until then (a list's "- 35 hộ" is no range) and
/// made pauses after. What `loa say --show` prints.
pub fn spoken(config: &TtsConfig, text: &str) -> String {
    let lines: String = text
        .nfc()
        .map(|c| if c == '\t' || c == '\r' { ' ' } else { c })
        .filter(|c| *c == '\n' || !c.is_control())
        .take(MAX_TTS_CHARS)
        .collect();
    let read = loa_speech::normalise(&lines, &config.reading);
    let mut out = String::with_capacity(read.len());
    for line in read.split('\n').map(str::trim).filter(|l| !l.is_empty()) {
        if !out.is_empty() {
            // A sentence wrapped onto the next line goes on; a new line
            // that starts anew (a capital, a list's dash) is a pause.
            let wrapped = line.chars().next().is_some_and(char::is_lowercase);
            let ends_clause = out.ends_with(['.', '!', '?', ':', ';', ',']);
            out.push_str(if wrapped || ends_clause { " " } else { ". " });
        }
        out.push_str(line);
    }
    out
}

/// The engine's arguments with `voice` over the station's, `{out}` left.
fn arguments(config: &TtsConfig, voice: &Voice) -> Result<Vec<String>, TtsError> {
    let name = voice.name.as_deref().unwrap_or(&config.voice);
    if !Voice::valid_name(name) {
        return Err(TtsError::BadVoice(name.to_string()));
    }
    let rate = voice.rate.unwrap_or(config.rate).to_string();
    let pitch = voice.pitch.unwrap_or(config.pitch).to_string();
    Ok(config
        .command
        .iter()
        .map(|a| {
            a.replace("{voice}", name)
                .replace("{rate}", &rate)
                .replace("{pitch}", &pitch)
        })
        .collect())
}

/// Renders `text` (or finds its render in `cache_dir/tts`) and returns the WAV path.
pub fn render(
    config: &TtsConfig,
    text: &str,
    voice: &Voice,
    cache_dir: &Path,
) -> Result<PathBuf, TtsError> {
    let text = spoken(config, text);
    if text.trim().is_empty() {
        return Err(TtsError::Empty);
    }
    let argv = arguments(config, voice)?;
    let program = argv.first().ok_or(TtsError::NoCommand)?.clone();
    let mut h = Sha256::new();
    for part in std::iter::once(text.as_str()).chain(argv.iter().map(String::as_str)) {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let key: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let dir = cache_dir.join("tts");
    let out = dir.join(format!("{key}.wav"));
    if out.is_file() {
        return Ok(out);
    }
    let cache_err = |source| TtsError::Cache {
        dir: dir.clone(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(cache_err)?;
    // Rendered under a temporary name: a crash never leaves a half render in the cache.
    let tmp = dir.join(format!("{key}.{}.tmp.wav", std::process::id()));
    let args: Vec<String> = argv[1..]
        .iter()
        .map(|a| a.replace("{out}", &tmp.display().to_string()))
        .collect();
    let mut child = Command::new(&program)
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| TtsError::Spawn {
            program: program.clone(),
            source,
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(text.as_bytes());
    }
    let status = match child.wait_timeout(config.timeout) {
        Ok(Some(status)) => status,
        Ok(None) | Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_file(&tmp);
            return Err(TtsError::Timeout {
                program,
                secs: config.timeout.as_secs(),
            });
        }
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut stderr);
    }
    if !status.success() || !tmp.is_file() {
        let _ = std::fs::remove_file(&tmp);
        return Err(TtsError::Failed {
            program,
            status: status.to_string(),
            stderr: stderr.trim().chars().take(300).collect(),
        });
    }
    std::fs::rename(&tmp, &out).map_err(cache_err)?;
    Ok(out)
}

/// The voices the engine of `command` has, for `loa check`: `Ok(None)`
/// when the engine is not espeak-ng (or espeak), which are the ones that
/// can be asked; an error when it cannot be run.
pub fn engine_voices(command: &[String]) -> Result<Option<Vec<String>>, String> {
    let Some(program) = command.first() else {
        return Ok(None);
    };
    let name = Path::new(program).file_name().and_then(|n| n.to_str());
    if !matches!(name, Some("espeak-ng" | "espeak")) {
        return Ok(None);
    }
    // Asked once per engine in a process: the daemon asks at every load
    // and for each announcement that names a voice.
    static KNOWN: std::sync::Mutex<Vec<(String, Vec<String>)>> = std::sync::Mutex::new(Vec::new());
    if let Some((_, v)) = KNOWN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|(p, _)| p == program)
    {
        return Ok(Some(v.clone()));
    }
    let mut child = Command::new(program)
        .arg("--voices")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run `{program} --voices`: {e}"))?;
    let mut table = String::new();
    if let Some(out) = child.stdout.take() {
        use std::io::Read;
        // Its table is a few kB: read whole before waiting.
        let _ = out.take(1 << 20).read_to_string(&mut table);
    }
    let status = match child.wait_timeout(Duration::from_secs(5)) {
        Ok(Some(s)) => s,
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("`{program} --voices` did not answer within 5 s"));
        }
    };
    if !status.success() {
        return Err(format!("`{program} --voices` failed ({status})"));
    }
    let voices = parse_voices(&table);
    KNOWN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((program.clone(), voices.clone()));
    Ok(Some(voices))
}

/// espeak-ng's `--voices` table: each voice is named by its language
/// (column 2), by its file (column 5) and by the other languages it
/// speaks ("(zh 5)(en 2)" after them).
fn parse_voices(table: &str) -> Vec<String> {
    let mut voices: Vec<String> = table
        .lines()
        .skip(1)
        .flat_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let rest = cols.get(5..).unwrap_or_default().join(" ");
            let others: Vec<String> = rest
                .split('(')
                .filter_map(|p| p.split_whitespace().next())
                .map(str::to_string)
                .collect();
            [cols.get(1), cols.get(4)]
                .into_iter()
                .flatten()
                .map(|c| c.to_string())
                .chain(others)
                .collect::<Vec<_>>()
        })
        .collect();
    voices.sort();
    voices.dedup();
    voices
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_cleaned_before_the_command_sees_it() {
        // "ệ" as e + combining marks becomes one NFC character; controls go.
        let cfg = TtsConfig::default();
        let t = spoken(
            &cfg,
            "Kính thưa bà con\u{7}\nxin chu\u{0065}\u{0323}\u{0302}",
        );
        assert_eq!(t, "Kính thưa bà con xin chuệ");
        assert_eq!(
            spoken(&cfg, &"a".repeat(5000)).chars().count(),
            MAX_TTS_CHARS
        );
    }

    #[test]
    fn espeak_renders_once_then_comes_from_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = TtsConfig::default();
        let a = render(&cfg, "Xin chào bà con", &Voice::default(), dir.path()).unwrap();
        let len = crate::probe::media_length(&a).unwrap();
        assert!(len > Duration::from_millis(300), "{len:?}");
        let mtime = std::fs::metadata(&a).unwrap().modified().unwrap();
        let b = render(&cfg, "Xin chào bà con", &Voice::named("vi"), dir.path()).unwrap();
        assert_eq!(a, b);
        assert_eq!(std::fs::metadata(&b).unwrap().modified().unwrap(), mtime);
        let other = render(&cfg, "Xin chào", &Voice::default(), dir.path()).unwrap();
        assert_ne!(a, other);
        // Another rate is another render; text that reads the same is not.
        let slow = Voice {
            rate: Some(100),
            ..Voice::default()
        };
        let c = render(&cfg, "Xin chào bà con", &slow, dir.path()).unwrap();
        assert_ne!(a, c);
        assert!(
            crate::probe::media_length(&c).unwrap() > len,
            "slower is longer"
        );
    }

    #[test]
    fn failures_say_what_went_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = TtsConfig::default();
        assert!(matches!(
            render(&cfg, "x", &Voice::named("vi; rm -rf /"), dir.path()),
            Err(TtsError::BadVoice(_))
        ));
        assert!(matches!(
            render(&cfg, "\u{7}", &Voice::default(), dir.path()),
            Err(TtsError::Empty)
        ));
        cfg.command = vec!["sleep".into(), "5".into()];
        cfg.timeout = Duration::from_millis(200);
        let e = render(&cfg, "x", &Voice::default(), dir.path()).unwrap_err();
        assert!(matches!(e, TtsError::Timeout { .. }), "{e}");
        cfg.command = vec!["/nonexistent/tts".into()];
        let e = render(&cfg, "x", &Voice::default(), dir.path()).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/tts"), "{e}");
        // Nothing half-written is left in the cache.
        let left: Vec<_> = std::fs::read_dir(dir.path().join("tts")).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn the_engine_is_given_the_text_as_it_is_read() {
        let cfg = TtsConfig::default();
        assert_eq!(
            spoken(&cfg, "UBND xã họp lúc 7h30\nngày 20/3."),
            "Ủy ban nhân dân xã họp lúc bảy giờ ba mươi phút ngày hai mươi tháng ba."
        );
    }

    #[test]
    fn a_list_on_its_lines_is_read_as_lines() {
        let cfg = TtsConfig::default();
        assert_eq!(
            spoken(&cfg, "Tổng số hộ: 120\n- 35 hộ chưa nộp\n- 85 hộ đã nộp"),
            "Tổng số hộ: một trăm hai mươi. - ba mươi lăm hộ chưa nộp. - tám mươi lăm hộ đã nộp"
        );
    }

    #[test]
    fn espeak_lists_its_vietnamese_voices() {
        let voices = engine_voices(&TtsConfig::default().command)
            .unwrap()
            .unwrap();
        for v in [
            "vi",
            "vi-vn-x-central",
            "vi-vn-x-south",
            "vi+f3",
            "VI",
            "en",
            "zh",
        ] {
            assert!(Voice::listed(v, &voices), "{v}: {voices:?}");
        }
        assert!(!Voice::listed("vi-north", &voices));
        assert_eq!(engine_voices(&["piper".to_string()]).unwrap(), None);
        assert!(engine_voices(&["/nonexistent/espeak-ng".to_string()]).is_err());
    }
}
