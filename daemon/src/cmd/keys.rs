//! `loa keygen` and `loa announce`: the sending side of remote commands
//! (SPEC sections 5 and 6). keygen makes an Ed25519 key whose private half
//! stays with the sender (RFC 8410 PKCS#8 PEM, mode 0600) and prints the public half
//! for station.yaml; announce signs an announcement with it and publishes it
//! to the station's (or a group's) command topic, and with --wait follows the
//! acks until the announcement is done.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::Engine;
use chrono::Utc;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, KeypairBytes};
use ed25519_dalek::SigningKey;
use loa_schedules::{parse_duration, Priority};
use rumqttc::v5::mqttbytes::v5::{Filter, Packet};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{Client, Event};
use serde_json::{json, Value};

use crate::cli::ConfigArg;
use crate::runtime::mqtt::link::{connect_options, LinkConfig};
use crate::runtime::remote::{sign, BASE64};

#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Where to write the private key (PKCS#8 PEM, mode 0600); never overwritten.
    /// Its file name without extension is the key id `loa announce` uses by default.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

pub fn keygen(args: &KeygenArgs) -> anyhow::Result<ExitCode> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)
        .map_err(|e| anyhow::anyhow!("the system's random source failed: {e}"))?;
    let key = SigningKey::from_bytes(&secret);
    let pem = private_pem(&key)?;
    let out = &args.out;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .with_context(|| match out.exists() {
            true => format!(
                "{} already exists; keygen never overwrites a key",
                out.display()
            ),
            false => format!("cannot create {}", out.display()),
        })?;
    // The umask may only have narrowed the mode; make it exactly 0600.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .and_then(|()| file.write_all(pem.as_bytes()))
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", out.display()))?;
    let kid = default_kid(out).unwrap_or_else(|| "KEY-ID".into());
    println!(
        "# Private key written to {} (mode 0600): keep it secret, never copy it to the station.",
        out.display()
    );
    println!("# Paste this line into station.yaml under remote: keys: {kid}: (with its may: and zones:):");
    println!(
        "public_key: \"{}\"",
        BASE64.encode(key.verifying_key().to_bytes())
    );
    Ok(ExitCode::SUCCESS)
}

/// The private key as RFC 8410 PKCS#8 PEM, the form `openssl genpkey
/// -algorithm ed25519` writes (version 1, no public key): OpenSSL 3 and
/// Python's `cryptography` refuse the version 2 form with the public key
/// that ed25519-dalek writes by default ("extra data"). `read_key` reads both.
fn private_pem(key: &SigningKey) -> anyhow::Result<impl std::ops::Deref<Target = String>> {
    let bytes = KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    };
    let pem = bytes
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("cannot encode the key: {e}"))?;
    Ok(pem)
}

/// The key id a key file stands for by default: its file name without the
/// extension (chu-tich-xa.pem -> chu-tich-xa).
fn default_kid(key: &Path) -> Option<String> {
    key.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
}

#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["text", "file", "stream"]))]
pub struct AnnounceArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The private key file `loa keygen` wrote.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The key id in the station's remote.keys (default: the key file's name
    /// without extension, e.g. chu-tich-xa for chu-tich-xa.pem).
    #[arg(long, value_name = "ID")]
    pub kid: Option<String>,
    /// A text to speak (text-to-speech).
    #[arg(long, value_name = "T")]
    pub text: Option<String>,
    /// The voice to read the text in, instead of the station's (e.g. vi-vn-x-south).
    #[arg(long, value_name = "V", requires = "text")]
    pub voice: Option<String>,
    /// An audio file, relative to the station's media directory (or absolute inside it).
    #[arg(long, value_name = "F")]
    pub file: Option<String>,
    /// An http:// or https:// stream to relay, for --duration.
    #[arg(long, value_name = "URL", requires = "duration")]
    pub stream: Option<String>,
    /// How long to relay the stream, e.g. 15m.
    #[arg(long, value_name = "DUR", value_parser = parse_duration, requires = "stream")]
    pub duration: Option<Duration>,
    /// Board and airtime text (default: the start of the text, or the file name).
    #[arg(long, value_name = "T")]
    pub title: Option<String>,
    /// filler, normal, priority or emergency.
    #[arg(long, value_name = "P", default_value = "normal", value_parser = str::parse::<Priority>)]
    pub priority: Priority,
    /// Zone ids, comma-separated (default: all).
    #[arg(long, value_name = "Z,..", value_delimiter = ',')]
    pub zones: Vec<String>,
    /// How many times to air it (2 s apart, after one chime).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub repeat: u32,
    /// The station drops it if it has not started by then.
    #[arg(long, value_name = "DUR", default_value = "10m", value_parser = parse_duration)]
    pub expires: Duration,
    /// Send to every station of this group (loa/group/G/cmd/announce).
    #[arg(long, value_name = "G")]
    pub group: Option<String>,
    /// Print each ack as it comes; exit 0 when done, 1 when rejected or failed.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up (exit 1) after this long.
    #[arg(long, value_name = "DUR", default_value = "30m", value_parser = parse_duration)]
    pub timeout: Duration,
}

