//! Continuous streams: Icecast and Shoutcast (MP3, AAC, OGG) over HTTP(S),
//! including Shoutcast v1 servers whose status line is `ICY 200 OK`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::io::{MediaSourceStream, ReadOnlySource};
use symphonia::core::probe::Hint;

use super::feed::{Ended, Sink};
use crate::format::RATE;
use crate::resample::{to_stereo, Resampler};

/// An ICY answer's header lines may not exceed this in total.
const ICY_HEADER_LIMIT: u64 = 16 * 1024;

/// The audio body of a stream, its content type, and its icy-br (kb/s).
pub(crate) struct Body {
    pub reader: Box<dyn Read + Send + Sync>,
    pub content_type: String,
    pub bitrate_kbps: Option<u64>,
}

/// The body of a ureq answer.
pub(crate) fn body(resp: ureq::http::Response<ureq::Body>) -> Body {
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    let content_type = header("content-type");
    let bitrate_kbps = header("icy-br")
        .split(',')
        .next()
        .and_then(|b| b.trim().parse().ok());
    Body {
        reader: Box::new(resp.into_body().into_reader()),
        content_type,
        bitrate_kbps,
    }
}

/// A plain HTTP/1.0 request over TCP, for servers whose status line is
/// `ICY 200 OK` (Shoutcast v1), which ureq rightly refuses as HTTP. The
/// headers are bounded; IPv6 literals (`http://[::1]:8000/`) work.
pub(crate) fn icy_connect(url: &str) -> Result<Body, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("bad address {url}: {e}"))?;
    let host = parsed.host_str().ok_or("the address has no host")?;
    let port = parsed.port_or_known_default().unwrap_or(80);
    let mut path = parsed.path().to_string();
    if let Some(q) = parsed.query() {
        path.push('?');
        path.push_str(q);
    }
    let addr = (host.trim_matches(['[', ']']), port)
        .to_socket_addrs()
        .map_err(|e| format!("DNS: cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("DNS: cannot resolve {host}"))?;
    let mut sock = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| {
        if e.kind() == std::io::ErrorKind::ConnectionRefused {
            "connection refused".to_string()
        } else {
            format!("cannot connect: {e}")
        }
    })?;
    let _ = sock.set_read_timeout(Some(Duration::from_secs(5)));
    let host_header = match parsed.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    write!(
        sock,
        "GET {path} HTTP/1.0\r\nHost: {host_header}\r\nIcy-MetaData: 0\r\nUser-Agent: loa/{}\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    )
    .map_err(|e| format!("cannot send the request: {e}"))?;
    let mut reader = BufReader::new(sock);
    let mut head = (&mut reader).take(ICY_HEADER_LIMIT);
    let mut status = String::new();
    head.read_line(&mut status)
        .map_err(|e| format!("no answer: {e}"))?;
    let code = status.split_whitespace().nth(1).unwrap_or("");
    if code != "200" {
        return Err(format!("the server answered `{}`", status.trim()));
    }
    let mut content_type = String::new();
    let mut bitrate_kbps = None;
    loop {
        let mut line = String::new();
        let n = head
            .read_line(&mut line)
            .map_err(|e| format!("bad answer: {e}"))?;
        if n == 0 {
            return Err(format!(
                "the server's headers never end (more than {} KiB)",
                ICY_HEADER_LIMIT / 1024
            ));
        }
        let line = line.trim();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            let k = k.trim().to_ascii_lowercase();
            if k == "content-type" {
                content_type = v.trim().to_ascii_lowercase();
            } else if k == "icy-br" {
                bitrate_kbps = v.split(',').next().and_then(|b| b.trim().parse().ok());
            }
        }
    }
    Ok(Body {
        reader: Box::new(reader),
        content_type,
        bitrate_kbps,
    })
}

/// The first stream URL in an M3U or PLS playlist.
pub(crate) fn playlist_entry(text: &str, pls: bool) -> Option<String> {
    text.lines().map(str::trim).find_map(|line| {
        let candidate = if pls {
            let (key, value) = line.split_once('=')?;
            key.trim()
                .to_ascii_lowercase()
                .starts_with("file")
                .then_some(value.trim())?
        } else {
            line
        };
        (candidate.starts_with("http://") || candidate.starts_with("https://"))
            .then(|| candidate.to_string())
    })
}

/// What decoding a continuous stream found (for `loa check --online`).
pub(crate) struct Opened {
    pub format: Box<dyn symphonia::core::formats::FormatReader>,
    pub decoder: Box<dyn symphonia::core::codecs::Decoder>,
    pub track: u32,
    pub codec: &'static str,
}

/// Probes the body's format and makes its decoder.
/// A panic of the demultiplexer on the stream's first bytes is its error.
pub(crate) fn open(body: Body) -> Result<Opened, String> {
    crate::contain::contained(
        || open_inner(body),
        |why| format!("not a playable stream: the decoder failed on it ({why})"),
    )
}

fn open_inner(body: Body) -> Result<Opened, String> {
    let mut hint = Hint::new();
    let ct = &body.content_type;
    if ct.contains("mpeg") || ct.contains("mp3") {
        hint.with_extension("mp3");
    } else if ct.contains("aac") {
        hint.with_extension("aac");
    } else if ct.contains("ogg") {
        hint.with_extension("ogg");
    }
    let mss = MediaSourceStream::new(
        Box::new(ReadOnlySource::new(body.reader)),
        Default::default(),
    );
    let probed = symphonia::default::get_probe()
        .format(&hint, mss, &Default::default(), &Default::default())
        .map_err(|e| format!("not a playable stream: {e}"))?;
    let format = probed.format;
    let track = format
        .default_track()
        .ok_or("the stream has no audio track")?
        .clone();
    let decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &Default::default())
        .map_err(|e| format!("unsupported stream codec: {e}"))?;
    let codec = match track.codec_params.codec {
        symphonia::core::codecs::CODEC_TYPE_MP3 => "MP3",
        symphonia::core::codecs::CODEC_TYPE_AAC => "AAC",
        symphonia::core::codecs::CODEC_TYPE_VORBIS => "Vorbis",
        symphonia::core::codecs::CODEC_TYPE_OPUS => "Opus",
        symphonia::core::codecs::CODEC_TYPE_FLAC => "FLAC",
        _ => "audio",
    };
    Ok(Opened {
        format,
        decoder,
        track: track.id,
        codec,
    })
}

