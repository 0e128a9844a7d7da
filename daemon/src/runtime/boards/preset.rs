//! Per-preset payloads: what one board's state looks like on the wire.
//!
//! A board's state renders to the full list of messages that put it there
//! (`render`); the sender publishes only the messages that differ from the
//! last list (`changes`), so an unchanged board costs nothing and a broker
//! reconnect can send the whole list again.
//!
//! References for the formats:
//! - AWTRIX 3: Blueforcer/awtrix3 docs/api.md, "Custom Apps and
//!   Notifications": `[PREFIX]/custom/[app]` takes the app JSON and an empty
//!   payload deletes the app; `[PREFIX]/notify` takes the same JSON with `hold`,
//!   `blinkText` (ms), `stack`, `wakeup`; `[PREFIX]/notify/dismiss` (empty)
//!   dismisses a held notification; `lifetime` (s) removes an app not updated
//!   for that long.
//! - WLED: kno.wled.ge/interfaces/mqtt (`[mqttDeviceTopic]/api` takes JSON API
//!   syntax since 0.11) and /interfaces/json-api (`seg`, `id`, `n` name, `fx`,
//!   `col`); effect 122 is FX_MODE_2DSCROLLTEXT "Scrolling Text" (wled00/FX.h),
//!   which scrolls the segment's name. WLED keeps at most
//!   WLED_MAX_SEGNAME_LEN bytes of a name (64 on ESP32, 32 on ESP8266, unless
//!   built with more) and its font is ASCII: use `charset: ascii` there.
//! - Tasmota: docs/Displays.md and the MAX7219 matrix driver
//!   (xdsp_19_max7219_matrix.ino): `DisplayText <text>` draws (and scrolls) the
//!   text, `DisplayClear` clears, `DisplayBlinkrate 0..3` blinks the display.
//!   Colour codes (`[C<rgb565>]`) exist only on colour renderer displays and a
//!   dot matrix would print them, so none is sent; `[` `]` in a text would be
//!   read as display commands and are sent as `(` `)`.

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use loa_schedules::{Board, BoardPreset};

use super::fold::for_charset;
use crate::runtime::mqtt::Publish;

/// The AWTRIX custom app Loa owns: `<topic>/custom/loa`.
pub const AWTRIX_APP: &str = "loa";
/// AWTRIX `scrollSpeed`: percent of the board's normal speed.
pub const AWTRIX_SCROLL_SPEED: u32 = 100;
/// AWTRIX `blinkText` of an emergency, in ms.
pub const AWTRIX_BLINK_MS: u32 = 500;
/// WLED effect "Scrolling Text" (FX_MODE_2DSCROLLTEXT), which shows the segment name.
pub const WLED_FX_SCROLLING_TEXT: u32 = 122;
/// Text colour of an emergency.
pub const EMERGENCY_COLOR: &str = "#FF0000";
/// Tasmota `DisplayBlinkrate` while an emergency shows (1 = slow).
pub const TASMOTA_EMERGENCY_BLINK: &str = "1";

/// Why a text is on a board, highest layer first: an emergency covers the
/// program, which covers the slogans (the `json` preset sends it as `priority`;
/// not a broadcast [`loa_schedules::Priority`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    Emergency,
    Program,
    Slogan,
}

impl Layer {
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Emergency => "emergency",
            Layer::Program => "program",
            Layer::Slogan => "slogan",
        }
    }
}

/// One text as the board should show it (before charset conversion).
#[derive(Clone, Debug, PartialEq)]
pub struct Shown {
    pub text: String,
    /// `#RRGGBB`.
    pub color: String,
    pub layer: Layer,
    /// When this text is planned to stop, if known.
    pub until: Option<DateTime<Utc>>,
}

/// Display timing the payloads carry (AWTRIX `duration` and `lifetime`).
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub duration_s: i64,
    pub lifetime_s: i64,
}

