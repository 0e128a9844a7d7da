//! The link to the broker: one task owns the rumqttc event loop.
//!
//! What other clients publish must never cut the link: Loa speaks MQTT 5
//! and tells the broker its Maximum Packet Size ([`MAX_PACKET`], four times
//! a command's 64 KiB), so the broker drops a larger message for Loa instead
//! of sending it (a 3.1.1 client could only drop the connection, and a
//! retained message would drop it again on every reconnect). A command
//! between 64 KiB and that size arrives and is refused `too_large`.
//!
//! rumqttc has no backoff of its own (after a drop, `poll()` fails at once,
//! forever), so the task sleeps with exponential backoff and jitter (250 ms
//! up to 30 s) between attempts, starting each attempt with a fresh client.
//! The backoff starts again from 250 ms only once a connection has held for
//! [`STABLE`]: a broker that accepts and then drops the link at once, for
//! whatever reason, meets a growing backoff, never a storm. An outage is
//! logged once when it starts, once more if the link keeps dropping right
//! after it connects, and once when it is over.
//!
//! On every ConnAck it subscribes again, publishes the retained status and
//! tells the daemon, which republishes boards and relays. Finished airtime
//! rows go out from the durable outbox (SQLite), oldest first, and leave it
//! only when the broker acknowledges them (QoS 1). Nothing here blocks the
//! scheduler: it talks to this task over channels. What comes from the
//! broker reaches the daemon through a bounded channel ([`FROM_LINK`]): a
//! flood waits in the broker's queues, not in Loa's memory.
//!
//! Shutdown: when the daemon's token is cancelled a backoff wait is cut
//! short (one more attempt, so the relays' OFF can still go out); on
//! `ToLink::Shutdown`, sent after the daemon's last messages, the task
//! sends what is queued, waits (bounded) until the broker has acknowledged
//! the airtime rows in flight (those it has not stay in the outbox for the
//! next start), publishes the offline status, disconnects and ends.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::time::Duration;

use rumqttc::v5::mqttbytes::v5::{LastWill, Packet};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use rumqttc::{Outgoing, Transport};
use tokio::sync::mpsc::{Receiver, Sender, UnboundedReceiver, UnboundedSender};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::Publish;
use crate::runtime::airtime::Outbox;

/// What the daemon asks of the link.
#[derive(Debug)]
pub enum ToLink {
    /// A message for a device (dropped while the broker is away: the
    /// daemon republishes current state on reconnect).
    Publish(Publish),
    /// The retained status document (kept, re-sent on every ConnAck).
    Status(serde_json::Value),
    /// Topics to subscribe to (device state reports), on every ConnAck.
    Subscriptions(Vec<String>),
    /// Rows were queued in the outbox.
    Airtime,
    /// Publish the offline status and disconnect.
    Shutdown,
}

/// What the link tells the daemon.
#[derive(Debug)]
pub enum FromLink {
    Connected,
    Disconnected,
    Message {
        topic: String,
        payload: Vec<u8>,
        retain: bool,
    },
}

/// How to reach the broker (from station.yaml's `mqtt`).
#[derive(Clone, Debug)]
pub struct LinkConfig {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub client_id: String,
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    pub prefix: String,
    pub db: PathBuf,
}

impl LinkConfig {
    pub fn from_station(m: &loa_schedules::Mqtt, db: PathBuf) -> LinkConfig {
        LinkConfig {
            host: m.host.clone(),
            port: m.port,
            tls: m.tls,
            client_id: m.client_id.clone(),
            username: m.username.clone(),
            password_file: m.password_file.clone(),
            ca_file: m.ca_file.clone(),
            prefix: m.prefix.clone(),
            db,
        }
    }

    fn status_topic(&self) -> String {
        format!("{}/status", self.prefix)
    }
}