pub fn announce(args: &AnnounceArgs) -> anyhow::Result<ExitCode> {
    let dir = &args.config.config;
    let station = crate::cmd::configuration(dir)?.station;
    let Some(mqtt) = station.mqtt.as_ref() else {
        bail!(
            "{}: no `mqtt:` section, so there is no broker to send to",
            dir.join("station.yaml").display()
        );
    };
    let key = read_key(&args.key)?;
    let kid = match &args.kid {
        Some(k) => k.clone(),
        None => default_kid(&args.key)
            .with_context(|| format!("{}: name the key id with --kid", args.key.display()))?,
    };
    let id = new_id()?;
    let now = Utc::now().timestamp();
    let (to, base) = match &args.group {
        Some(g) => (format!("group:{g}"), format!("loa/group/{g}")),
        None => (format!("station:{}", station.id), mqtt.prefix.clone()),
    };
    let body = announce_body(args, &id, &to, now);
    let envelope = sign(&key, &kid, &body);
    let cmd_topic = format!("{base}/cmd/announce");
    let ack_topic = format!("{base}/ack/{id}");
    // A refusal before the signature holds (a wrong key) is acked here,
    // with our id in the payload only.
    let invalid_topic = format!("{base}/ack/invalid");

    let mut link = LinkConfig::from_station(mqtt, PathBuf::new());
    // A client id of its own: the daemon's would make the broker drop it.
    link.client_id = format!("loa-announce-{}", &id[..12]);
    let opts = connect_options(&link)?;
    let broker = format!("{}:{}", link.host, link.port);
    let (client, mut conn) = Client::new(opts, 16);
    if args.wait {
        // Subscribe first: an ack can come back faster than we would look.
        client.subscribe_many([
            Filter::new(ack_topic.clone(), QoS::AtLeastOnce),
            Filter::new(invalid_topic.clone(), QoS::AtLeastOnce),
        ])?;
    } else {
        client.publish(&cmd_topic, QoS::AtLeastOnce, false, envelope.clone())?;
    }
    let started = Instant::now();
    let connect_by = started + Duration::from_secs(15);
    let give_up = started + args.timeout;
    let mut published = !args.wait;
    let mut acks = Acks::default();
    loop {
        let now = Instant::now();
        let deadline = if acks.published {
            give_up
        } else {
            connect_by.min(give_up)
        };
        if now >= deadline {
            if !acks.published {
                bail!("the broker {broker} did not acknowledge the announcement in time");
            }
            eprintln!(
                "loa: no final ack for announcement {id} within {} s",
                args.timeout.as_secs()
            );
            return Ok(ExitCode::from(1));
        }
        let wait = acks
            .settle_by
            .map_or(deadline, |s| s.min(deadline))
            .saturating_duration_since(now);
        let ev = match conn.recv_timeout(wait.max(Duration::from_millis(1))) {
            Err(rumqttc::v5::RecvTimeoutError::Timeout) => {
                if acks.settle_by.is_some_and(|s| Instant::now() >= s) {
                    return Ok(acks.verdict());
                }
                continue;
            }
            Err(rumqttc::v5::RecvTimeoutError::Disconnected) => bail!("the MQTT client stopped"),
            Ok(Err(e)) => bail!("cannot reach the broker {broker}: {e}"),
            Ok(Ok(ev)) => ev,
        };
        match ev {
            Event::Incoming(Packet::SubAck(_)) if !published => {
                client.publish(&cmd_topic, QoS::AtLeastOnce, false, envelope.clone())?;
                published = true;
            }
            Event::Incoming(Packet::PubAck(_)) if !acks.published => {
                acks.published = true;
                println!("sent announcement {id} to {cmd_topic}");
                if !args.wait {
                    let _ = client.disconnect();
                    return Ok(ExitCode::SUCCESS);
                }
            }
            Event::Incoming(Packet::Publish(p))
                if p.topic == ack_topic.as_bytes() || p.topic == invalid_topic.as_bytes() =>
            {
                let Ok(ack) = serde_json::from_slice::<Value>(&p.payload) else {
                    continue;
                };
                if p.topic == invalid_topic.as_bytes() && ack["id"] != id.as_str() {
                    continue; // another sender's garbage
                }
                if let Some(code) = acks.take(&ack, args.group.is_some()) {
                    let _ = client.disconnect();
                    return Ok(code);
                }
            }
            _ => {}
        }
    }
}

