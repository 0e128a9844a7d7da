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

/// GETs `url`, with `headers`. A server may close an idle kept-alive
/// connection at any moment, so a request sent on one the pool still held
/// can be cut before any answer came: that GET is sent once more, on a new
/// connection (RFC 9112 9.3.1 allows it for idempotent requests), rather
/// than counted as the source failing (which would cost a retry's backoff
/// of fallback on air while the source is fine).
pub(crate) fn get(
    agent: &ureq::Agent,
    url: &str,
    headers: &[(&str, &str)],
) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
    let send = || {
        let mut req = agent.get(url);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req.call()
    };
    match send() {
        Err(e) if cut_before_answer(&e) => {
            tracing::debug!("{url}: {}; asking again on a new connection", describe(&e));
            send()
        }
        other => other,
    }
}

/// A connection that the server closed under the request: ureq drops it,
/// so the next request opens a new one.
fn cut_before_answer(e: &ureq::Error) -> bool {
    use std::io::ErrorKind;
    matches!(e, ureq::Error::Io(io) if matches!(
        io.kind(),
        ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof
    ))
}

/// GETs `url` whole, at most `limit` bytes.
pub(crate) fn get_bytes(agent: &ureq::Agent, url: &str, limit: u64) -> Result<Vec<u8>, String> {
    let mut resp = get(agent, url, &[]).map_err(|e| describe(&e))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    /// Reads one request's head; false when the client sent none.
    fn read_request(reader: &mut BufReader<std::net::TcpStream>) -> bool {
        let mut got = false;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return false,
                Ok(_) if line.trim().is_empty() => return got,
                Ok(_) => got = true,
            }
        }
    }

    /// A server that keeps each connection alive for one answer only: the
    /// next request on it finds the connection closed under it, the way a
    /// keep-alive timeout lands between two requests of a relay.
    #[test]
    fn a_kept_alive_connection_closed_under_a_request_is_not_a_failure() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    if !read_request(&mut reader) {
                        return;
                    }
                    let mut stream = stream;
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Type: audio/x-mpegurl\r\nContent-Length: 3\r\n\r\nok\n",
                    );
                    // The second request arrives; the server closes instead.
                    let _ = read_request(&mut reader);
                });
            }
        });
        let agent = agent();
        let url = format!("http://127.0.0.1:{port}/live.m3u");
        for n in 0..5 {
            assert_eq!(
                get_text(&agent, &url).unwrap_or_else(|e| panic!("request {n}: {e}")),
                "ok\n"
            );
        }
    }
}