const AIRTIME_WINDOW: usize = 20;
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A connection that held this long ends an outage (and its backoff).
const STABLE: Duration = Duration::from_secs(60);
/// The largest message Loa accepts from the broker (MQTT 5 Maximum Packet
/// Size): above a command's 64 KiB, so that a larger command can still be
/// refused with an ack; the broker drops anything larger for Loa.
pub const MAX_PACKET: u32 = 256 * 1024;

/// Messages from the broker waiting for the daemon's loop, at most.
pub const FROM_LINK: usize = 256;
/// How long the link may take at shutdown to have the last airtime rows
/// acknowledged before it disconnects (the rest stay in the outbox).
const FLUSH_WITHIN: Duration = Duration::from_millis(1500);

/// What a QoS 1 or 0 publish was, in the order the event loop sends them
/// (it numbers them as it goes; we learn each packet id from Outgoing).
enum Sent {
    Airtime(i64),
    Other,
}

fn options(c: &LinkConfig) -> anyhow::Result<MqttOptions> {
    let mut o = connect_options(c)?;
    o.set_last_will(LastWill::new(
        c.status_topic(),
        r#"{"state":"offline"}"#,
        QoS::AtLeastOnce,
        true,
        None,
    ));
    Ok(o)
}

/// Address, credentials and TLS, without the daemon's last will (`loa
/// doctor` logs in with these and must not announce the station offline).
pub(crate) fn connect_options(c: &LinkConfig) -> anyhow::Result<MqttOptions> {
    let mut o = MqttOptions::new(&c.client_id, &c.host, c.port);
    o.set_keep_alive(Duration::from_secs(15));
    o.set_clean_start(true);
    // Also rumqttc's own limit on what it reads.
    o.set_max_packet_size(Some(MAX_PACKET));
    if let Some(user) = &c.username {
        let pass = match &c.password_file {
            Some(f) => std::fs::read_to_string(f)
                .map_err(|e| anyhow::anyhow!("mqtt password_file {}: {e}", f.display()))?
                .trim_end_matches(['\n', '\r'])
                .to_string(),
            None => String::new(),
        };
        o.set_credentials(user, pass);
    }
    if c.tls {
        o.set_transport(Transport::tls_with_config(tls_config(c)?.into()));
    }
    Ok(o)
}

