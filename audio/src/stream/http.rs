//! HTTP for relays (ureq, already in the tree): one agent per source, and
//! failures told in one line an operator can act on.

use std::time::Duration;

/// Playlists larger than this are not playlists.
pub(crate) const PLAYLIST_LIMIT: u64 = 1024 * 1024;
/// An audio segment (a minute of 320 kb/s is 2.4 MB).
pub(crate) const SEGMENT_LIMIT: u64 = 16 * 1024 * 1024;

pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(5)))
        .timeout_recv_response(Some(Duration::from_secs(10)))
        // A server that stops sending for this long counts as a drop.
        .timeout_per_read(Some(Duration::from_secs(5)))
        .user_agent(concat!("loa/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// A one-line reason for a failed request.
pub(crate) fn describe(e: &ureq::Error) -> String {
    use std::io::ErrorKind;
    match e {
        ureq::Error::StatusCode(code) => format!("HTTP {code}{}", status_text(*code)),
        ureq::Error::HostNotFound => "DNS: host not found".into(),
        ureq::Error::Io(io) => match io.kind() {
            ErrorKind::ConnectionRefused => "connection refused".into(),
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => {
                "connection cut by the server".into()
            }
            ErrorKind::UnexpectedEof => "connection cut mid-transfer".into(),
            ErrorKind::TimedOut | ErrorKind::WouldBlock => "timed out".into(),
            _ => format!("network error: {io}"),
        },
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        ureq::Error::ConnectionFailed => "cannot connect".into(),
        ureq::Error::BodyExceedsLimit(n) => format!("answer larger than {n} bytes"),
        ureq::Error::BadUri(u) => format!("bad address {u}"),
        other => {
            let text = other.to_string();
            if text.to_ascii_lowercase().contains("tls")
                || text.to_ascii_lowercase().contains("certificate")
            {
                format!("TLS: {text}")
            } else {
                text
            }
        }
    }
}

fn status_text(code: u16) -> &'static str {
    match code {
        400 => " Bad Request",
        401 => " Unauthorized",
        403 => " Forbidden",
        404 => " Not Found",
        410 => " Gone",
        500 => " Internal Server Error",
        502 => " Bad Gateway",
        503 => " Service Unavailable",
        504 => " Gateway Timeout",
        _ => "",
    }
}

/// GETs `url` whole, at most `limit` bytes.
pub(crate) fn get_bytes(agent: &ureq::Agent, url: &str, limit: u64) -> Result<Vec<u8>, String> {
    let mut resp = agent.get(url).call().map_err(|e| describe(&e))?;
    resp.body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .map_err(|e| describe(&e))
}

/// GETs a text (a playlist).
pub(crate) fn get_text(agent: &ureq::Agent, url: &str) -> Result<String, String> {
    let bytes = get_bytes(agent, url, PLAYLIST_LIMIT)?;
    String::from_utf8(bytes).map_err(|_| "the playlist is not UTF-8 text".into())
}

/// `reference` resolved against `base` (playlists name segments relatively).
pub(crate) fn join(base: &str, reference: &str) -> Result<String, String> {
    let base = url::Url::parse(base).map_err(|e| format!("bad address {base}: {e}"))?;
    base.join(reference)
        .map(String::from)
        .map_err(|e| format!("bad address {reference} in the playlist: {e}"))
}
