//! The wire format of a remote command: the envelope `{kid, sig, body}`,
//! its Ed25519 signature over the body's bytes, and the body's fields
//! (typed, bounded, refused with a reason when malformed).

use super::*;
pub(super) const CMDS: [&str; 3] = ["announce", "stop", "reload"];

/// The envelope, with the body's claimed id read (unverified) for the ack.
pub(super) struct Envelope {
    pub(super) kid: String,
    pub(super) sig: String,
    pub(super) body: String,
    pub(super) body_json: Value,
    pub(super) claimed_id: Option<String>,
}

impl Envelope {
    pub(super) fn parse(payload: &[u8]) -> Result<Envelope, String> {
        let v: Value =
            serde_json::from_slice(payload).map_err(|e| format!("the message is not JSON: {e}"))?;
        let Value::Object(env) = v else {
            return Err("the message is not a JSON object {kid, sig, body}".into());
        };
        let field = |name: &str| match env.get(name) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(format!("envelope field `{name}` is not a string")),
            None => Err(format!("the envelope has no `{name}`")),
        };
        let (kid, sig, body) = (field("kid")?, field("sig")?, field("body")?);
        let body_json = match serde_json::from_str(&body) {
            Ok(m @ Value::Object(_)) => m,
            Ok(_) => return Err("the body is not a JSON object".into()),
            Err(e) => return Err(format!("the body is not JSON: {e}")),
        };
        let claimed_id = match body_json.get("id") {
            Some(Value::String(s)) if valid_id(s) => Some(s.clone()),
            _ => None,
        };
        Ok(Envelope {
            kid,
            sig,
            body,
            body_json,
            claimed_id,
        })
    }
}

/// An id as SPEC section 6 allows: `[A-Za-z0-9_-]{8,64}` (safe in a topic).
pub fn valid_id(s: &str) -> bool {
    (8..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub(super) fn verify(public_key: &[u8; 32], sig: &str, body: &[u8]) -> Result<(), String> {
    let key = VerifyingKey::from_bytes(public_key).map_err(|_| {
        "the key's public_key in station.yaml is not a valid Ed25519 key".to_string()
    })?;
    let bytes = BASE64
        .decode(sig)
        .map_err(|_| "`sig` is not padded base64".to_string())?;
    let bytes: [u8; 64] = bytes
        .try_into()
        .map_err(|_| "`sig` is not 64 bytes long".to_string())?;
    key.verify_strict(body, &Signature::from_bytes(&bytes))
        .map_err(|_| "the signature does not match the body and the key".to_string())
}

/// A signed body, typed.
pub(super) struct Body {
    pub(super) id: String,
    pub(super) ts: i64,
    pub(super) exp: i64,
    pub(super) to: String,
    pub(super) cmd: &'static str,
    pub(super) detail: Detail,
}

pub(super) enum Detail {
    Announce(BodyAnnounce),
    Stop(StopTarget),
    Reload,
}

pub(super) struct BodyAnnounce {
    pub(super) priority: Priority,
    /// None = all.
    pub(super) zones: Option<Vec<String>>,
    pub(super) what: BodyWhat,
    /// The voice a text is read in (None: the station's).
    pub(super) voice: Option<String>,
    pub(super) title: Option<String>,
    pub(super) repeat: u32,
}

pub(super) enum BodyWhat {
    Text(String),
    File(String),
    Stream { url: String, duration: Duration },
}

/// The longest `file`, `stream` address or `to` a body may carry.
pub(super) const FIELD_BYTES: usize = 4096;

/// The fields every body has; its `cmd` says how the rest is read.
#[derive(Deserialize)]
pub(super) struct Head {
    #[serde(rename = "v")]
    pub(super) _v: Version,
    pub(super) id: Bounded<64>,
    pub(super) ts: UnixTime,
    pub(super) exp: UnixTime,
    pub(super) to: Bounded<FIELD_BYTES>,
    pub(super) cmd: Kind,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(try_from = "Bounded<16>")]
pub(super) enum Kind {
    Announce,
    Stop,
    Reload,
}

impl TryFrom<Bounded<16>> for Kind {
    type Error = String;
    fn try_from(word: Bounded<16>) -> Result<Kind, String> {
        match word.0.as_str() {
            "announce" => Ok(Kind::Announce),
            "stop" => Ok(Kind::Stop),
            "reload" => Ok(Kind::Reload),
            other => Err(format!(
                "`{}` is not one of announce, stop, reload",
                outside::visible(other)
            )),
        }
    }
}

/// `v`: the body format; only 1 exists.
pub(super) struct Version;

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Version;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("1 (the only body format)")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Version, E> {
                match v {
                    1 => Ok(Version),
                    _ => Err(E::custom(format!("is {v}; this station reads only 1"))),
                }
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Version, E> {
                Err(E::custom(format!("is {v}; this station reads only 1")))
            }
        }
        d.deserialize_any(V)
    }
}