/// The body (SPEC section 6) of the announcement `args` describe.
fn announce_body(args: &AnnounceArgs, id: &str, to: &str, now: i64) -> String {
    let mut body = json!({
        "v": 1, "id": id, "ts": now, "exp": now + args.expires.as_secs().max(1) as i64,
        "to": to, "cmd": "announce", "priority": args.priority.as_str(),
        "zones": if args.zones.is_empty() { json!("all") } else { json!(args.zones) },
        "repeat": args.repeat,
    });
    if let Some(t) = &args.text {
        body["text"] = json!(t);
        if let Some(v) = &args.voice {
            body["voice"] = json!(v);
        }
    }
    if let Some(f) = &args.file {
        body["file"] = json!(f);
    }
    if let Some(s) = &args.stream {
        body["stream"] = json!(s);
        body["duration"] = json!(args.duration.map(|d| d.as_secs()).unwrap_or(0));
    }
    if let Some(t) = &args.title {
        body["title"] = json!(t);
    }
    body.to_string()
}

/// What the stations have answered so far.
#[derive(Default)]
struct Acks {
    published: bool,
    /// Per station: accepted seen, finished (ok or not).
    stations: Vec<(String, bool, Option<bool>)>,
    /// For a group: when to stop waiting for more stations.
    settle_by: Option<Instant>,
}

impl Acks {
    /// Prints one ack; returns the exit code once the outcome is known.
    fn take(&mut self, ack: &Value, group: bool) -> Option<ExitCode> {
        let station = ack["station"].as_str().unwrap_or("?").to_string();
        let status = ack["status"].as_str().unwrap_or("?");
        let code = ack["code"].as_str();
        let reason = ack["reason"].as_str();
        let i = match self.stations.iter().position(|s| s.0 == station) {
            Some(i) => i,
            None => {
                self.stations.push((station.clone(), false, None));
                self.stations.len() - 1
            }
        };
        let detail = match (code, reason) {
            (Some(c), Some(r)) => format!(" ({c}: {r})"),
            (Some(c), None) => format!(" ({c})"),
            (None, Some(r)) => format!(" ({r})"),
            (None, None) => String::new(),
        };
        let entry = &mut self.stations[i];
        if entry.2.is_some() {
            return None;
        }
        match status {
            "accepted" => entry.1 = true,
            "rejected" if entry.1 => {
                // QoS 1 may deliver the command twice: the copy is refused as
                // a replay, the announcement itself stands.
                println!("{station}: a second copy was refused{detail}; the first was accepted");
                return None;
            }
            "done" => entry.2 = Some(true),
            "rejected" | "failed" => {
                entry.2 = Some(false);
                eprintln!("loa: announcement {status} by {station}{detail}");
            }
            _ => {}
        }
        println!("{station}: {status}{detail}");
        if !group {
            return entry.2.map(|_| self.verdict());
        }
        // A group has no roll call: finish once every station heard from is
        // done and no other has spoken for a while.
        if self.stations.iter().all(|s| s.2.is_some()) {
            self.settle_by = Some(Instant::now() + Duration::from_secs(3));
        } else {
            self.settle_by = None;
        }
        None
    }

    fn verdict(&self) -> ExitCode {
        if !self.stations.is_empty() && self.stations.iter().all(|s| s.2 == Some(true)) {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    }
}

fn read_key(path: &Path) -> anyhow::Result<SigningKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the key file {}", path.display()))?;
    let key = SigningKey::from_pkcs8_pem(&text).map_err(|e| {
        anyhow::anyhow!(
            "{} is not an Ed25519 private key in PKCS#8 PEM (as `loa keygen` writes): {e}",
            path.display()
        )
    })?;
    if let Ok(m) = std::fs::metadata(path) {
        if m.permissions().mode() & 0o077 != 0 {
            eprintln!(
                "loa: warning: {} is readable by others; `chmod 600` it",
                path.display()
            );
        }
    }
    Ok(key)
}

