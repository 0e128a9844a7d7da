//! `loa receive`: the reference IP cluster receiver (SPEC 7d). It plays the
//! Icecast mount it is told to over MQTT (`loa-rx/<id>/cmd`) on a local
//! output, a short buffer behind the server (`loa_audio::stream::Player`),
//! and keeps its retained state on `loa-rx/<id>/state`, with a Last Will
//! that says offline. The broker link and the stream reconnect on their own.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use loa_audio::stream::{Player, PlayerState, PlayerStatus};
use loa_audio::OutputSpec;
use rumqttc::{Client, Event, LastWill, MqttOptions, Packet, QoS};
use serde_json::{json, Value};
use tracing::{info, warn};

use crate::outside::visible;

/// The contract's version (SPEC 7d).
const VERSION: u64 = 1;
/// While playing, the state is published again this often (its buffer).
const REFRESH: Duration = Duration::from_secs(10);

#[derive(Debug, clap::Args)]
pub struct ReceiveArgs {
    /// The station's broker: mqtt://HOST[:PORT] (port 1883 by default).
    #[arg(long, value_name = "URL")]
    pub mqtt: String,
    /// This receiver's id, as station.yaml's `receiver:` names it
    /// ([a-z0-9-], at most 40): its topics are loa-rx/ID/cmd and loa-rx/ID/state.
    #[arg(long)]
    pub id: String,
    /// Where the audio goes: device:NAME (see `loa devices`) or wav:PATH.
    #[arg(long, value_name = "SPEC", default_value = "device:default")]
    pub output: String,
    /// Seconds of audio kept ahead of the output; older audio is dropped.
    #[arg(long, value_name = "SECS", default_value_t = 2.5)]
    pub buffer: f64,
    /// The broker's user name, if it asks for one.
    #[arg(long)]
    pub username: Option<String>,
    /// A file whose first line is the broker password.
    #[arg(long, value_name = "PATH")]
    pub password_file: Option<std::path::PathBuf>,
}

/// A command as it arrives on `cmd`.
#[derive(Debug, PartialEq)]
struct Command {
    session: String,
    seq: u64,
    play: Option<String>,
    stop: bool,
    volume: Option<u8>,
}

fn parse_command(payload: &[u8]) -> Result<Command, String> {
    let v: Value = serde_json::from_slice(payload).map_err(|e| format!("not JSON: {e}"))?;
    let o = v.as_object().ok_or("not a JSON object")?;
    if let Some(k) = o
        .keys()
        .find(|k| !["v", "session", "seq", "play", "stop", "volume"].contains(&k.as_str()))
    {
        return Err(format!("unknown field `{k}`"));
    }
    if o.get("v").and_then(Value::as_u64) != Some(VERSION) {
        return Err(format!("`v` must be {VERSION}"));
    }
    let session = o
        .get("session")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= 200)
        .ok_or("`session` must be a text of 1 to 200 bytes")?
        .to_string();
    let seq = o
        .get("seq")
        .and_then(Value::as_u64)
        .ok_or("`seq` must be a whole number")?;
    let play = match o.get("play") {
        None => None,
        Some(Value::String(u))
            if (u.starts_with("http://") || u.starts_with("https://")) && u.len() <= 4096 =>
        {
            Some(u.clone())
        }
        Some(_) => return Err("`play` must be an http:// or https:// URL".into()),
    };
    let stop = match o.get("stop") {
        None => false,
        Some(Value::Bool(true)) => true,
        Some(_) => return Err("`stop` must be true".into()),
    };
    let volume = match o.get("volume") {
        None => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|v| *v <= 100)
                .ok_or("`volume` must be a whole number from 0 to 100")? as u8,
        ),
    };
    if play.is_some() && stop {
        return Err("`play` and `stop` together".into());
    }
    if play.is_none() && !stop && volume.is_none() {
        return Err("nothing to do: give `play`, `stop` or `volume`".into());
    }
    Ok(Command {
        session,
        seq,
        play,
        stop,
        volume,
    })
}

