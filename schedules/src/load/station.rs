//! station.yaml -> `Station`: the station block and time zone, outputs, zones
//! and their relays, boards, MQTT, policy, TTS, the remote keys and the
//! calendar (read in `calendar`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;

use super::{is_id, Cx, Fields};
use crate::diag::{suggestion, Loc};
use crate::model::*;
use crate::yaml::{Node, Value};

/// The keys each mapping of station.yaml may have: unknown keys are errors.
pub(super) mod keys {
    pub const STATION_FILE: &[&str] = &[
        "station", "paths", "outputs", "zones", "boards", "mqtt", "policy", "tts", "remote",
        "calendar",
    ];
    pub const STATION: &[&str] = &["id", "name", "timezone"];
    pub const PATHS: &[&str] = &["media", "state"];
    pub const ZONE: &[&str] = &[
        "name", "output", "relay", "receiver", "volume", "preroll", "hold",
    ];
    pub const RELAY: &[&str] = &[
        "preset",
        "topic",
        "channel",
        "switch_on",
        "switch_off",
        "renew",
        "lease",
    ];
    pub const MESSAGE: &[&str] = &["topic", "payload"];
    pub const BOARD: &[&str] = &["name", "preset", "topic", "charset", "show_now_playing"];
    pub const MQTT: &[&str] = &[
        "url",
        "client_id",
        "username",
        "password_file",
        "ca_file",
        "prefix",
        "groups",
        "homeassistant",
    ];
    pub const POLICY: &[&str] = &[
        "quiet_hours",
        "max_session",
        "volume",
        "chime",
        "loudness",
        "late_start",
        "silence",
        "live_limit",
    ];
    pub const SILENCE: &[&str] = &["below", "for"];
    pub const TTS: &[&str] = &[
        "command", "voice", "rate", "pitch", "timeout", "numbers", "lexicon",
    ];
    pub const REMOTE: &[&str] = &["max_skew", "rate_limit", "keys"];
    pub const KEY: &[&str] = &["public_key", "may", "zones"];
}