/// Decodes the next packets into 48 kHz stereo `out`; None at the end. A
/// panic of the demultiplexer or decoder ends the stream with an error (the
/// caller drops `o` and reconnects, as after any stream error).
pub(crate) fn next_audio(
    o: &mut Opened,
    resampler: &mut Option<(u32, Resampler)>,
    stereo: &mut Vec<f32>,
    out: &mut Vec<f32>,
    bad: &mut u32,
) -> Result<Option<(u32, u16)>, String> {
    crate::contain::contained(
        || next_audio_inner(o, resampler, stereo, out, bad),
        |why| format!("cannot decode the stream: the decoder failed ({why})"),
    )
}

fn next_audio_inner(
    o: &mut Opened,
    resampler: &mut Option<(u32, Resampler)>,
    stereo: &mut Vec<f32>,
    out: &mut Vec<f32>,
    bad: &mut u32,
) -> Result<Option<(u32, u16)>, String> {
    loop {
        let packet = match o.format.next_packet() {
            Ok(p) => p,
            Err(SymphoniaError::IoError(e)) => {
                return Err(if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    "the server closed the stream".to_string()
                } else {
                    format!("connection lost: {e}")
                })
            }
            Err(e) => return Err(format!("stream error: {e}")),
        };
        if packet.track_id() != o.track {
            continue;
        }
        let decoded = match o.decoder.decode(&packet) {
            Ok(d) => {
                *bad = 0;
                d
            }
            Err(SymphoniaError::DecodeError(_)) if *bad < 50 => {
                *bad += 1;
                continue;
            }
            Err(e) => return Err(format!("cannot decode the stream: {e}")),
        };
        let spec = *decoded.spec();
        let mut sb =
            symphonia::core::audio::SampleBuffer::<f32>::new(decoded.capacity() as u64, spec);
        sb.copy_interleaved_ref(decoded);
        let rate = if spec.rate == 0 { RATE } else { spec.rate };
        if resampler.as_ref().map(|(r, _)| *r != rate).unwrap_or(true) {
            // HE-AAC and some relays change rate mid-stream.
            *resampler = Some((rate, Resampler::new(rate)));
        }
        stereo.clear();
        to_stereo(sb.samples(), spec.channels.count().max(1), stereo);
        let (_, r) = resampler.as_mut().expect("a resampler");
        r.process(stereo, out);
        return Ok(Some((rate, spec.channels.count() as u16)));
    }
}

/// Relays an opened continuous stream into `sink` until it fails.
pub(crate) fn run(body: Body, sink: &mut Sink<'_>) -> Result<Ended, String> {
    sink.continuous();
    let mut opened = open(body)?;
    let mut resampler = None;
    let (mut stereo, mut pcm) = (Vec::new(), Vec::new());
    let mut bad = 0;
    let started = Instant::now();
    loop {
        if !sink.running() {
            return Ok(Ended::Released);
        }
        pcm.clear();
        next_audio(&mut opened, &mut resampler, &mut stereo, &mut pcm, &mut bad).map_err(|e| {
            if started.elapsed() < Duration::from_secs(1) {
                format!("{e} (right after connecting)")
            } else {
                e
            }
        })?;
        if sink.push(&pcm).is_err() {
            return Ok(Ended::Released);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playlists_resolve_to_their_first_stream() {
        let m3u = "#EXTM3U\n#EXTINF:-1,VOV1\nhttp://example.invalid/vov1.mp3\nhttp://b.invalid/x\n";
        assert_eq!(
            playlist_entry(m3u, false).as_deref(),
            Some("http://example.invalid/vov1.mp3")
        );
        let pls =
            "[playlist]\nNumberOfEntries=1\nFile1=https://example.invalid/vov1.aac\nTitle1=VOV1\n";
        assert_eq!(
            playlist_entry(pls, true).as_deref(),
            Some("https://example.invalid/vov1.aac")
        );
        assert_eq!(playlist_entry("#EXTM3U\n", false), None);
    }

    #[test]
    fn an_icy_server_with_endless_headers_is_refused() {
        let listener = std::net::TcpListener::bind("[::1]:0")
            .or_else(|_| std::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = listener.accept() {
                // The request is read first: a socket closed with it unread
                // is reset, and the client would see that instead.
                let mut request = Vec::new();
                let mut buf = [0u8; 512];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = s.write_all(b"ICY 200 OK\r\n");
                let line = format!("icy-notice: {}\r\n", "x".repeat(200));
                for _ in 0..200 {
                    if s.write_all(line.as_bytes()).is_err() {
                        break;
                    }
                }
            }
        });
        let url = match addr {
            std::net::SocketAddr::V6(a) => format!("http://[::1]:{}/;stream", a.port()),
            std::net::SocketAddr::V4(a) => format!("http://127.0.0.1:{}/;stream", a.port()),
        };
        let err = icy_connect(&url).err().expect("refused");
        assert!(err.contains("never end"), "{err}");
    }
}
