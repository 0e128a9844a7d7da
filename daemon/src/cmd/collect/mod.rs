//! `loa collect`: the province's collector. It takes every station's
//! airtime rows (`loa/<station>/airtime`, from their durable outboxes) and
//! status (`loa/<station>/status`, retained) from the province's broker, with
//! a persistent session at QoS 1, and writes them into the district book in
//! PostgreSQL, which `loa report --db postgres://...` reads.
//!
//! - `input`: topics and payloads typed and bounded (hostile input refused);
//! - `store`: the schema, the idempotent batch write, station state.
//!
//! A message is acknowledged to the broker only once the transaction that
//! holds it commits (rumqttc manual acks): a collector killed mid-batch, or a
//! database that goes away, loses nothing; the broker sends it again.

pub mod input;
pub mod store;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rumqttc::v5::mqttbytes::v5::{Packet, Publish};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event};
use serde::Deserialize;
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use input::{Refusal, Topic};
use store::Record;

/// Arguments of `loa collect`.
#[derive(Debug, clap::Args)]
pub struct CollectArgs {
    /// The collector's configuration (YAML: mqtt, database, stations).
    #[arg(long, value_name = "FILE", default_value = "/etc/loa/collect.yaml")]
    pub config: PathBuf,
}

/// The configuration file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub mqtt: MqttConfig,
    /// `postgres://USER@HOST:PORT/DB`.
    pub database: String,
    /// A file holding the database password (first line).
    #[serde(default)]
    pub database_password_file: Option<PathBuf>,
    /// Station id prefixes to take (default: every station).
    #[serde(default)]
    pub stations: Vec<String>,
    /// The topics' first level (stations publish on `<root>/<station>/...`).
    #[serde(default = "default_root")]
    pub root: String,
    /// A station not heard from for this many minutes is flagged silent.
    #[serde(default = "default_silent")]
    pub silent_after_minutes: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    /// `mqtt://host:port` or `mqtts://host:port`.
    pub url: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The persistent session's client id (unique per collector).
    #[serde(default = "default_client_id")]
    pub client_id: String,
    /// Subscribe as `$share/collect/...`, so that collectors side by side
    /// share the messages.
    #[serde(default)]
    pub shared: bool,
}

fn default_root() -> String {
    "loa".into()
}
fn default_silent() -> u64 {
    60
}
fn default_client_id() -> String {
    "loa-collect".into()
}

/// Messages held at most, unacknowledged (MQTT 5 Receive Maximum): the
/// broker keeps the rest while the database is away. Also a batch's most.
const IN_FLIGHT: u16 = 2000;
/// A batch waits at most this long for more messages after its first.
const GATHER: Duration = Duration::from_millis(300);
/// A batch is written once no message came for this long: the broker's
/// window of unacknowledged messages is full (EMQX's default is 32, whatever
/// Receive Maximum says) or the backlog is drained, and waiting longer
/// would only wait for acknowledgements that the batch itself holds back.
const QUIET: Duration = Duration::from_millis(10);
/// Messages waiting between the broker's task and the batches, at most.
/// mosquitto 2.0 sends a resumed session's whole queue without regard to
/// Receive Maximum; past this the broker's task stops reading (TCP holds
/// the rest) until batches catch up.
const WAITING: usize = IN_FLIGHT as usize * 2;
/// The MQTT keep alive (a station's is 15 s).
const KEEP_ALIVE: Duration = Duration::from_secs(60);
/// How long a stopping collector gives the broker's task to say goodbye.
const DISCONNECT_WITHIN: Duration = Duration::from_secs(2);
/// Refusals are logged once per station and reason per hour.
const LOG_EVERY: Duration = Duration::from_secs(3600);