impl Cx<'_> {
    pub(super) fn station(&mut self, root: &Node) -> Option<Station> {
        if root.is_null() {
            self.err(
                root,
                "station.yaml is empty; it needs at least `station`, `outputs` and `zones`",
            );
            return None;
        }
        let f = self.fields(root, "station.yaml", keys::STATION_FILE)?;
        let mut ok = true;

        let (id, name, timezone) = match self.required(&f, "station", "station.yaml") {
            Some(n) => self.station_block(n).unwrap_or_else(|| {
                ok = false;
                (String::new(), String::new(), Tz::UTC)
            }),
            None => {
                ok = false;
                (String::new(), String::new(), Tz::UTC)
            }
        };

        let mut paths = Paths {
            media: PathBuf::from("/var/lib/loa/media"),
            state: PathBuf::from("/var/lib/loa"),
        };
        if let Some(pn) = f.get("paths") {
            if let Some(pf) = self.fields(pn, "paths", keys::PATHS) {
                if let Some(m) = pf.get("media").and_then(|n| self.text(n, "paths.media")) {
                    paths.media = self.config_path(&m);
                }
                if let Some(s) = pf.get("state").and_then(|n| self.text(n, "paths.state")) {
                    paths.state = self.config_path(&s);
                }
            }
        }

        let mut outputs = Vec::new();
        if let Some(on) = self.required(&f, "outputs", "station.yaml") {
            if let Value::Map(entries) = &on.value {
                for (k, v) in entries {
                    let Some(oname) = self.id(k, "output name", 40) else {
                        continue;
                    };
                    let Some(spec) = self.text(v, "output") else {
                        continue;
                    };
                    match OutputSpec::parse(&spec, self.dir) {
                        Ok(spec) => outputs.push(Output {
                            name: oname,
                            spec,
                            loc: self.loc(v),
                        }),
                        Err(m) => self.err(v, m),
                    }
                }
                if entries.is_empty() {
                    self.err(
                        on,
                        "`outputs` needs at least one output, e.g. `main: \"device:default\"`",
                    );
                }
            } else {
                self.err(
                    on,
                    "`outputs` must map output names to device:NAME, wav:PATH, null or icecast://...",
                );
            }
        } else {
            ok = false;
        }

        let mut zones = Vec::new();
        if let Some(zn) = self.required(&f, "zones", "station.yaml") {
            if let Value::Map(entries) = &zn.value {
                if entries.is_empty() {
                    self.err(zn, "`zones` needs at least one zone");
                }
                for (k, v) in entries {
                    let Some(zid) = self.id(k, "zone id", 40) else {
                        continue;
                    };
                    if let Some(z) = self.zone(zid, k, v, &outputs) {
                        zones.push(z);
                    }
                }
            } else {
                self.err(zn, "`zones` must map zone ids to their settings");
            }
        } else {
            ok = false;
        }

        let mut boards = Vec::new();
        if let Some(bn) = f.get("boards") {
            if let Value::Map(entries) = &bn.value {
                for (k, v) in entries {
                    let Some(bid) = self.id(k, "board id", 40) else {
                        continue;
                    };
                    if let Some(b) = self.board(bid, k, v) {
                        boards.push(b);
                    }
                }
            } else {
                self.err(bn, "`boards` must map board ids to their settings");
            }
        }

        let mqtt = f.get("mqtt").and_then(|n| self.mqtt(n, &id));
        let policy = f
            .get("policy")
            .map(|n| self.policy(n, &paths))
            .unwrap_or_default();
        let tts = f.get("tts").map(|n| self.tts(n)).unwrap_or_default();
        let zone_ids: Vec<String> = zones.iter().map(|z| z.id.clone()).collect();
        let remote = f
            .get("remote")
            .map(|n| self.remote(n, &zone_ids))
            .unwrap_or_default();
        let calendar = f
            .get("calendar")
            .map(|n| self.calendar(n))
            .unwrap_or_default();

        ok.then_some(Station {
            id,
            name,
            timezone,
            paths,
            outputs,
            zones,
            boards,
            mqtt,
            policy,
            tts,
            remote,
            calendar: Arc::new(calendar),
        })
    }

    fn station_block(&mut self, n: &Node) -> Option<(String, String, Tz)> {
        let f = self.fields(n, "station", keys::STATION)?;
        let id = self
            .required(&f, "id", "station")
            .and_then(|n| self.id(n, "station id", 40));
        let name = self
            .required(&f, "name", "station")
            .and_then(|n| self.text(n, "station name"));
        let tz = self
            .required(&f, "timezone", "station")
            .and_then(|n| self.timezone(n));
        Some((id?, name?, tz?))
    }

    fn timezone(&mut self, n: &Node) -> Option<Tz> {
        let s = self.text(n, "timezone")?;
        match s.parse::<Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => {
                let hint = suggestion(&s, chrono_tz::TZ_VARIANTS.iter().map(|t| t.name()));
                let hint = if hint.is_empty() {
                    "; use an IANA name such as Asia/Ho_Chi_Minh".to_string()
                } else {
                    hint
                };
                self.err(n, format!("unknown time zone `{s}`{hint}"));
                None
            }
        }
    }

    fn zone(&mut self, id: String, key: &Node, n: &Node, all: &[Output]) -> Option<Zone> {
        let what = format!("zone `{id}`");
        let f = self.fields(n, &what, keys::ZONE)?;
        let outputs: Vec<String> = all.iter().map(|o| o.name.clone()).collect();
        let name = f
            .get("name")
            .and_then(|n| self.text(n, "zone name"))
            .unwrap_or_else(|| id.clone());
        let output = match f.get("output") {
            Some(on) => {
                let o = self.text(on, "output")?;
                if !outputs.contains(&o) {
                    let hint = suggestion(&o, outputs.iter().map(String::as_str));
                    self.err(on, format!("{what}: unknown output `{o}`{hint} (outputs are defined under `outputs:`)"));
                    return None;
                }
                o
            }
            // One output: zones may leave it implicit.
            None if outputs.len() == 1 => outputs[0].clone(),
            None => {
                self.err(
                    key,
                    format!("{what} needs `output` (one of: {})", outputs.join(", ")),
                );
                return None;
            }
        };
        let relay = f.get("relay").and_then(|n| self.relay(n, &what));
        let receiver = self.receiver(&f, &what, &output, all);
        let preroll = f
            .get("preroll")
            .and_then(|n| self.duration(n, "preroll"))
            .unwrap_or(Duration::from_secs(2));
        if let Some(r) = relay.as_ref().filter(|r| r.lease < preroll) {
            // The lease node, where the fix is (or the relay, when defaulted).
            let at = f.get("relay").map(|n| match &n.value {
                Value::Map(m) => m
                    .iter()
                    .find(|(k, _)| k.as_str() == Some("lease"))
                    .map_or(n, |(_, v)| v),
                _ => n,
            });
            if let Some(at) = at {
                self.err(
                    at,
                    format!(
                        "{what}: relay lease {} is shorter than the preroll {}: the amplifier would be switched off by its own timer while it warms up; make the lease longer",
                        format_duration(r.lease),
                        format_duration(preroll)
                    ),
                );
            }
        }
        let hold = f
            .get("hold")
            .and_then(|n| self.duration(n, "hold"))
            .unwrap_or(Duration::from_secs(10));
        Some(Zone {
            id,
            name,
            output,
            relay,
            receiver,
            preroll,
            hold,
            loc: self.loc(key),
        })
    }

    /// A zone's `receiver` and `volume` (SPEC 7d): only on an Icecast
    /// output, never beside a relay; `volume` only with a receiver.
    fn receiver(
        &mut self,
        f: &Fields<'_>,
        what: &str,
        output: &str,
        all: &[Output],
    ) -> Option<Receiver> {
        let volume = f.get("volume").and_then(|v| {
            let x = self.number(v, "volume")?;
            if (0.0..=1.0).contains(&x) {
                Some(x as f32)
            } else {
                self.err(
                    v,
                    format!("{what}: volume {x} is outside 0..1 (0.8 is 80 %)"),
                );
                None
            }
        });
        let Some(rn) = f.get("receiver") else {
            if let Some(v) = f.get("volume") {
                self.err(
                    v,
                    format!("{what}: `volume` applies at an IP cluster receiver (`receiver:`); zones on a sound card share policy.volume"),
                );
            }
            return None;
        };
        let id = self.id(rn, "receiver id", 40)?;
        if f.get("relay").is_some() {
            self.err(
                rn,
                format!("{what} has both `relay` and `receiver`: a receiver zone is switched by its receiver; keep one"),
            );
            return None;
        }
        let on_icecast = all
            .iter()
            .find(|o| o.name == output)
            .is_some_and(|o| matches!(o.spec, OutputSpec::Icecast(_)));
        if !on_icecast {
            self.err(
                rn,
                format!("{what}: receiver `{id}` plays an Icecast mount, but output `{output}` is not icecast://; name an icecast:// output in `output`"),
            );
            return None;
        }
        Some(Receiver {
            id,
            volume: volume.unwrap_or(1.0),
        })
    }

    fn relay(&mut self, n: &Node, zone: &str) -> Option<Relay> {
        let what = format!("{zone} relay");
        let f = self.fields(n, &what, keys::RELAY)?;
        let pn = self.required(&f, "preset", &what)?;
        #[derive(Clone, Copy)]
        enum P {
            Tasmota,
            Shelly,
            Esphome,
            Custom,
        }
        let preset = self.choice(
            pn,
            "relay preset",
            &[
                ("tasmota", P::Tasmota),
                ("shelly", P::Shelly),
                ("esphome", P::Esphome),
                ("custom", P::Custom),
            ],
        )?;
        let channel = |cx: &mut Self| -> Option<u32> {
            match f.get("channel") {
                None => Some(1),
                Some(c) => match c.value {
                    Value::Int(i) if (0..=32).contains(&i) => Some(i as u32),
                    _ => {
                        cx.err(c, "relay channel must be a relay number from 0 to 32");
                        None
                    }
                },
            }
        };
        let lease = match f.get("lease") {
            None => Some(Relay::DEFAULT_LEASE),
            Some(n) => self.duration(n, "relay lease").and_then(|d| {
                if (Relay::MIN_LEASE..=Relay::MAX_LEASE).contains(&d) {
                    Some(d)
                } else {
                    self.err(
                        n,
                        format!(
                            "{what}: lease must be from {} to {} (the device switches the amplifier off when Loa stops renewing it; default 2m)",
                            format_duration(Relay::MIN_LEASE),
                            format_duration(Relay::MAX_LEASE)
                        ),
                    );
                    None
                }
            }),
        };
        match preset {
            P::Custom => {
                let msg = |cx: &mut Self, key: &str| -> Option<MqttMessage> {
                    let m = cx.required(&f, key, &format!("{what} (preset custom)"))?;
                    let mf = cx.fields(m, key, keys::MESSAGE)?;
                    let topic = cx
                        .required(&mf, "topic", key)
                        .and_then(|t| cx.text(t, "topic"));
                    let payload = cx
                        .required(&mf, "payload", key)
                        .and_then(|t| cx.text(t, "payload"));
                    Some(MqttMessage {
                        topic: topic?,
                        payload: payload?,
                    })
                };
                let on = msg(self, "switch_on");
                let off = msg(self, "switch_off");
                let renew = match f.get("renew") {
                    Some(_) => Some(msg(self, "renew")?),
                    None => None,
                };
                Some(Relay {
                    device: RelayDevice::Custom {
                        on: on?,
                        off: off?,
                        renew,
                    },
                    lease: lease?,
                })
            }
            p => {
                if let Some(k) = f.key_node("renew") {
                    self.err(
                        k,
                        format!("{what}: `renew` is for preset custom only (the {} preset renews its lease itself)", match p {
                            P::Tasmota => "tasmota",
                            P::Shelly => "shelly",
                            _ => "esphome",
                        }),
                    );
                }
                let topic = self
                    .required(&f, "topic", &what)
                    .and_then(|t| self.text(t, "relay topic"))?;
                let device = match p {
                    P::Tasmota => RelayDevice::Tasmota {
                        topic,
                        channel: channel(self)?,
                    },
                    P::Shelly => RelayDevice::Shelly {
                        topic,
                        channel: match f.get("channel") {
                            None => 0,
                            Some(_) => channel(self)?,
                        },
                    },
                    P::Esphome => RelayDevice::Esphome {
                        topic,
                        id: f
                            .get("channel")
                            .and_then(|c| c.scalar_text())
                            .unwrap_or_else(|| "relay".into()),
                    },
                    P::Custom => unreachable!("handled above"),
                };
                Some(Relay {
                    device,
                    lease: lease?,
                })
            }
        }
    }

    fn board(&mut self, id: String, key: &Node, n: &Node) -> Option<Board> {
        let what = format!("board `{id}`");
        let f = self.fields(n, &what, keys::BOARD)?;
        let preset = self.required(&f, "preset", &what).and_then(|p| {
            self.choice(
                p,
                "board preset",
                &[
                    ("awtrix", BoardPreset::Awtrix),
                    ("wled", BoardPreset::Wled),
                    ("tasmota", BoardPreset::Tasmota),
                    ("text", BoardPreset::Text),
                    ("json", BoardPreset::Json),
                ],
            )
        });
        let topic = self
            .required(&f, "topic", &what)
            .and_then(|t| self.text(t, "board topic"));
        let charset = f
            .get("charset")
            .and_then(|c| {
                self.choice(
                    c,
                    "charset",
                    &[("utf8", Charset::Utf8), ("ascii", Charset::Ascii)],
                )
            })
            .unwrap_or(Charset::Utf8);
        let show_now_playing = f
            .get("show_now_playing")
            .and_then(|b| self.boolean(b, "show_now_playing"))
            .unwrap_or(false);
        let name = f
            .get("name")
            .and_then(|n| self.text(n, "board name"))
            .unwrap_or_else(|| id.clone());
        Some(Board {
            id,
            name,
            preset: preset?,
            topic: topic?,
            charset,
            show_now_playing,
            loc: self.loc(key),
        })
    }

    fn mqtt(&mut self, n: &Node, station_id: &str) -> Option<Mqtt> {
        let f = self.fields(n, "mqtt", keys::MQTT)?;
        let un = self.required(&f, "url", "mqtt")?;
        let url = self.text(un, "mqtt url")?;
        let (tls, rest) = if let Some(r) = url.strip_prefix("mqtts://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("mqtt://") {
            (false, r)
        } else {
            self.err(un, format!("mqtt url `{url}` must start with mqtt:// or mqtts://, e.g. mqtt://127.0.0.1:1883"));
            return None;
        };
        let hostport = rest.trim_end_matches('/');
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => match p.parse::<u16>() {
                Ok(p) => (h.to_string(), p),
                Err(_) => {
                    self.err(un, format!("mqtt url `{url}`: `{p}` is not a port number"));
                    return None;
                }
            },
            _ => (hostport.to_string(), if tls { 8883 } else { 1883 }),
        };
        if host.is_empty() {
            self.err(un, format!("mqtt url `{url}` has no host"));
            return None;
        }
        let text = |cx: &mut Self, k: &str| f.get(k).and_then(|n| cx.text(n, k));
        let client_id = text(self, "client_id").unwrap_or_else(|| format!("loa-{station_id}"));
        let username = text(self, "username");
        let password_file = text(self, "password_file").map(|p| self.config_path(&p));
        let ca_file = text(self, "ca_file").map(|p| self.config_path(&p));
        let prefix = text(self, "prefix").unwrap_or_else(|| format!("loa/{station_id}"));
        if prefix.contains(['#', '+']) || prefix.ends_with('/') {
            if let Some(pn) = f.get("prefix") {
                self.err(pn, "mqtt prefix may not contain # or + nor end with /");
            }
        }
        let groups = match f.get("groups") {
            Some(g) => {
                let list = self.texts(g, "mqtt groups");
                for (gname, gn) in list.iter().zip(match &g.value {
                    Value::Seq(s) => s.as_slice(),
                    _ => &[],
                }) {
                    if !is_id(gname, 40) {
                        self.err(
                            gn,
                            format!("group `{gname}` may use only a-z, 0-9 and '-' (at most 40 characters), e.g. `tuyen-hoa`"),
                        );
                    }
                }
                list
            }
            None => Vec::new(),
        };
        let homeassistant = f
            .get("homeassistant")
            .and_then(|b| self.boolean(b, "homeassistant"))
            .unwrap_or(false);
        Some(Mqtt {
            url,
            tls,
            host,
            port,
            client_id,
            username,
            password_file,
            ca_file,
            prefix,
            groups,
            homeassistant,
        })
    }

    fn policy(&mut self, n: &Node, paths: &Paths) -> Policy {
        let mut p = Policy::default();
        let Some(f) = self.fields(n, "policy", keys::POLICY) else {
            return p;
        };
        if let Some(q) = f.get("quiet_hours") {
            p.quiet_hours = self.daily_window(q, "quiet_hours");
        }
        if let Some(m) = f.get("max_session") {
            p.max_session = self.duration(m, "max_session");
        }
        if let Some(m) = f.get("live_limit") {
            if let Some(d) = self.duration(m, "live_limit") {
                if d.is_zero() {
                    self.err(m, "live_limit must be longer than 0, e.g. 30m");
                } else {
                    p.live_limit = d;
                }
            }
        }
        if let Some(v) = f.get("volume") {
            if let Some(x) = self.number(v, "volume") {
                if (0.0..=1.0).contains(&x) {
                    p.volume = x as f32;
                } else {
                    self.err(v, format!("volume {x} is outside 0..1 (0.8 is 80 %)"));
                }
            }
        }
        if let Some(c) = f.get("chime") {
            if let Some(s) = self.text(c, "chime") {
                p.chime = if s == "builtin" {
                    Chime::Builtin
                } else {
                    Chime::File(paths.media.join(s))
                };
            }
        }
        match f.entries.iter().find(|(k, _, _)| *k == "loudness") {
            Some((_, _, v)) if v.is_null() => p.loudness = None,
            Some((_, _, v)) => {
                if let Some(x) = self.number(v, "loudness") {
                    if (-40.0..=-5.0).contains(&x) {
                        p.loudness = Some(x);
                    } else {
                        self.err(v, format!("loudness {x} LUFS is implausible; broadcast targets lie between -23 and -14"));
                    }
                }
            }
            None => {}
        }
        if let Some(l) = f.get("late_start") {
            if let Some(ls) = self.late_start(l) {
                p.late_start = ls;
            }
        }
        if let Some(s) = f.get("silence") {
            if let Some(sf) = self.fields(s, "policy.silence", keys::SILENCE) {
                if let Some(b) = sf.get("below") {
                    match b.scalar_text().as_deref().map(parse_db) {
                        Some(Ok(db)) => p.silence.below_dbfs = db,
                        _ => self.err(b, "silence.below must be a level like -50dB"),
                    }
                }
                if let Some(d) = sf.get("for").and_then(|d| self.duration(d, "silence.for")) {
                    p.silence.for_ = d;
                }
            }
        }
        p
    }

    fn tts(&mut self, n: &Node) -> Tts {
        let mut t = Tts::default();
        let Some(f) = self.fields(n, "tts", keys::TTS) else {
            return t;
        };
        if let Some(c) = f.get("command") {
            let argv = self.texts(c, "tts command");
            if argv.is_empty() {
                self.err(c, "tts command must be a non-empty list: the program and its arguments, e.g. [espeak-ng, -v, \"{voice}\", -w, \"{out}\", --stdin]");
            } else if !argv.iter().any(|a| a.contains("{out}")) {
                self.err(
                    c,
                    "tts command must contain {out}, where the WAV file is written",
                );
            } else {
                t.command = argv;
            }
        }
        if let Some(n) = f.get("voice") {
            if let Some(v) = self.voice(n) {
                t.voice = v;
                t.voice_at = Some(self.loc(n));
            }
        }
        if let Some(r) = f.get("rate").and_then(|r| self.rate(r)) {
            t.rate = r;
        }
        if let Some(p) = f.get("pitch").and_then(|p| self.pitch(p)) {
            t.pitch = p;
        }
        if let Some(d) = f
            .get("timeout")
            .and_then(|d| self.duration(d, "tts timeout"))
        {
            t.timeout = d;
        }
        for (key, placeholder, flag) in [("rate", "{rate}", "-s"), ("pitch", "{pitch}", "-p")] {
            if let Some(n) = f.get(key) {
                if !t.command.iter().any(|a| a.contains(placeholder)) {
                    self.err(
                        n,
                        format!("tts {key} has no effect: the command has no {placeholder}; add \"{flag}\", \"{placeholder}\" to it"),
                    );
                }
            }
        }
        let names = loa_speech::Dialect::NAMES;
        if let Some(d) = f.get("numbers").and_then(|d| {
            self.choice(
                d,
                "tts numbers",
                &[
                    (names[0], loa_speech::Dialect::Northern),
                    (names[1], loa_speech::Dialect::Southern),
                ],
            )
        }) {
            t.reading.dialect = d;
        }
        if let Some(l) = f.get("lexicon") {
            if let Some(lexicon) = self.lexicon(l) {
                t.reading.lexicon = Arc::new(lexicon);
            }
        }
        t
    }

    /// `tts.lexicon`: the station's abbreviations, one `ABBR = reading` per
    /// line; each bad line is an error at that line of that file.
    fn lexicon(&mut self, n: &Node) -> Option<loa_speech::Lexicon> {
        let name = self.text(n, "tts lexicon")?;
        let path = self.config_path(&name);
        let text = match std::fs::metadata(&path) {
            Ok(m) if m.len() > 1 << 20 => {
                self.err(
                    n,
                    format!(
                        "tts lexicon {name} is over 1 MiB; a lexicon is a list of abbreviations"
                    ),
                );
                return None;
            }
            Ok(_) => std::fs::read_to_string(&path),
            Err(e) => Err(e),
        };
        let text = match text {
            Ok(t) => t,
            Err(e) => {
                self.err(
                    n,
                    format!("tts lexicon {}: cannot read it ({e}); the path is relative to the configuration directory", path.display()),
                );
                return None;
            }
        };
        match loa_speech::Lexicon::with_file(&text) {
            Ok(l) => Some(l),
            Err(errors) => {
                let file: Arc<str> = Arc::from(name.as_str());
                for e in errors {
                    self.diags.error(
                        Loc {
                            file: file.clone(),
                            pos: crate::yaml::Pos {
                                line: u32::try_from(e.line).unwrap_or(u32::MAX),
                                column: 1,
                            },
                        },
                        e.message,
                    );
                }
                None
            }
        }
    }

    fn remote(&mut self, n: &Node, zone_ids: &[String]) -> Remote {
        let mut r = Remote::default();
        let Some(f) = self.fields(n, "remote", keys::REMOTE) else {
            return r;
        };
        if let Some(d) = f.get("max_skew").and_then(|d| self.duration(d, "max_skew")) {
            r.max_skew = d;
        }
        if let Some(rl) = f.get("rate_limit") {
            let s = rl.scalar_text().unwrap_or_default();
            let parsed = s.split_once('/').and_then(|(c, per)| {
                let count = c.trim().parse::<u32>().ok()?;
                let per = match per.trim() {
                    "s" | "sec" => Duration::from_secs(1),
                    "min" | "m" => Duration::from_secs(60),
                    "h" | "hour" => Duration::from_secs(3600),
                    other => parse_duration(other).ok()?,
                };
                Some(RateLimit { count, per })
            });
            match parsed {
                Some(x) if x.count > 0 => r.rate_limit = x,
                _ => self.err(rl, format!("rate_limit `{s}` must look like 10/min")),
            }
        }
        if let Some(kn) = f.get("keys") {
            let Value::Map(entries) = &kn.value else {
                self.err(
                    kn,
                    "remote.keys must map key ids to their public key and rights",
                );
                return r;
            };
            for (k, v) in entries {
                let Some(kid) = self.id(k, "key id", 64) else {
                    continue;
                };
                if let Some(key) = self.remote_key(kid, k, v, zone_ids) {
                    r.keys.push(key);
                }
            }
        }
        r
    }

    fn remote_key(
        &mut self,
        id: String,
        key: &Node,
        n: &Node,
        zone_ids: &[String],
    ) -> Option<RemoteKey> {
        use base64::Engine;
        let what = format!("key `{id}`");
        let f = self.fields(n, &what, keys::KEY)?;
        let pk = self.required(&f, "public_key", &what)?;
        let text = self.text(pk, "public_key")?;
        let public_key: [u8; 32] = match base64::engine::general_purpose::STANDARD
            .decode(text.trim())
        {
            Ok(b) if b.len() == 32 => b.try_into().ok()?,
            Ok(b) => {
                self.err(pk, format!("public_key of {what} decodes to {} bytes, not the 32 of an Ed25519 key; paste the line `loa keygen` printed", b.len()));
                return None;
            }
            Err(_) => {
                self.err(
                    pk,
                    format!(
                        "public_key of {what} is not base64; paste the line `loa keygen` printed"
                    ),
                );
                return None;
            }
        };
        let mut may = Vec::new();
        if let Some(m) = self.required(&f, "may", &what) {
            if let Some(items) = self.list(m, "may") {
                for i in items {
                    let r = self.choice(
                        i,
                        "right",
                        &[
                            ("filler", Right::Announce(Priority::Filler)),
                            ("normal", Right::Announce(Priority::Normal)),
                            ("priority", Right::Announce(Priority::Priority)),
                            ("emergency", Right::Announce(Priority::Emergency)),
                            ("stop", Right::Stop),
                            ("reload", Right::Reload),
                        ],
                    );
                    may.extend(r);
                }
            }
        }
        let zones = f
            .get("zones")
            .and_then(|z| self.zone_list(z, zone_ids, &what));
        Some(RemoteKey {
            id,
            public_key,
            may,
            zones: match f.get("zones") {
                None => None,
                Some(z) if z.as_str() == Some("all") => None,
                Some(_) => Some(zones.unwrap_or_default()),
            },
            loc: self.loc(key),
        })
    }
}

/// "-50dB", "-50 dBFS", "-50".
fn parse_db(s: &str) -> Result<f64, ()> {
    let t = s.trim();
    let t = t
        .strip_suffix("dBFS")
        .or_else(|| t.strip_suffix("dBfs"))
        .or_else(|| t.strip_suffix("dB"))
        .or_else(|| t.strip_suffix("db"))
        .unwrap_or(t)
        .trim();
    match t.parse::<f64>() {
        Ok(x) if (-120.0..=0.0).contains(&x) => Ok(x),
        _ => Err(()),
    }
}