fn tls_config(c: &LinkConfig) -> anyhow::Result<rustls::ClientConfig> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    match &c.ca_file {
        Some(f) => {
            let pem = std::fs::read(f)
                .map_err(|e| anyhow::anyhow!("mqtt ca_file {}: {e}", f.display()))?;
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                let cert =
                    cert.map_err(|e| anyhow::anyhow!("mqtt ca_file {}: {e}", f.display()))?;
                roots
                    .add(cert)
                    .map_err(|e| anyhow::anyhow!("mqtt ca_file {}: {e}", f.display()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                anyhow::bail!("mqtts: no system CA certificates found; set mqtt.ca_file");
            }
        }
    }
    Ok(rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// An outage of the link: from the first failed attempt (or the drop of a
/// connection that had held) until a connection holds for [`STABLE`].
struct Outage {
    /// The link dropped again soon after connecting, and that was logged:
    /// quiet until it holds.
    flapping: bool,
}

/// Runs the link until `ToLink::Shutdown` or the daemon drops its sender.
pub async fn run(
    c: LinkConfig,
    mut rx: UnboundedReceiver<ToLink>,
    tx: Sender<FromLink>,
    token: CancellationToken,
) {
    let outbox = match Outbox::open(&c.db) {
        Ok(o) => Some(o),
        Err(e) => {
            warn!(
                "mqtt: cannot open the airtime outbox in {}: {e}; the airtime feed is off",
                c.db.display()
            );
            None
        }
    };
    let mut status: Option<serde_json::Value> = None;
    let mut subs: Vec<String> = Vec::new();
    let mut backoff = BACKOFF_MIN;
    // None: never connected yet and never failed, or the link holds.
    let mut outage: Option<Outage> = None;
    let mut ever_connected = false;
    loop {
        let opts = match options(&c) {
            Ok(o) => o,
            Err(e) => {
                warn!("{e:#}; MQTT is off until this is fixed and loa restarts");
                // Keep draining so the daemon never blocks on us.
                while let Some(m) = rx.recv().await {
                    if matches!(m, ToLink::Shutdown) {
                        return;
                    }
                }
                return;
            }
        };
        let (client, mut events) = AsyncClient::new(opts, 256);
        // When this attempt's ConnAck came.
        let mut connected_at: Option<tokio::time::Instant> = None;
        let mut flight = Flight::default();
        let broke: String = loop {
            // One poll at a time, never dropped half-way: a poll dropped
            // while it connects would cancel the attempt and start another.
            let ev = {
                let poll = events.poll();
                tokio::pin!(poll);
                loop {
                    // Once the connection has held, the outage is over.
                    let holds = async {
                        match connected_at {
                            Some(t) if outage.is_some() || backoff > BACKOFF_MIN => {
                                tokio::time::sleep_until(t + STABLE).await
                            }
                            _ => std::future::pending().await,
                        }
                    };
                    tokio::select! {
                        ev = &mut poll => break Some(ev),
                        () = holds => {
                            if outage.take().is_some_and(|o| o.flapping) {
                                info!("mqtt: connected to {}:{} again, and the link holds", c.host, c.port);
                            }
                            backoff = BACKOFF_MIN;
                        }
                        m = rx.recv() => match m {
                            None | Some(ToLink::Shutdown) => break None,
                            Some(ToLink::Publish(p)) => {
                                if connected_at.is_some() {
                                    let qos = if p.qos >= 1 { QoS::AtLeastOnce } else { QoS::AtMostOnce };
                                    flight.publish(&client, &p.topic, qos, p.retain, p.payload);
                                }
                            }
                            Some(ToLink::Status(s)) => {
                                if connected_at.is_some() {
                                    flight.publish(&client, &c.status_topic(), QoS::AtLeastOnce, true, s.to_string().into_bytes());
                                }
                                status = Some(s);
                            }
                            Some(ToLink::Subscriptions(list)) => {
                                if connected_at.is_some() {
                                    for t in list.iter().filter(|t| !subs.contains(t)) {
                                        let _ = client.try_subscribe(t.clone(), QoS::AtLeastOnce);
                                    }
                                }
                                subs = list;
                            }
                            Some(ToLink::Airtime) => {
                                if connected_at.is_some() {
                                    flight.feed(&client, &c, outbox.as_ref());
                                }
                            }
                        },
                    }
                }
            };
            let Some(ev) = ev else {
                // Shutdown: what is queued, the last airtime rows
                // acknowledged (bounded), the offline status, a clean goodbye.
                if connected_at.is_some() {
                    flight.feed(&client, &c, outbox.as_ref());
                    let by = tokio::time::Instant::now() + FLUSH_WITHIN;
                    while !flight.settled() {
                        match tokio::time::timeout_at(by, events.poll()).await {
                            Ok(Ok(Event::Outgoing(Outgoing::Publish(pkid)))) => {
                                flight.written(pkid)
                            }
                            Ok(Ok(Event::Incoming(Packet::PubAck(ack)))) => {
                                flight.acked(ack.pkid, outbox.as_ref());
                            }
                            Ok(Ok(_)) => {}
                            Ok(Err(_)) | Err(_) => break,
                        }
                    }
                    if flight.rows > 0 {
                        info!(
                            "mqtt: {} airtime row(s) not yet acknowledged at shutdown stay in the outbox for the next start",
                            flight.rows
                        );
                    }
                    let _ = client.try_publish(
                        c.status_topic(),
                        QoS::AtLeastOnce,
                        true,
                        r#"{"state":"offline"}"#,
                    );
                    let _ = client.try_disconnect();
                    // Let the event loop send them (bounded).
                    let _ = tokio::time::timeout(Duration::from_millis(500), async {
                        while let Ok(ev) = events.poll().await {
                            if matches!(ev, Event::Outgoing(Outgoing::Disconnect)) {
                                break;
                            }
                        }
                    })
                    .await;
                }
                return;
            };
            match ev {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    connected_at = Some(tokio::time::Instant::now());
                    match &outage {
                        None if !ever_connected => {
                            info!("mqtt: connected to {}:{}", c.host, c.port)
                        }
                        Some(o) if !o.flapping => {
                            info!("mqtt: connected to {}:{} again", c.host, c.port)
                        }
                        _ => {}
                    }
                    ever_connected = true;
                    for t in &subs {
                        let _ = client.try_subscribe(t.clone(), QoS::AtLeastOnce);
                    }
                    if let Some(s) = &status {
                        flight.publish(
                            &client,
                            &c.status_topic(),
                            QoS::AtLeastOnce,
                            true,
                            s.to_string().into_bytes(),
                        );
                    }
                    let _ = tx.send(FromLink::Connected).await;
                    flight.feed(&client, &c, outbox.as_ref());
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    // Retained ones too: a retained command must be refused with an ack.
                    let topic = String::from_utf8_lossy(&p.topic).into_owned();
                    let _ = tx
                        .send(FromLink::Message {
                            topic,
                            payload: p.payload.to_vec(),
                            retain: p.retain,
                        })
                        .await;
                }
                Ok(Event::Outgoing(Outgoing::Publish(pkid))) => flight.written(pkid),
                Ok(Event::Incoming(Packet::PubAck(ack))) => {
                    if flight.acked(ack.pkid, outbox.as_ref()) {
                        flight.feed(&client, &c, outbox.as_ref());
                    }
                }
                Ok(_) => {}
                Err(e) => break why(&e),
            }
        };
        // The connection failed or dropped: log once per outage, back off.
        match &mut outage {
            None => {
                warn!(
                    "mqtt: broker {}:{} {broke}; schedules keep airing, retrying with backoff",
                    c.host, c.port
                );
                outage = Some(Outage { flapping: false });
            }
            Some(o) if !o.flapping && connected_at.is_some() => {
                warn!(
                    "mqtt: broker {}:{} dropped the link again soon after it connected ({broke}); retrying with backoff up to {} s, quiet until the link holds for {} s",
                    c.host,
                    c.port,
                    BACKOFF_MAX.as_secs(),
                    STABLE.as_secs()
                );
                o.flapping = true;
            }
            Some(_) => {}
        }
        if connected_at.is_some() {
            let _ = tx.send(FromLink::Disconnected).await;
        }
        drop(client);
        drop(events);
        let jitter = 0.8 + fastrand::f64() * 0.4;
        let wait = backoff.mul_f64(jitter);
        backoff = (backoff * 2).min(BACKOFF_MAX);
        let until = tokio::time::Instant::now() + wait;
        // While away: keep the latest status and subscriptions, drop device
        // messages (current state is republished on reconnect). When the
        // daemon stops, one more attempt at once: the relays' OFF, the last
        // rows and the offline status may still reach the broker.
        let stopping = token.is_cancelled();
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => break,
                _ = token.cancelled(), if !stopping => break,
                m = rx.recv() => match m {
                    None | Some(ToLink::Shutdown) => return,
                    Some(ToLink::Status(s)) => status = Some(s),
                    Some(ToLink::Subscriptions(l)) => subs = l,
                    Some(_) => {}
                },
            }
        }
    }
}