impl Config {
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "{}: cannot read the collector's configuration",
                path.display()
            )
        })?;
        let c: Config = serde_saphyr::from_str(&text).map_err(|e| {
            let one_line = e.to_string().replace('\n', " ");
            anyhow::anyhow!(
                "{}: {one_line} (expected mqtt: {{url, username, password_file, ca_file, client_id, shared}}, \
                 database: postgres://USER@HOST:PORT/DB, database_password_file, stations, root, \
                 silent_after_minutes)",
                path.display()
            )
        })?;
        if !c.database.starts_with("postgres://") && !c.database.starts_with("postgresql://") {
            bail!(
                "{}: `database` must be postgres://USER@HOST:PORT/DB, not `{}`",
                path.display(),
                input::clip(&c.database)
            );
        }
        if !input::valid_station(&c.root) {
            bail!(
                "{}: `root` `{}` must be 1 to 40 of a-z, 0-9, -",
                path.display(),
                c.root
            );
        }
        Ok(c)
    }

    fn broker(&self, path: &Path) -> anyhow::Result<crate::runtime::mqtt::link::LinkConfig> {
        let m = &self.mqtt;
        let (tls, rest) = if let Some(r) = m.url.strip_prefix("mqtts://") {
            (true, r)
        } else if let Some(r) = m.url.strip_prefix("mqtt://") {
            (false, r)
        } else {
            bail!(
                "{}: mqtt url `{}` must start with mqtt:// or mqtts://, e.g. mqtt://127.0.0.1:1883",
                path.display(),
                m.url
            );
        };
        let (host, port) = match rest.trim_end_matches('/').rsplit_once(':') {
            Some((h, p)) => (
                h.to_string(),
                p.parse::<u16>().map_err(|_| {
                    anyhow::anyhow!("{}: mqtt url `{}` has no valid port", path.display(), m.url)
                })?,
            ),
            None => (
                rest.trim_end_matches('/').to_string(),
                if tls { 8883 } else { 1883 },
            ),
        };
        Ok(crate::runtime::mqtt::link::LinkConfig {
            host,
            port,
            tls,
            client_id: m.client_id.clone(),
            username: m.username.clone(),
            password_file: m.password_file.clone(),
            ca_file: m.ca_file.clone(),
            prefix: self.root.clone(),
            db: PathBuf::new(),
        })
    }
}

/// Refusals counted per (station, reason), each logged once an hour.
#[derive(Default)]
struct Refusals {
    logged: HashMap<(String, String), Instant>,
    counted: HashMap<(String, String), u64>,
    total: u64,
}

impl Refusals {
    fn add(&mut self, r: Refusal) {
        self.total += 1;
        // The reason's first words stand for its kind (the rest quotes input).
        let kind: String = r.reason.chars().take(24).collect();
        let key = (r.station.clone(), kind);
        let n = self.counted.entry(key.clone()).or_default();
        *n += 1;
        let due = self
            .logged
            .get(&key)
            .is_none_or(|t| t.elapsed() >= LOG_EVERY);
        if due {
            warn!(
                "refused from station {}: {} ({} such since the last line; {} refused in all)",
                r.station, r.reason, n, self.total
            );
            *n = 0;
            self.logged.insert(key, Instant::now());
        }
    }
}

pub fn run(args: &CollectArgs) -> anyhow::Result<ExitCode> {
    crate::runtime::run::init_logging();
    let config = Config::load(&args.config)?;
    let broker = config.broker(&args.config)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(collect(config, broker))
}