/// What the receiver was last told.
struct Told {
    /// (session, seq) of the last command applied.
    last: Option<(String, u64)>,
    url: Option<String>,
    volume: u8,
}

impl Told {
    /// Applies `c` unless it is stale; false if it is.
    fn apply(&mut self, c: Command) -> bool {
        if let Some((s, n)) = &self.last {
            if *s == c.session && c.seq <= *n {
                return false;
            }
        }
        if let Some(u) = c.play {
            self.url = Some(u);
        }
        if c.stop {
            self.url = None;
        }
        if let Some(v) = c.volume {
            self.volume = v;
        }
        self.last = Some((c.session, c.seq));
        true
    }
}

/// The retained state document (SPEC 7d).
fn state_doc(told: &Told, st: &PlayerStatus, delay: f64) -> Value {
    json!({
        "v": VERSION,
        "online": true,
        "state": st.state.as_str(),
        "url": told.url,
        "volume": told.volume,
        "buffer_s": (st.buffered.as_secs_f64() * 10.0).round() / 10.0,
        "delay_s": delay,
        "error": st.error,
        "signal": Value::Null,
        "session": told.last.as_ref().map(|l| l.0.clone()),
        "seq": told.last.as_ref().map(|l| l.1),
    })
}

enum FromBroker {
    Connected,
    Command { payload: Vec<u8>, retained: bool },
}

fn broker_address(url: &str) -> anyhow::Result<(String, u16)> {
    let Some(rest) = url.strip_prefix("mqtt://") else {
        if url.starts_with("mqtts://") {
            bail!("--mqtt {url}: TLS (mqtts://) is not supported by `loa receive` yet; use mqtt:// on a trusted network");
        }
        bail!("--mqtt {url}: write mqtt://HOST[:PORT]");
    };
    let rest = rest.trim_end_matches('/');
    match rest.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() => Ok((
            h.trim_start_matches('[').trim_end_matches(']').to_string(),
            p.parse()
                .map_err(|_| anyhow::anyhow!("--mqtt {url}: the port must be a number"))?,
        )),
        _ if !rest.is_empty() => Ok((rest.to_string(), 1883)),
        _ => bail!("--mqtt {url}: write mqtt://HOST[:PORT]"),
    }
}

