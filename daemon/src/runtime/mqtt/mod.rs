//! MQTT: the link to the broker (one task owns the rumqttc event loop), the
//! retained status, the airtime feed, and the messages that boards and zone
//! relays need (built by `boards` and `zones`, sent here).

pub mod bus;
pub mod link;

/// One message to publish. Commands to devices are not retained (a relay
/// must not switch again when it reconnects); the state of a `text` or
/// `json` LED board is (see [`Publish::state`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publish {
    pub topic: String,
    pub payload: Vec<u8>,
    /// 0 or 1.
    pub qos: u8,
    pub retain: bool,
}

impl Publish {
    /// A QoS 0, not retained message to a device.
    pub fn device(topic: impl Into<String>, payload: impl Into<Vec<u8>>) -> Publish {
        Publish {
            topic: topic.into(),
            payload: payload.into(),
            qos: 0,
            retain: false,
        }
    }

    /// A QoS 1, retained message: a state that a device which (re)connects
    /// later, a board after a power cut, gets from the broker at once.
    pub fn state(topic: impl Into<String>, payload: impl Into<Vec<u8>>) -> Publish {
        Publish {
            topic: topic.into(),
            payload: payload.into(),
            qos: 1,
            retain: true,
        }
    }

    #[cfg(test)]
    pub fn payload_str(&self) -> &str {
        std::str::from_utf8(&self.payload).unwrap_or("")
    }
}