/// Why an attempt failed, in words that point at what to fix: a broker
/// that refuses the login or fails the TLS handshake is not unreachable.
pub(crate) fn why(e: &rumqttc::v5::ConnectionError) -> String {
    use rumqttc::v5::mqttbytes::v5::ConnectReturnCode as Code;
    use rumqttc::v5::ConnectionError as E;
    match e {
        E::ConnectionRefused(Code::BadUserNamePassword | Code::NotAuthorized) => {
            format!("refused the login ({e}); check mqtt.username and password_file")
        }
        E::ConnectionRefused(Code::UnsupportedProtocolVersion | Code::RefusedProtocolVersion) => {
            format!("refused the connection ({e}): Loa speaks MQTT 5 (mosquitto 1.6 or newer does)")
        }
        E::ConnectionRefused(_) => format!("refused the connection ({e})"),
        E::Tls(_) => format!(
            "failed the TLS handshake ({e}); check mqtt.ca_file and the broker's certificate"
        ),
        _ => format!("unreachable ({e})"),
    }
}

/// What one connection has handed to the event loop and the broker has
/// not yet acknowledged: the publishes in the order the event loop numbers
/// them, and the airtime rows by packet id until their PUBACK takes them
/// out of the outbox.
#[derive(Default)]
struct Flight {
    sent: VecDeque<Sent>,
    /// Packet id -> airtime row id.
    airtime: HashMap<u16, i64>,
    /// Airtime rows handed over and not yet acknowledged.
    rows: usize,
    /// The last airtime row handed over.
    upto: i64,
}