async fn collect(
    c: Config,
    broker: crate::runtime::mqtt::link::LinkConfig,
) -> anyhow::Result<ExitCode> {
    let mut db = store::connect(&c.database, c.database_password_file.as_deref()).await?;
    store::migrate(&mut db, &c.database).await?;
    info!(
        "district book {} at schema version {}",
        store::redacted(&c.database),
        store::SCHEMA_VERSION
    );

    let mut o = crate::runtime::mqtt::link::connect_options(&broker)?;
    // A persistent session: what arrives while the collector is away waits
    // in the broker.
    o.set_clean_start(false);
    o.set_session_expiry_interval(Some(7 * 24 * 3600));
    o.set_manual_acks(true);
    o.set_receive_maximum(Some(IN_FLIGHT));
    // The broker answers a ping behind every message it has queued for the
    // collector: while a million-row backlog drains (20 s), a 15 s keep
    // alive took the late answer for a dead link and reconnected.
    o.set_keep_alive(KEEP_ALIVE);
    let (client, mut eventloop) = AsyncClient::new(o, 64);
    let share = if c.mqtt.shared { "$share/collect/" } else { "" };
    let topics = [
        format!("{share}{}/+/airtime", c.root),
        format!("{share}{}/+/status", c.root),
    ];

    let (tx, mut rx) = mpsc::channel::<Publish>(WAITING);
    let subscriber = client.clone();
    let link = tokio::spawn(async move {
        let mut down_since: Option<Instant> = None;
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    if let Some(t) = down_since.take() {
                        info!("broker back after {} s", t.elapsed().as_secs());
                    }
                    // From a task of its own: the client's request queue
                    // may be full of acknowledgements, which only this
                    // task's polling sends.
                    let (client, topics) = (subscriber.clone(), topics.clone());
                    tokio::spawn(async move {
                        for t in topics {
                            let _ = client.subscribe(t, QoS::AtLeastOnce).await;
                        }
                    });
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if tx.send(p).await.is_err() {
                        return;
                    }
                }
                Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => return,
                Ok(_) => {}
                Err(e) => {
                    if down_since.is_none() {
                        warn!("broker: {}", crate::runtime::mqtt::link::why(&e));
                        down_since = Some(Instant::now());
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });

    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut refusals = Refusals::default();
    let silent_after = Duration::from_secs(c.silent_after_minutes * 60);
    let mut housekeeping = tokio::time::interval(Duration::from_secs(30));
    let mut stored: u64 = 0;
    // Acknowledgements not yet handed to the broker's task: never awaited
    // (the task may itself be waiting for this loop to take messages, when
    // the broker sends more than its window), handed over as room comes.
    let mut acks = Acks::default();
    loop {
        acks.flush(&client);
        let first = tokio::select! {
            p = rx.recv() => match p { Some(p) => p, None => break },
            () = acks.room(), if !acks.is_empty() => continue,
            _ = housekeeping.tick() => {
                match store::flag_silent(&db, silent_after).await {
                    Ok(now_silent) => for s in now_silent {
                        warn!("station {s} silent for more than {} min", c.silent_after_minutes);
                    },
                    Err(e) => warn!("database: {e}"),
                }
                continue;
            }
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        };
        let mut batch = vec![first];
        let began = tokio::time::Instant::now();
        let until = began + GATHER;
        while batch.len() < IN_FLIGHT as usize {
            acks.flush(&client);
            let quiet = (tokio::time::Instant::now() + QUIET).min(until);
            match tokio::time::timeout_at(quiet, rx.recv()).await {
                Ok(Some(p)) => batch.push(p),
                _ => break,
            }
        }
        let gathered = tokio::time::Instant::now();
        let now = chrono::Utc::now();
        let mut records = Vec::with_capacity(batch.len());
        for p in &batch {
            match parse(p, &c, now) {
                Ok(r) => records.push(Some(r)),
                Err(r) => {
                    refusals.add(r);
                    records.push(None);
                }
            }
        }
        // Written, or retried until it is (or the collector is stopped).
        let mut wait = Duration::from_millis(250);
        let mut outage: Option<Instant> = None;
        loop {
            let good: Vec<Record> = records.iter().flatten().cloned().collect();
            match store::write(&mut db, &good).await {
                Ok(()) => break,
                Err(e) if store::refused_value(&e) => {
                    // The database refused a value: write one at a time,
                    // refusing only the ones it will not take.
                    for (i, r) in records.iter_mut().enumerate() {
                        let Some(rec) = r else { continue };
                        if let Err(e) = store::write(&mut db, std::slice::from_ref(rec)).await {
                            if !store::refused_value(&e) {
                                break;
                            }
                            let station = match rec {
                                Record::Row(s, _) | Record::Status(s, _) => s.clone(),
                            };
                            refusals.add(Refusal {
                                station,
                                reason: format!("the database refused message {i}: {e}"),
                            });
                            *r = None;
                        }
                    }
                }
                Err(e) => {
                    if outage.is_none() {
                        error!(
                            "database: {e}; holding {} messages until it is back",
                            batch.len()
                        );
                        outage = Some(Instant::now());
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = term.recv() => {
                            // The batch stays unacknowledged: the broker
                            // sends it again to the next collector.
                            stop(&client, &mut acks, link, &mut rx).await;
                            return Ok(ExitCode::SUCCESS);
                        }
                    }
                    wait = (wait * 2).min(Duration::from_secs(5));
                    if db.is_closed() {
                        match store::connect(&c.database, c.database_password_file.as_deref()).await
                        {
                            Ok(fresh) => db = fresh,
                            Err(e) => tracing::debug!("{e:#}"),
                        }
                    }
                }
            }
        }
        if let Some(t) = outage {
            info!("database back after {} s", t.elapsed().as_secs());
        }
        // Only now is each message the broker's to forget.
        acks.add(batch);
        acks.flush(&client);
        stored += records.iter().flatten().count() as u64;
        tracing::debug!(
            "batch of {} messages gathered in {} ms, stored in {} ms",
            records.len(),
            (gathered - began).as_millis(),
            gathered.elapsed().as_millis()
        );
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Status(&format!(
            "{stored} messages stored, {} refused",
            refusals.total
        ))]);
    }
    stop(&client, &mut acks, link, &mut rx).await;
    Ok(ExitCode::SUCCESS)
}