pub fn run(args: &ReceiveArgs) -> anyhow::Result<ExitCode> {
    let id_ok = !args.id.is_empty()
        && args.id.len() <= 40
        && args
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !id_ok {
        bail!(
            "--id {}: a receiver id is 1 to 40 of a-z, 0-9 and -, as station.yaml's `receiver:` names it",
            visible(&args.id)
        );
    }
    if !(0.1..=30.0).contains(&args.buffer) {
        bail!("--buffer {}: give 0.1 to 30 seconds", args.buffer);
    }
    let here = std::env::current_dir().context("the current directory")?;
    let spec = OutputSpec::parse(&args.output, &here)
        .map_err(|e| anyhow::anyhow!("--output {}: {e}", args.output))?;
    if matches!(spec, OutputSpec::Icecast(_)) {
        bail!(
            "--output {}: a receiver plays on device:NAME or wav:PATH",
            args.output
        );
    }
    let (host, port) = broker_address(&args.mqtt)?;
    let (events, output_events) = mpsc::channel();
    let output = loa_audio::output::open_output_retrying(&spec, events.into())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    std::thread::spawn(move || {
        for e in output_events {
            match e {
                loa_audio::DeckEvent::OutputFailed { reason, .. } => warn!("output: {reason}"),
                loa_audio::DeckEvent::OutputRestored { gap, .. } => {
                    info!("output: back after {} s", gap.as_secs())
                }
                _ => {}
            }
        }
    });
    let player = Player::start(output, Duration::from_secs_f64(args.buffer));

    let root = format!("loa-rx/{}", args.id);
    let (cmd_topic, state_topic) = (format!("{root}/cmd"), format!("{root}/state"));
    let offline = json!({"v": VERSION, "online": false}).to_string();
    let mut opts = MqttOptions::new(format!("loa-rx-{}", args.id), host, port);
    opts.set_keep_alive(Duration::from_secs(10));
    opts.set_last_will(LastWill::new(
        &state_topic,
        offline.clone(),
        QoS::AtLeastOnce,
        true,
    ));
    if let Some(user) = &args.username {
        let password = match &args.password_file {
            Some(p) => std::fs::read_to_string(p)
                .with_context(|| format!("--password-file {}", p.display()))?
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
            None => String::new(),
        };
        opts.set_credentials(user, password);
    }
    let (client, mut connection) = Client::new(opts, 64);
    let (tx, from_broker) = mpsc::channel();
    let sub = (client.clone(), cmd_topic.clone());
    std::thread::Builder::new()
        .name("loa-receive-mqtt".into())
        .spawn(move || {
            let mut down: Option<Instant> = None;
            let mut backoff = Duration::from_millis(250);
            for event in connection.iter() {
                match event {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        match down.take() {
                            Some(t) => {
                                info!("broker: connected again after {} s", t.elapsed().as_secs())
                            }
                            None => info!("broker: connected"),
                        }
                        backoff = Duration::from_millis(250);
                        let _ = sub.0.try_subscribe(&sub.1, QoS::AtLeastOnce);
                        if tx.send(FromBroker::Connected).is_err() {
                            return;
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) if p.topic == sub.1 => {
                        let m = FromBroker::Command {
                            payload: p.payload.to_vec(),
                            retained: p.retain,
                        };
                        if tx.send(m).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        if down.is_none() {
                            warn!("broker: {e}; reconnecting");
                            down = Some(Instant::now());
                        }
                        std::thread::sleep(backoff);
                        backoff = (backoff * 2).min(Duration::from_secs(10));
                    }
                }
            }
        })
        .context("start the MQTT thread")?;

    let stop = Arc::new(AtomicBool::new(false));
    watch_signals(stop.clone())?;
    info!(
        "receiver {}: waiting for commands on {cmd_topic} (buffer {} s, output {})",
        args.id, args.buffer, args.output
    );

    let mut told = Told {
        last: None,
        url: None,
        volume: 100,
    };
    let mut published: Option<(Value, Instant)> = None;
    let mut connected = false;
    let mut was = PlayerState::Stopped;
    while !stop.load(Ordering::Relaxed) {
        match from_broker.recv_timeout(Duration::from_millis(100)) {
            Ok(FromBroker::Connected) => {
                connected = true;
                published = None;
            }
            Ok(FromBroker::Command { payload, retained }) => {
                if retained {
                    warn!("command refused: it is retained (a stale command); send commands not retained");
                } else {
                    match parse_command(&payload) {
                        Err(e) => warn!("command refused: {}", visible(&e)),
                        Ok(c) => {
                            let seq = c.seq;
                            if told.apply(c) {
                                info!(
                                    "command {seq}: {} at volume {}",
                                    told.url
                                        .as_deref()
                                        .map_or("stop".into(), |u| format!("play {}", visible(u))),
                                    told.volume
                                );
                                player.play(told.url.clone());
                                player.set_gain(f32::from(told.volume) / 100.0);
                            } else {
                                info!("command {seq} ignored: stale (an older one than the last applied)");
                            }
                        }
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => bail!("the MQTT thread ended"),
        }
        let st = player.status();
        if st.state != was {
            match (&st.state, &st.error) {
                (PlayerState::Connecting, Some(e)) if was == PlayerState::Playing => {
                    warn!("stream: {}; reconnecting", visible(e))
                }
                (s, _) => info!("stream: {}", s.as_str()),
            }
            was = st.state;
        }
        let doc = state_doc(&told, &st, args.buffer);
        // The buffer alone changes all the time: it is refreshed, not sent on every change.
        let mut key = doc.clone();
        key["buffer_s"] = Value::Null;
        let due = match &published {
            None => true,
            Some((k, at)) => {
                *k != key || (st.state == PlayerState::Playing && at.elapsed() >= REFRESH)
            }
        };
        if connected && due {
            let _ = client.try_publish(&state_topic, QoS::AtLeastOnce, true, doc.to_string());
            published = Some((key, Instant::now()));
        }
    }
    info!("receiver {}: stopping", args.id);
    let _ = client.try_publish(&state_topic, QoS::AtLeastOnce, true, offline);
    // Give the link a moment to send the offline state before leaving.
    std::thread::sleep(Duration::from_millis(300));
    let _ = client.try_disconnect();
    player.close();
    Ok(ExitCode::SUCCESS)
}

/// SIGTERM and SIGINT set `stop` (the WAV output then gets its header).
fn watch_signals(stop: Arc<AtomicBool>) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("signal runtime")?;
    std::thread::Builder::new()
        .name("loa-receive-signals".into())
        .spawn(move || {
            rt.block_on(async {
                use tokio::signal::unix::{signal, SignalKind};
                let (Ok(mut term), Ok(mut int)) = (
                    signal(SignalKind::terminate()),
                    signal(SignalKind::interrupt()),
                ) else {
                    return;
                };
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
                stop.store(true, Ordering::Relaxed);
            })
        })
        .context("start the signal thread")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(s: &str) -> Result<Command, String> {
        parse_command(s.as_bytes())
    }

    #[test]
    fn commands_read_as_the_contract_says_and_stale_ones_are_ignored() {
        let mut told = Told {
            last: None,
            url: None,
            volume: 100,
        };
        let play = cmd(r#"{"v":1,"session":"a","seq":5,"play":"http://x:8000/m.mp3","volume":80}"#)
            .unwrap();
        assert!(told.apply(play));
        assert_eq!(told.url.as_deref(), Some("http://x:8000/m.mp3"));
        assert_eq!(told.volume, 80);
        let old = cmd(r#"{"v":1,"session":"a","seq":4,"stop":true}"#).unwrap();
        assert!(
            !told.apply(old),
            "an older seq of the same session is stale"
        );
        assert!(told.url.is_some());
        let vol = cmd(r#"{"v":1,"session":"a","seq":6,"volume":30}"#).unwrap();
        assert!(told.apply(vol));
        assert_eq!((told.url.is_some(), told.volume), (true, 30));
        // A restarted sender starts a new session: its first command applies.
        let stop = cmd(r#"{"v":1,"session":"b","seq":1,"stop":true}"#).unwrap();
        assert!(told.apply(stop));
        assert_eq!(told.url, None);
    }

    #[test]
    fn malformed_commands_are_refused_naming_the_field() {
        for (c, why) in [
            (r#"{"v":2,"session":"a","seq":1,"stop":true}"#, "`v`"),
            (r#"{"v":1,"seq":1,"stop":true}"#, "`session`"),
            (r#"{"v":1,"session":"a","seq":-1,"stop":true}"#, "`seq`"),
            (r#"{"v":1,"session":"a","seq":1,"volume":101}"#, "`volume`"),
            (
                r#"{"v":1,"session":"a","seq":1,"play":"file:///etc/passwd"}"#,
                "`play`",
            ),
            (r#"{"v":1,"session":"a","seq":1}"#, "nothing to do"),
            (r#"{"v":1,"session":"a","seq":1,"stop":true,"x":1}"#, "`x`"),
        ] {
            let e = cmd(c).unwrap_err();
            assert!(e.contains(why), "{c}: {e}");
        }
    }

    #[test]
    fn broker_addresses() {
        assert_eq!(
            broker_address("mqtt://10.0.0.2:1884").unwrap(),
            ("10.0.0.2".into(), 1884)
        );
        assert_eq!(
            broker_address("mqtt://broker").unwrap(),
            ("broker".into(), 1883)
        );
        assert!(broker_address("mqtts://broker").is_err());
        assert!(broker_address("broker:1883").is_err());
    }
}
