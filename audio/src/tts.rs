//! Text-to-speech: text becomes a WAV file by running a configurable command
//! (an argv list, never a shell), cached by a hash of the text, the voice
//! and the command, so a notice repeated all week is rendered once.
//!
//! The text reaches the command on standard input only: NFC-normalised,
//! control characters removed, at most 2,000 characters.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;
use wait_timeout::ChildExt;

/// Characters of text a TTS render takes at most.
pub const MAX_TTS_CHARS: usize = 2000;

/// How text becomes speech (station.yaml `tts`).
#[derive(Debug, Clone, PartialEq)]
pub struct TtsConfig {
    /// argv; `{out}` (the WAV to write) and `{voice}` are substituted.
    pub command: Vec<String>,
    pub voice: String,
    pub timeout: Duration,
}

impl Default for TtsConfig {
    fn default() -> Self {
        TtsConfig {
            command: ["espeak-ng", "-v", "{voice}", "-w", "{out}", "--stdin"]
                .map(String::from)
                .to_vec(),
            voice: "vi".into(),
            timeout: Duration::from_secs(30),
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

/// The text as the command receives it.
pub fn clean_text(text: &str) -> String {
    text.nfc()
        .map(|c| if c == '\n' || c == '\t' { ' ' } else { c })
        .filter(|c| !c.is_control())
        .take(MAX_TTS_CHARS)
        .collect::<String>()
        .trim()
        .to_string()
}

fn valid_voice(v: &str) -> bool {
    (1..=64).contains(&v.len())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c))
}

/// Renders `text` (or finds its render in `cache_dir/tts`) and returns the WAV path.
pub fn render(
    config: &TtsConfig,
    text: &str,
    voice: Option<&str>,
    cache_dir: &Path,
) -> Result<PathBuf, TtsError> {
    let text = clean_text(text);
    if text.is_empty() {
        return Err(TtsError::Empty);
    }
    let voice = voice.unwrap_or(&config.voice);
    if !valid_voice(voice) {
        return Err(TtsError::BadVoice(voice.to_string()));
    }
    let program = config.command.first().ok_or(TtsError::NoCommand)?.clone();
    let mut h = Sha256::new();
    for part in [text.as_str(), voice]
        .into_iter()
        .chain(config.command.iter().map(String::as_str))
    {
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
    let args: Vec<String> = config.command[1..]
        .iter()
        .map(|a| {
            a.replace("{out}", &tmp.display().to_string())
                .replace("{voice}", voice)
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_cleaned_before_the_command_sees_it() {
        // "ệ" as e + combining marks becomes one NFC character; controls go.
        let t = clean_text("Kính thưa bà con\u{7}\nxin chu\u{0065}\u{0323}\u{0302}");
        assert_eq!(t, "Kính thưa bà con xin chuệ");
        assert_eq!(clean_text(&"a".repeat(5000)).chars().count(), MAX_TTS_CHARS);
    }

    #[test]
    fn espeak_renders_once_then_comes_from_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = TtsConfig::default();
        let a = render(&cfg, "Xin chào bà con", None, dir.path()).unwrap();
        let len = crate::probe::media_length(&a).unwrap();
        assert!(len > Duration::from_millis(300), "{len:?}");
        let mtime = std::fs::metadata(&a).unwrap().modified().unwrap();
        let b = render(&cfg, "Xin chào bà con", Some("vi"), dir.path()).unwrap();
        assert_eq!(a, b);
        assert_eq!(std::fs::metadata(&b).unwrap().modified().unwrap(), mtime);
        let other = render(&cfg, "Xin chào", None, dir.path()).unwrap();
        assert_ne!(a, other);
    }

    #[test]
    fn failures_say_what_went_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = TtsConfig::default();
        assert!(matches!(
            render(&cfg, "x", Some("vi; rm -rf /"), dir.path()),
            Err(TtsError::BadVoice(_))
        ));
        assert!(matches!(
            render(&cfg, "\u{7}", None, dir.path()),
            Err(TtsError::Empty)
        ));
        cfg.command = vec!["sleep".into(), "5".into()];
        cfg.timeout = Duration::from_millis(200);
        let e = render(&cfg, "x", None, dir.path()).unwrap_err();
        assert!(matches!(e, TtsError::Timeout { .. }), "{e}");
        cfg.command = vec!["/nonexistent/tts".into()];
        let e = render(&cfg, "x", None, dir.path()).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/tts"), "{e}");
        // Nothing half-written is left in the cache.
        let left: Vec<_> = std::fs::read_dir(dir.path().join("tts")).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