impl Flight {
    fn publish(
        &mut self,
        client: &AsyncClient,
        topic: &str,
        qos: QoS,
        retain: bool,
        payload: Vec<u8>,
    ) {
        if client.try_publish(topic, qos, retain, payload).is_ok() {
            self.sent.push_back(Sent::Other);
        }
    }

    /// Sends queued airtime rows, oldest first, keeping a window in flight.
    fn feed(&mut self, client: &AsyncClient, c: &LinkConfig, outbox: Option<&Outbox>) {
        let Some(o) = outbox else { return };
        if self.rows >= AIRTIME_WINDOW {
            return;
        }
        let rows = match o.pending(self.upto, AIRTIME_WINDOW - self.rows) {
            Ok(r) => r,
            Err(e) => {
                warn!("mqtt: airtime outbox: {e}");
                return;
            }
        };
        let topic = format!("{}/airtime", c.prefix);
        for (id, row) in rows {
            if client
                .try_publish(topic.clone(), QoS::AtLeastOnce, false, row.to_string())
                .is_err()
            {
                return; // the request queue is full: the next ack sends more
            }
            self.sent.push_back(Sent::Airtime(id));
            self.upto = id;
            self.rows += 1;
        }
    }

    /// The event loop wrote a publish and numbered it `pkid`.
    fn written(&mut self, pkid: u16) {
        if let Some(Sent::Airtime(id)) = self.sent.pop_front() {
            self.airtime.insert(pkid, id);
        }
    }

    /// The broker acknowledged `pkid`; true when it was an airtime row,
    /// which now leaves the outbox.
    fn acked(&mut self, pkid: u16, outbox: Option<&Outbox>) -> bool {
        let Some(id) = self.airtime.remove(&pkid) else {
            return false;
        };
        if let Some(o) = outbox {
            if let Err(e) = o.ack(id) {
                warn!("mqtt: airtime outbox: {e}");
            }
        }
        self.rows = self.rows.saturating_sub(1);
        true
    }

    /// Everything written and every airtime row acknowledged.
    fn settled(&self) -> bool {
        self.rows == 0 && self.sent.is_empty()
    }
}

/// The link's handle in the daemon.
pub struct Link {
    pub tx: UnboundedSender<ToLink>,
    pub rx: Receiver<FromLink>,
}

impl Link {
    /// Spawns the link task, one of the daemon's `tasks`.
    pub fn spawn(c: LinkConfig, tasks: &crate::runtime::tasks::Tasks) -> Link {
        let (to_tx, to_rx) = tokio::sync::mpsc::unbounded_channel();
        let (from_tx, from_rx) = tokio::sync::mpsc::channel(FROM_LINK);
        // Ends after `ToLink::Shutdown`, once the queued messages went out;
        // joined with the daemon's other tasks.
        tasks.spawn("mqtt link", run(c, to_rx, from_tx, tasks.token()));
        Link {
            tx: to_tx,
            rx: from_rx,
        }
    }

    pub fn send(&self, m: ToLink) {
        let _ = self.tx.send(m);
    }
}