/// Acknowledgements waiting for room in the client's request queue: a
/// message's packet id and QoS, all an acknowledgement needs (a broker
/// that ignores Receive Maximum can have a million messages unacknowledged;
/// whole messages, stripped, held 240 MiB).
#[derive(Default)]
struct Acks(std::collections::VecDeque<(u16, QoS)>);

impl Acks {
    fn add(&mut self, batch: Vec<Publish>) {
        self.0.extend(batch.into_iter().map(|p| (p.pkid, p.qos)));
    }

    /// Hands over as many as the queue takes, without waiting.
    fn flush(&mut self, client: &AsyncClient) {
        while let Some(&(pkid, qos)) = self.0.front() {
            let p = Publish {
                dup: false,
                qos,
                retain: false,
                topic: Default::default(),
                pkid,
                payload: Default::default(),
                properties: None,
            };
            match client.try_ack(&p) {
                Ok(()) => {
                    self.0.pop_front();
                }
                // Full: later. Closed: the broker's task is gone, and the
                // broker sends these again to the next collector.
                Err(_) => break,
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A moment for the broker's task to make room.
    async fn room(&self) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Hands over what acknowledgements it can and disconnects, within
/// [`DISCONNECT_WITHIN`] even when the broker is gone (its task then tries
/// to reconnect forever); what stays unacknowledged the broker sends again.
async fn stop(
    client: &AsyncClient,
    acks: &mut Acks,
    mut link: tokio::task::JoinHandle<()>,
    rx: &mut mpsc::Receiver<Publish>,
) {
    let deadline = tokio::time::Instant::now() + DISCONNECT_WITHIN;
    let mut asked = false;
    loop {
        acks.flush(client);
        if !asked && acks.is_empty() {
            asked = client.try_disconnect().is_ok();
        }
        tokio::select! {
            _ = &mut link => return,
            // Taken and dropped, so that the task can get to the disconnect.
            _ = rx.recv() => {}
            () = tokio::time::sleep(Duration::from_millis(5)) => {}
            () = tokio::time::sleep_until(deadline) => break,
        }
    }
    link.abort();
}

/// A message as a record, or why not.
fn parse(p: &Publish, c: &Config, now: chrono::DateTime<chrono::Utc>) -> Result<Record, Refusal> {
    let t = std::str::from_utf8(&p.topic).map_err(|_| Refusal {
        station: "?".into(),
        reason: "a topic that is not UTF-8".into(),
    })?;
    match input::topic(t, &c.stations)? {
        Topic::Airtime(station) => match input::row(&p.payload, now) {
            Ok(r) => Ok(Record::Row(station, r)),
            Err(reason) => Err(Refusal { station, reason }),
        },
        Topic::Status(station) => match input::status(&p.payload) {
            Ok(s) => Ok(Record::Status(station, s)),
            Err(reason) => Err(Refusal { station, reason }),
        },
    }
}