/// A fresh command id: 32 hex digits from the system's random source.
fn new_id() -> anyhow::Result<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)
        .map_err(|e| anyhow::anyhow!("the system's random source failed: {e}"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use clap::Parser;

    use super::*;
    use crate::runtime::remote::{Cmd, Gate, What};

    fn args(argv: &[&str]) -> AnnounceArgs {
        let mut all = vec!["loa", "announce", "--key", "k.pem"];
        all.extend_from_slice(argv);
        match crate::cli::Cli::try_parse_from(all).unwrap().command {
            crate::cli::Command::Announce(a) => a,
            other => panic!("{other:?}"),
        }
    }

    /// keygen writes the RFC 8410 form (version 1, no public key, as
    /// `openssl genpkey` does); the version 2 form older Loas wrote, with
    /// the public key, is still read, and so is OpenSSL's own.
    #[test]
    fn keys_are_written_as_rfc_8410_pkcs8_and_both_forms_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new.pem");
        keygen(&KeygenArgs { out: new.clone() }).unwrap();
        let pem = std::fs::read_to_string(&new).unwrap();
        // SEQUENCE { INTEGER 0, { id-Ed25519 }, OCTET STRING { OCTET STRING (32) } }
        let der = BASE64
            .decode(
                pem.lines()
                    .filter(|l| !l.starts_with("-----"))
                    .collect::<String>(),
            )
            .unwrap();
        assert_eq!(der.len(), 48, "{pem}");
        assert_eq!(
            &der[..16],
            b"\x30\x2e\x02\x01\x00\x30\x05\x06\x03\x2b\x65\x70\x04\x22\x04\x20"
        );
        let key = read_key(&new).unwrap();

        let old = dir.path().join("old.pem");
        let v2 = key.to_pkcs8_pem(LineEnding::LF).unwrap();
        assert!(
            v2.starts_with("-----BEGIN PRIVATE KEY-----\nMFEC"),
            "{}",
            *v2
        );
        std::fs::write(&old, v2.as_bytes()).unwrap();
        assert_eq!(read_key(&old).unwrap().to_bytes(), key.to_bytes());

        // RFC 8410 section 10.3's example, as `openssl genpkey` writes keys.
        let openssl = dir.path().join("openssl.pem");
        std::fs::write(
            &openssl,
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let k = read_key(&openssl).unwrap();
        assert_eq!(k.to_bytes()[..4], [0xd4, 0xee, 0x72, 0xdb]);
    }

    /// What `loa announce` sends is what the station's gate accepts, with
    /// a key as `loa keygen` writes and `loa announce` reads it back.
    #[test]
    fn an_announcement_built_and_signed_here_passes_the_stations_gate() {
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("chu-tich-xa.pem");
        keygen(&KeygenArgs { out: pem.clone() }).unwrap();
        let key = read_key(&pem).unwrap();
        assert_eq!(default_kid(&pem).as_deref(), Some("chu-tich-xa"));
        std::fs::write(
            dir.path().join("station.yaml"),
            format!(
                "station: {{ id: au-lau, name: x, timezone: Asia/Ho_Chi_Minh }}\n\
                 paths: {{ media: media, state: state }}\n\
                 outputs: {{ main: \"null\" }}\n\
                 zones: {{ thon-1: {{ output: main }}, thon-2: {{ output: main }} }}\n\
                 mqtt: {{ url: \"mqtt://127.0.0.1:1883\" }}\n\
                 remote:\n  keys:\n    chu-tich-xa:\n      public_key: \"{}\"\n      may: [emergency]\n",
                BASE64.encode(key.verifying_key().to_bytes())
            ),
        )
        .unwrap();
        let station = loa_schedules::load_dir(dir.path()).config.unwrap().station;
        let mut gate = Gate::open(&station, &dir.path().join("state/airtime.sqlite")).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 3, 0, 0).unwrap();
        let a = args(&[
            "--text",
            "Bão số 3",
            "--priority",
            "emergency",
            "--zones",
            "thon-2",
            "--repeat",
            "3",
        ]);
        let id = new_id().unwrap();
        let body = announce_body(&a, &id, "station:au-lau", now.timestamp());
        let env = sign(&key, "chu-tich-xa", &body);
        let v = gate
            .check("loa/au-lau/cmd/announce", env.as_bytes(), false, now)
            .unwrap();
        assert_eq!(v.id, id);
        let Cmd::Announce(ann) = v.cmd else { panic!() };
        assert_eq!(ann.zones, ["thon-2"]);
        assert_eq!(ann.what, What::Text("Bão số 3".into()));
        assert_eq!(ann.repeat, 3);
        assert_eq!(ann.exp, now + chrono::Duration::minutes(10));
        let a = args(&[
            "--stream",
            "https://radio.example/vov1",
            "--duration",
            "15m",
            "--priority",
            "emergency",
        ]);
        let body = announce_body(&a, &new_id().unwrap(), "station:au-lau", now.timestamp());
        let v = gate
            .check(
                "loa/au-lau/cmd/announce",
                sign(&key, "chu-tich-xa", &body).as_bytes(),
                false,
                now,
            )
            .unwrap();
        let Cmd::Announce(ann) = v.cmd else { panic!() };
        assert_eq!(
            ann.what,
            What::Stream {
                url: "https://radio.example/vov1".into(),
                duration: Duration::from_secs(900)
            }
        );
    }
}