/// The fields of an announce body (the head's are known, and read by [`Head`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AnnounceFields {
    #[serde(rename = "v")]
    pub(super) _v: IgnoredAny,
    #[serde(rename = "id")]
    pub(super) _id: IgnoredAny,
    #[serde(rename = "ts")]
    pub(super) _ts: IgnoredAny,
    #[serde(rename = "exp")]
    pub(super) _exp: IgnoredAny,
    #[serde(rename = "to")]
    pub(super) _to: IgnoredAny,
    #[serde(rename = "cmd")]
    pub(super) _cmd: IgnoredAny,
    pub(super) priority: Level,
    pub(super) zones: Zones,
    pub(super) text: Option<SpokenText>,
    pub(super) voice: Option<VoiceName>,
    pub(super) file: Option<Bounded<FIELD_BYTES>>,
    pub(super) stream: Option<Bounded<FIELD_BYTES>>,
    pub(super) duration: Option<Length<{ MAX_LENGTH.as_secs() }>>,
    pub(super) title: Option<String>,
    pub(super) repeat: Option<Whole<1, { MAX_REPEAT as u64 }>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StopFields {
    #[serde(rename = "v")]
    pub(super) _v: IgnoredAny,
    #[serde(rename = "id")]
    pub(super) _id: IgnoredAny,
    #[serde(rename = "ts")]
    pub(super) _ts: IgnoredAny,
    #[serde(rename = "exp")]
    pub(super) _exp: IgnoredAny,
    #[serde(rename = "to")]
    pub(super) _to: IgnoredAny,
    #[serde(rename = "cmd")]
    pub(super) _cmd: IgnoredAny,
    pub(super) target: Bounded<64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReloadFields {
    #[serde(rename = "v")]
    pub(super) _v: IgnoredAny,
    #[serde(rename = "id")]
    pub(super) _id: IgnoredAny,
    #[serde(rename = "ts")]
    pub(super) _ts: IgnoredAny,
    #[serde(rename = "exp")]
    pub(super) _exp: IgnoredAny,
    #[serde(rename = "to")]
    pub(super) _to: IgnoredAny,
    #[serde(rename = "cmd")]
    pub(super) _cmd: IgnoredAny,
}

impl Body {
    /// The body as the envelope carried it (already JSON); refusals are
    /// `malformed` with the field named.
    pub(super) fn parse(b: &Value) -> Result<Body, String> {
        let head: Head = from_value(b)?;
        let id = head.id.0;
        if !valid_id(&id) {
            return Err(format!(
                "id `{}` must be 8 to 64 characters of A-Z a-z 0-9 _ -",
                outside::visible(&id)
            ));
        }
        let (ts, exp) = (head.ts.0, head.exp.0);
        if exp > ts && exp.abs_diff(ts) > MAX_VALIDITY as u64 {
            return Err(format!(
                "`exp` is {} s after `ts`; a command may be valid for at most {MAX_VALIDITY} s (24 h)",
                exp.abs_diff(ts)
            ));
        }
        let to = head.to.0;
        if !(to.starts_with("station:") || to.starts_with("group:")) {
            return Err(format!(
                "`to` must be station:<id> or group:<g>, not `{}`",
                outside::visible(&to)
            ));
        }
        let (cmd, detail) = match head.cmd {
            Kind::Reload => {
                from_value::<ReloadFields>(b)?;
                ("reload", Detail::Reload)
            }
            Kind::Stop => {
                let f: StopFields = from_value(b)?;
                let target = match f.target.0.as_str() {
                    "all" => StopTarget::All,
                    t if valid_id(t) => StopTarget::Id(t.to_string()),
                    t => {
                        return Err(format!(
                            "stop target `{}` is neither `all` nor an id",
                            outside::visible(t)
                        ))
                    }
                };
                ("stop", Detail::Stop(target))
            }
            Kind::Announce => (
                "announce",
                Detail::Announce(BodyAnnounce::of(from_value(b)?)?),
            ),
        };
        Ok(Body {
            id,
            ts,
            exp,
            to,
            cmd,
            detail,
        })
    }
}

impl BodyAnnounce {
    pub(super) fn of(f: AnnounceFields) -> Result<BodyAnnounce, String> {
        let zones = match f.zones {
            Zones::All => None,
            Zones::List(z) => Some(z),
        };
        let what = match (f.text, f.file, f.stream) {
            (Some(t), None, None) => BodyWhat::Text(t.0),
            (None, Some(Bounded(file)), None) => {
                if file.is_empty() {
                    return Err("`file` is empty".into());
                }
                BodyWhat::File(file)
            }
            (None, None, Some(Bounded(url))) => {
                if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
                    return Err(format!(
                        "stream `{}` must be an http:// or https:// address",
                        outside::visible(&url)
                    ));
                }
                let Some(duration) = f.duration else {
                    return Err("a stream needs a `duration`".into());
                };
                BodyWhat::Stream {
                    url,
                    duration: duration.get(),
                }
            }
            _ => {
                return Err("an announcement needs exactly one of `text`, `file`, `stream`".into())
            }
        };
        if !matches!(what, BodyWhat::Text(_)) && f.voice.is_some() {
            return Err("`voice` is for a text only: a file or a stream is heard as it is".into());
        }
        if !matches!(what, BodyWhat::Stream { .. }) && f.duration.is_some() {
            return Err(
                "`duration` is for a stream only: a text or a file airs for its own length".into(),
            );
        }
        Ok(BodyAnnounce {
            priority: f.priority.0,
            zones,
            what,
            voice: f.voice.map(|v| v.0),
            title: f.title.and_then(|t| outside::title(&t, TITLE_CHARS)),
            repeat: f.repeat.map_or(1, |r| r.get() as u32),
        })
    }
}

/// The envelope (JSON text) carrying `body` signed with `key` as `kid`.
pub fn sign(key: &SigningKey, kid: &str, body: &str) -> String {
    let sig = key.sign(body.as_bytes());
    json!({"kid": kid, "sig": BASE64.encode(sig.to_bytes()), "body": body}).to_string()
}