/// Every message that puts `board` in the state `app` (the program or slogan
/// layer; None: blank) under `emergency` (None: no emergency).
pub fn render(
    board: &Board,
    app: Option<&Shown>,
    emergency: Option<&Shown>,
    tz: Tz,
    timing: Timing,
) -> Vec<Publish> {
    let t = &board.topic;
    let text = |s: &Shown| for_charset(&s.text, board.charset);
    let visible = emergency.or(app);
    match board.preset {
        BoardPreset::Awtrix => {
            // The notification floats above the app loop; the app keeps its
            // own text underneath, so dismissing shows it again at once.
            let app_payload = match app {
                Some(s) => format!(
                    r#"{{"text":{},"color":{},"scrollSpeed":{},"duration":{},"lifetime":{}}}"#,
                    js(&text(s)),
                    js(&s.color),
                    AWTRIX_SCROLL_SPEED,
                    timing.duration_s,
                    timing.lifetime_s
                ),
                None => String::new(),
            };
            let mut out = vec![Publish::device(
                format!("{t}/custom/{AWTRIX_APP}"),
                app_payload,
            )];
            if let Some(e) = emergency {
                out.push(Publish::device(
                    format!("{t}/notify"),
                    format!(
                        r#"{{"text":{},"color":{},"hold":true,"blinkText":{},"stack":false,"wakeup":true}}"#,
                        js(&text(e)),
                        js(&e.color),
                        AWTRIX_BLINK_MS
                    ),
                ));
            }
            out
        }
        BoardPreset::Wled => {
            let payload = match visible {
                Some(s) => {
                    let [r, g, b] = rgb(&s.color);
                    format!(
                        r#"{{"on":true,"seg":[{{"id":0,"n":{},"fx":{},"col":[[{},{},{}]]}}]}}"#,
                        js(&text(s)),
                        WLED_FX_SCROLLING_TEXT,
                        r,
                        g,
                        b
                    )
                }
                None => r#"{"on":false,"seg":[{"id":0,"n":""}]}"#.to_string(),
            };
            vec![Publish::device(format!("{t}/api"), payload)]
        }
        BoardPreset::Tasmota => {
            let cmnd = |c: &str, p: String| Publish::device(format!("cmnd/{t}/{c}"), p);
            let display = |s: &Shown| text(s).replace('[', "(").replace(']', ")");
            match (emergency, app) {
                // Blinking is set after the text: the dot-matrix driver resets
                // it on every new text.
                (Some(e), _) => vec![
                    cmnd("DisplayText", display(e)),
                    cmnd("DisplayBlinkrate", TASMOTA_EMERGENCY_BLINK.into()),
                ],
                (None, Some(s)) => vec![
                    cmnd("DisplayBlinkrate", "0".into()),
                    cmnd("DisplayText", display(s)),
                ],
                (None, None) => vec![
                    cmnd("DisplayBlinkrate", "0".into()),
                    cmnd("DisplayClear", String::new()),
                ],
            }
        }
        // Loa's own formats are states, retained: a board that restarts
        // (a power cut in the village) or connects after Loa gets the text
        // from the broker at once, an emergency's included.
        BoardPreset::Text => vec![Publish::state(
            t.clone(),
            visible.map(text).unwrap_or_default(),
        )],
        BoardPreset::Json => {
            let payload = match visible {
                Some(s) => format!(
                    r#"{{"text":{},"color":{},"priority":{},"until":{}}}"#,
                    js(&text(s)),
                    js(&s.color),
                    js(s.layer.as_str()),
                    match s.until {
                        Some(u) => js(&u
                            .with_timezone(&tz)
                            .to_rfc3339_opts(SecondsFormat::Secs, false)),
                        None => "null".into(),
                    }
                ),
                None => r#"{"text":"","color":null,"priority":null,"until":null}"#.to_string(),
            };
            vec![Publish::state(t.clone(), payload)]
        }
    }
}

/// The topic on which a board's firmware says it is back (its MQTT birth
/// message, retained, with the Last Will saying the opposite), and what it
/// says then: Tasmota `tele/<topic>/LWT` "Online", WLED `<topic>/status`
/// "online". Loa sends such a board its text again when it hears it. The
/// `text` and `json` boards need none (their text is retained); AWTRIX
/// gets Loa's app again within [`super::AWTRIX_REFRESH`].
pub fn birth(board: &Board) -> Option<(String, &'static str)> {
    let t = &board.topic;
    match board.preset {
        BoardPreset::Tasmota => Some((format!("tele/{t}/LWT"), "Online")),
        BoardPreset::Wled => Some((format!("{t}/status"), "online")),
        BoardPreset::Awtrix | BoardPreset::Text | BoardPreset::Json => None,
    }
}

/// The messages that take a board from `old` (None: unknown, e.g. at
/// start-up) to `new`: those of `new` not already sent, in order, and for a
/// held AWTRIX notification that is no longer wanted, its dismissal.
pub fn changes(board: &Board, old: Option<&[Publish]>, new: &[Publish]) -> Vec<Publish> {
    let Some(old) = old else {
        return new.to_vec();
    };
    let mut out: Vec<Publish> = new.iter().filter(|p| !old.contains(p)).cloned().collect();
    if board.preset == BoardPreset::Awtrix {
        let notify = format!("{}/notify", board.topic);
        let had = old.iter().any(|p| p.topic == notify);
        let has = new.iter().any(|p| p.topic == notify);
        if had && !has {
            out.push(Publish::device(format!("{notify}/dismiss"), Vec::new()));
        }
    }
    out
}

/// `#RRGGBB` as [r, g, b]; white when malformed (the loader checks colours).
pub fn rgb(color: &str) -> [u8; 3] {
    let hex = color.strip_prefix('#').unwrap_or(color);
    let byte = |i: usize| {
        hex.get(i..i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
    };
    match (hex.len(), byte(0), byte(2), byte(4)) {
        (6, Some(r), Some(g), Some(b)) => [r, g, b],
        _ => [255, 255, 255],
    }
}

/// A JSON string literal.
fn js(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}
