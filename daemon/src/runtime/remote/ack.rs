//! The acks that answer a remote command (SPEC section 6): on
//! `P/ack/<id>` once the signature held, else on `P/ack/invalid`.

use super::*;
/// The acks for a verified command: `P/ack/<id>` (`P/ack/invalid` without a
/// valid id), and `loa/group/<g>/ack/<id>` too for a group command; QoS 1,
/// never retained; payload `{"id","station","status","code"?,"reason"?}`.
pub fn acks(
    prefix: &str,
    station_id: &str,
    id: Option<&str>,
    group: Option<&str>,
    status: &str,
    code: Option<&str>,
    reason: Option<&str>,
) -> Vec<Publish> {
    let id = id.filter(|i| valid_id(i));
    ack_on(
        prefix,
        station_id,
        id.unwrap_or("invalid"),
        id,
        group,
        status,
        code,
        reason,
    )
}

/// The acks on `<base>/ack/<leaf>`, saying `id`.
#[allow(
    clippy::too_many_arguments,
    reason = "the fields of one ack payload, each optional on its own"
)]
pub(super) fn ack_on(
    prefix: &str,
    station_id: &str,
    leaf: &str,
    id: Option<&str>,
    group: Option<&str>,
    status: &str,
    code: Option<&str>,
    reason: Option<&str>,
) -> Vec<Publish> {
    let mut payload = json!({"id": id, "station": station_id, "status": status});
    if let Some(c) = code {
        payload["code"] = json!(c);
    }
    if let Some(r) = reason {
        payload["reason"] = json!(r);
    }
    let payload = payload.to_string().into_bytes();
    let mut topics = vec![format!("{prefix}/ack/{leaf}")];
    if let Some(g) = group {
        topics.push(format!("loa/group/{g}/ack/{leaf}"));
    }
    topics
        .into_iter()
        .map(|topic| Publish {
            topic,
            payload: payload.clone(),
            qos: 1,
            retain: false,
        })
        .collect()
}

impl Refusal {
    /// The `rejected` acks for this refusal: on `P/ack/<id>` once the
    /// signature held, else always on `P/ack/invalid` (the id it claimed,
    /// when well-formed, is in the payload so that its sender can tell its
    /// own).
    pub fn acks(&self, prefix: &str, station_id: &str) -> Vec<Publish> {
        let id = self.id.as_deref().filter(|i| valid_id(i));
        let leaf = match (self.verified, id) {
            (true, Some(id)) => id,
            _ => "invalid",
        };
        ack_on(
            prefix,
            station_id,
            leaf,
            id,
            self.group.as_deref(),
            "rejected",
            Some(self.code),
            Some(&self.reason),
        )
    }
}
