//! Local control (SPEC section 8): the operator at the broadcast PC talks to
//! the running daemon through a Unix socket, one JSON request per line and
//! one JSON answer per line (docs/control.md).
//!
//! The socket is `$RUNTIME_DIRECTORY/control.sock` under systemd
//! (RuntimeDirectory=loa: `/run/loa/control.sock`), else
//! `paths.state/control.sock`; mode 0660, group `loa`. The file mode keeps
//! other users out, and every connection's peer is checked again with
//! SO_PEERCRED: root, the daemon's own user and members of group `loa` may
//! use it. The Unix user is what the airtime rows record as `requested_by`.
//!
//! Connections are served on the daemon's runtime; each request goes to the
//! scheduler's loop, which answers it between two ticks (nothing here waits
//! on the loop's audio or the broker).
//!
//! Control clients can never take the file descriptors that media need: at
//! most [`MAX_CLIENTS`] connections are open at once. A connection that
//! sends no request for [`IDLE`] is closed, and when all places are taken a
//! newcomer takes the place of the connection idle the longest (so that
//! `loa status` answers even while someone holds connections open); only
//! when every one is in the middle of a request is the newcomer refused
//! (`busy`).

use std::collections::BTreeMap;
use std::ffi::CString;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use loa_schedules::{Config, Priority};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use crate::outside::visible;
use crate::runtime::airtime::Trigger;
use crate::runtime::engine::Engine;
use crate::runtime::mqtt::bus::Bus;
use crate::runtime::scheduler::{quiet_hours_hold, Announce, AnnouncementNote, Scheduler};
use crate::runtime::tasks::Tasks;
use crate::wire::{from_value, Bounded, Level, SpokenText, Whole, Zones};
use serde::de::IgnoredAny;

/// The socket's file name.
pub const SOCKET_NAME: &str = "control.sock";
/// Where systemd puts it (RuntimeDirectory=loa).
pub const SYSTEM_SOCKET: &str = "/run/loa/control.sock";
/// The group whose members may control the station.
pub const GROUP: &str = "loa";
/// A request line longer than this is refused (a TTS text is at most 2,000
/// characters; a line is never near this).
const MAX_LINE: usize = 64 * 1024;
/// Control connections open at once.
pub const MAX_CLIENTS: usize = 32;
/// A connection without a request for this long is closed.
const IDLE: Duration = Duration::from_secs(30);
/// An answer the client does not read within this long closes it.
const WRITE_WITHIN: Duration = Duration::from_secs(10);
/// How long `now` waits for its audio to start before answering "waiting".
const START_WAIT: Duration = Duration::from_secs(15);
/// An announcement made at the PC that cannot air within this long (a
/// higher item holds the output) is dropped.
const EXPIRES: Duration = Duration::from_secs(15 * 60);
/// Longest announcement title (boards and airtime rows).
const TITLE_CHARS: usize = 80;

/// Who is on the other end of a connection.
#[derive(Clone, Debug, PartialEq)]
pub struct Peer {
    pub uid: u32,
    pub pid: Option<i32>,
    /// The user name, or the uid in decimal when it has none.
    pub user: String,
    /// The user's primary group in the user database (None: no such user).
    pub primary_gid: Option<u32>,
}

/// A request on its way to the scheduler's loop.
pub struct Request {
    pub peer: Peer,
    pub body: ControlRequest,
    reply: oneshot::Sender<Value>,
}

/// One request line, typed (docs/control.md). A line that is not one of
/// these is refused `malformed` on its connection and never reaches the loop.
#[derive(Debug)]
pub enum ControlRequest {
    Now(NowRequest),
    Stop(StopRequest),
    Status,
}

/// The longest path a `file` may name (Linux's PATH_MAX).
const PATH_BYTES: usize = 4096;
/// The longest `stop` target: announcement ids are at most 64 characters.
const TARGET_BYTES: usize = 64;

/// `loa now`: exactly one of text, file, live (checked in [`now_request`]).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NowRequest {
    #[serde(rename = "cmd")]
    _cmd: IgnoredAny,
    text: Option<SpokenText>,
    file: Option<Bounded<PATH_BYTES>>,
    live: Option<CaptureDevice>,
    priority: Option<Level>,
    zones: Option<Zones>,
    title: Option<String>,
    repeat: Option<Whole<1, 10>>,
}

/// `loa stop [ID|all]`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopRequest {
    #[serde(rename = "cmd")]
    _cmd: IgnoredAny,
    target: Option<Bounded<TARGET_BYTES>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusRequest {
    #[serde(rename = "cmd")]
    _cmd: IgnoredAny,
}

/// A request's kind, read first so that the rest is read as that kind.
#[derive(serde::Deserialize)]
struct Head {
    cmd: Kind,
}

#[derive(serde::Deserialize)]
#[serde(try_from = "Bounded<16>")]
enum Kind {
    Now,
    Stop,
    Status,
}

impl TryFrom<Bounded<16>> for Kind {
    type Error = String;
    fn try_from(word: Bounded<16>) -> Result<Kind, String> {
        match word.0.as_str() {
            "now" => Ok(Kind::Now),
            "stop" => Ok(Kind::Stop),
            "status" => Ok(Kind::Status),
            other => Err(format!(
                "`{}` is not one of now, stop, status",
                visible(other)
            )),
        }
    }
}

impl ControlRequest {
    /// One request line; the reason of a refusal names the field and what
    /// it allows (its code is `malformed`).
    pub fn parse(line: &str) -> Result<ControlRequest, String> {
        let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
        if !value.is_object() {
            return Err("a request is a JSON object on one line".into());
        }
        if value.get("cmd").is_none() {
            return Err("a request is a JSON object with \"cmd\": now, stop or status".into());
        }
        let head: Head = from_value(&value)?;
        Ok(match head.cmd {
            Kind::Now => ControlRequest::Now(from_value(&value)?),
            Kind::Stop => ControlRequest::Stop(from_value(&value)?),
            Kind::Status => {
                from_value::<StatusRequest>(&value)?;
                ControlRequest::Status
            }
        })
    }
}

/// A capture device's name as `loa devices` lists it: 1 to 200 bytes, no
/// spaces or control characters.
#[derive(Debug)]
pub struct CaptureDevice(String);

impl<'de> serde::Deserialize<'de> for CaptureDevice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() || s.len() > 200 || s.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(serde::de::Error::custom(format!(
                "capture device `{}` is not a device name (1 to 200 bytes, no spaces): `loa devices` lists the inputs' names",
                visible(&s.chars().take(40).collect::<String>())
            )));
        }
        Ok(CaptureDevice(s))
    }
}

/// A `now` whose answer waits for its audio to start.
struct Pending {
    id: String,
    until: DateTime<Utc>,
    reply: oneshot::Sender<Value>,
    answer: Value,
}

/// The daemon's end of the socket.
pub struct Control {
    rx: mpsc::UnboundedReceiver<Request>,
    path: PathBuf,
    pending: Vec<Pending>,
}

/// Where the daemon puts its socket.
pub fn socket_path(config: &Config) -> PathBuf {
    match std::env::var_os("RUNTIME_DIRECTORY") {
        // systemd may list several directories, separated by colons.
        Some(d) if !d.is_empty() => {
            let first = d
                .to_string_lossy()
                .split(':')
                .next()
                .unwrap_or("")
                .to_string();
            PathBuf::from(first).join(SOCKET_NAME)
        }
        _ => config.station.paths.state.join(SOCKET_NAME),
    }
}

impl Control {
    /// Binds the socket and starts serving it (tasks of `tasks`: they stop
    /// accepting and hang up when the daemon stops).
    pub fn start(config: &Config, tasks: &Tasks) -> anyhow::Result<Control> {
        let path = socket_path(config);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        // A socket file left by a crash is removed; one that answers
        // belongs to a running daemon, and two daemons must not share a
        // station's state.
        if path.exists() {
            if std::os::unix::net::UnixStream::connect(&path).is_ok() {
                bail!(
                    "another loa daemon is running (it answers on {}); stop it first (systemctl stop loa)",
                    path.display()
                );
            }
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove the stale socket {}", path.display()))?;
        }
        let listener = UnixListener::bind(&path)
            .with_context(|| format!("cannot listen on {}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o660))
            .with_context(|| format!("cannot set the mode of {}", path.display()))?;
        let loa_gid = group_id(GROUP);
        match loa_gid {
            Some(gid) => {
                if let Err(e) = std::os::unix::fs::chown(&path, None, Some(gid)) {
                    warn!(
                        "cannot give {} to group {GROUP} ({e}): only root and this daemon's user may use it",
                        path.display()
                    );
                }
            }
            None => warn!(
                "there is no group {GROUP}: only root and this daemon's user may use {} (the Debian package creates the group)",
                path.display()
            ),
        }
        info!("local control on {}", path.display());
        let (tx, rx) = mpsc::unbounded_channel();
        tasks.spawn(
            "control socket",
            accept(listener, tx, loa_gid, tasks.clone()),
        );
        Ok(Control {
            rx,
            path,
            pending: Vec::new(),
        })
    }

    /// The next request (pending forever when none can come).
    pub async fn recv(&mut self) -> Option<Request> {
        self.rx.recv().await
    }

    /// When the loop must look at pending answers again.
    pub fn next_wakeup(&self) -> Option<DateTime<Utc>> {
        self.pending.iter().map(|p| p.until).min()
    }

    /// Answers a request between two ticks.
    pub fn handle<E: Engine>(
        &mut self,
        req: Request,
        sched: &mut Scheduler<E>,
        bus: &mut Bus,
        now: DateTime<Utc>,
    ) {
        let answer = match &req.body {
            ControlRequest::Status => json!({ "ok": true, "status": bus.status_document(sched) }),
            ControlRequest::Stop(s) => stop(s, &req.peer, sched),
            ControlRequest::Now(body) => match now_request(body, &req.peer, sched.config(), now) {
                Ok(a) => {
                    let id = a.id.clone();
                    info!(
                        "{} at the PC: {} `{}` ({}, {}, zones {})",
                        visible(&req.peer.user),
                        id,
                        visible(&a.title),
                        a.kind,
                        a.priority,
                        a.zones.join(",")
                    );
                    let answer = json!({
                        "ok": true,
                        "id": id,
                        "title": a.title,
                        "kind": a.kind,
                        "priority": a.priority.as_str(),
                        "zones": a.zones,
                    });
                    bus.announce_local(a, sched, now);
                    let wait = chrono::Duration::from_std(START_WAIT).unwrap_or_default();
                    self.pending.push(Pending {
                        id,
                        until: now + wait,
                        reply: req.reply,
                        answer,
                    });
                    return;
                }
                Err((code, why)) => {
                    info!(
                        "{} at the PC: `now` refused ({code}): {}",
                        visible(&req.peer.user),
                        visible(&why)
                    );
                    refusal(code, &why)
                }
            },
        };
        let _ = req.reply.send(answer);
    }

    /// Answers `now` requests whose audio started, failed or kept waiting.
    pub fn follow<E: Engine>(&mut self, sched: &Scheduler<E>, bus: &mut Bus, now: DateTime<Utc>) {
        let notes = std::mem::take(&mut bus.local_notes);
        if self.pending.is_empty() {
            return;
        }
        let views = sched.announcements();
        let mut i = 0;
        while i < self.pending.len() {
            let p = &self.pending[i];
            let view = views.iter().find(|v| v.id == p.id);
            let ended = notes.iter().find_map(|n| match n {
                AnnouncementNote::Failed { id, code, reason } if *id == p.id => {
                    Some(refusal(code, reason))
                }
                AnnouncementNote::Done { id, reason } if *id == p.id => {
                    let mut a = p.answer.clone();
                    a["state"] = json!("ended");
                    if let Some(r) = reason {
                        a["detail"] = json!(r);
                    }
                    Some(a)
                }
                _ => None,
            });
            let answer = if let Some(a) = ended {
                Some(a)
            } else if view.is_some_and(|v| v.on_air) {
                let mut a = p.answer.clone();
                a["state"] = json!("on_air");
                Some(a)
            } else if p.until <= now {
                let mut a = p.answer.clone();
                a["state"] = json!("waiting");
                a["detail"] = json!(match sched.now_airing() {
                    Some((prog, _)) => format!("waiting behind `{}`", prog.title),
                    None => "not on the air yet".to_string(),
                });
                Some(a)
            } else {
                None
            };
            match answer {
                Some(a) => {
                    let p = self.pending.remove(i);
                    let _ = p.reply.send(a);
                }
                None => i += 1,
            }
        }
    }
}

impl Drop for Control {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn refusal(code: &str, why: &str) -> Value {
    json!({ "ok": false, "code": code, "error": why })
}

/// One open connection's place among the [`MAX_CLIENTS`].
struct Place {
    id: u64,
    /// Between requests (it may give its place to a newcomer).
    idle: std::sync::atomic::AtomicBool,
    since_idle: std::sync::Mutex<tokio::time::Instant>,
    /// Told to close (it gave its place).
    close: tokio::sync::Notify,
}

impl Place {
    fn set_idle(&self, idle: bool) {
        if idle {
            *self.since_idle.lock().expect("place") = tokio::time::Instant::now();
        }
        self.idle.store(idle, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The open connections.
#[derive(Default)]
struct Places {
    next: u64,
    open: Vec<std::sync::Arc<Place>>,
}

type Shared = std::sync::Arc<std::sync::Mutex<Places>>;

impl Places {
    /// A place for a newcomer: a free one, or the one idle the longest
    /// (told to close); None when every connection is busy.
    fn take(&mut self) -> Option<std::sync::Arc<Place>> {
        if self.open.len() >= MAX_CLIENTS {
            let oldest = self
                .open
                .iter()
                .enumerate()
                .filter(|(_, p)| p.idle.load(std::sync::atomic::Ordering::SeqCst))
                .min_by_key(|(_, p)| *p.since_idle.lock().expect("place"))
                .map(|(i, _)| i)?;
            let gone = self.open.swap_remove(oldest);
            gone.close.notify_one();
        }
        self.next += 1;
        // Idle until its first request is read: a connection that has sent
        // nothing yet (its task may not even have run under load) must not
        // count as busy, or a burst of silent connections locks out the
        // operator's `loa status`.
        let place = std::sync::Arc::new(Place {
            id: self.next,
            idle: std::sync::atomic::AtomicBool::new(true),
            since_idle: std::sync::Mutex::new(tokio::time::Instant::now()),
            close: tokio::sync::Notify::new(),
        });
        self.open.push(place.clone());
        Some(place)
    }

    fn leave(&mut self, id: u64) {
        self.open.retain(|p| p.id != id);
    }
}

/// Gives the place back when its connection ends, however it ends.
struct Leave(Shared, u64);

impl Drop for Leave {
    fn drop(&mut self) {
        if let Ok(mut p) = self.0.lock() {
            p.leave(self.1);
        }
    }
}

/// Accepts connections until the daemon stops.
async fn accept(
    listener: UnixListener,
    tx: mpsc::UnboundedSender<Request>,
    loa_gid: Option<u32>,
    tasks: Tasks,
) {
    let places: Shared = Default::default();
    let token = tasks.token();
    // Accept errors (out of descriptors...) are logged once per streak.
    let mut failing = false;
    loop {
        let accepted = tokio::select! {
            _ = token.cancelled() => return,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((mut stream, _)) => {
                failing = false;
                let place = places.lock().expect("places").take();
                match place {
                    Some(place) => {
                        let leave = Leave(places.clone(), place.id);
                        let tx = tx.clone();
                        let token = token.clone();
                        tasks.spawn("control connection", async move {
                            tokio::select! {
                                _ = serve(stream, tx, loa_gid, &place) => {}
                                _ = token.cancelled() => {}
                            }
                            drop(leave);
                        });
                    }
                    None => {
                        // Every place is in the middle of a request: say so
                        // (without waiting on the newcomer) and hang up.
                        let line = format!(
                            "{}\n",
                            refusal(
                                "busy",
                                &format!("{MAX_CLIENTS} control connections are busy; try again in a moment")
                            )
                        );
                        let _ = tokio::time::timeout(
                            Duration::from_millis(100),
                            stream.write_all(line.as_bytes()),
                        )
                        .await;
                    }
                }
            }
            Err(e) => {
                if !failing {
                    warn!("control socket: {e}");
                    failing = true;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// One connection: its peer checked once, then request lines until EOF,
/// until it idles for [`IDLE`], or until a newcomer takes its place.
async fn serve(
    stream: UnixStream,
    tx: mpsc::UnboundedSender<Request>,
    loa_gid: Option<u32>,
    place: &Place,
) {
    let (read, mut write) = stream.into_split();
    let peer = match write.as_ref().peer_cred() {
        Ok(c) => {
            let entry = passwd_entry(c.uid());
            Peer {
                uid: c.uid(),
                pid: c.pid(),
                user: entry
                    .as_ref()
                    .map_or_else(|| c.uid().to_string(), |(name, _)| name.clone()),
                primary_gid: entry.map(|(_, gid)| gid),
            }
        }
        Err(e) => {
            warn!("control socket: cannot read the peer's credentials: {e}");
            return;
        }
    };
    if let Err(why) = authorize(&peer, loa_gid) {
        warn!(
            "control socket: {} (uid {}) refused: {}",
            visible(&peer.user),
            peer.uid,
            visible(&why)
        );
        // Answer its first request (read with a bound), then hang up.
        let mut lines = BufReader::new(read);
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(2), read_line(&mut lines, &mut buf)).await;
        let line = format!("{}\n", refusal("not_allowed", &why));
        let _ = tokio::time::timeout(WRITE_WITHIN, write.write_all(line.as_bytes())).await;
        return;
    }
    let mut lines = BufReader::new(read);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        place.set_idle(true);
        let read = tokio::select! {
            r = tokio::time::timeout(IDLE, read_line(&mut lines, &mut buf)) => r,
            () = place.close.notified() => return, // a newcomer took the place
        };
        place.set_idle(false);
        match read {
            Err(_) => return, // idle too long
            Ok(Ok(false)) => return,
            Ok(Ok(true)) => {}
            Ok(Err(e)) => {
                let line = format!("{}\n", refusal("malformed", &e.to_string()));
                let _ = tokio::time::timeout(WRITE_WITHIN, write.write_all(line.as_bytes())).await;
                return;
            }
        }
        let text = String::from_utf8_lossy(&buf);
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let answer = match ControlRequest::parse(text) {
            Ok(body) => {
                let (reply, answer) = oneshot::channel();
                if tx
                    .send(Request {
                        peer: peer.clone(),
                        body,
                        reply,
                    })
                    .is_err()
                {
                    return; // the daemon is stopping
                }
                match answer.await {
                    Ok(a) => a,
                    Err(_) => refusal("stopping", "the daemon is stopping"),
                }
            }
            Err(why) => {
                info!(
                    "{} at the PC: request refused (malformed): {}",
                    visible(&peer.user),
                    visible(&why)
                );
                refusal("malformed", &why)
            }
        };
        let line = format!("{answer}\n");
        match tokio::time::timeout(WRITE_WITHIN, write.write_all(line.as_bytes())).await {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
}

/// Reads one line (without its newline) of at most MAX_LINE bytes into
/// `buf`; false at the end of the stream.
async fn read_line<R: tokio::io::AsyncBufRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
) -> io::Result<bool> {
    loop {
        let chunk = r.fill_buf().await?;
        if chunk.is_empty() {
            return Ok(!buf.is_empty());
        }
        let (used, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        buf.extend_from_slice(&chunk[..if done { used - 1 } else { used }]);
        r.consume(used);
        if buf.len() > MAX_LINE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a request line is longer than {MAX_LINE} bytes"),
            ));
        }
        if done {
            return Ok(true);
        }
    }
}

/// Root, the daemon's own user and members of group `loa` may control it.
fn authorize(peer: &Peer, loa_gid: Option<u32>) -> Result<(), String> {
    let me = rustix::process::geteuid().as_raw();
    if peer.uid == 0 || peer.uid == me {
        return Ok(());
    }
    let Some(gid) = loa_gid else {
        return Err(format!(
            "there is no group {GROUP} on this PC; only root may control the station"
        ));
    };
    if user_groups(&peer.user, peer.primary_gid).contains(&gid) {
        return Ok(());
    }
    Err(format!(
        "user {} is not in group {GROUP}; an administrator adds them with `sudo adduser {} {GROUP}` (then log in again)",
        peer.user, peer.user
    ))
}

/// The name of user `uid`.
pub fn user_name(uid: u32) -> Option<String> {
    passwd_entry(uid).map(|(name, _)| name)
}

/// User `uid` in the user database: its name and primary group.
fn passwd_entry(uid: u32) -> Option<(String, u32)> {
    let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)).ok()??;
    Some((user.name, user.gid.as_raw()))
}

/// The id of group `name`.
pub fn group_id(name: &str) -> Option<u32> {
    let group = nix::unistd::Group::from_name(name).ok()??;
    Some(group.gid.as_raw())
}

/// The groups of a user (primary and supplementary, from the group
/// database); none for a uid the user database does not know.
fn user_groups(user: &str, primary: Option<u32>) -> Vec<u32> {
    let (Ok(cname), Some(primary)) = (CString::new(user), primary) else {
        return Vec::new();
    };
    match nix::unistd::getgrouplist(&cname, nix::unistd::Gid::from_raw(primary)) {
        Ok(groups) => groups.into_iter().map(|g| g.as_raw()).collect(),
        // More groups than the system allows a process: the primary one
        // alone, as a login would at least have.
        Err(_) => vec![primary],
    }
}

/// A `now` request checked and made into an announcement, or refused with
/// a code (the remote refusal codes where they apply) and a reason.
fn now_request(
    body: &NowRequest,
    peer: &Peer,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<Announce, (&'static str, String)> {
    let st = &config.station;
    let malformed = |why: String| ("malformed", why);
    let (text, file, live) = (&body.text, &body.file, &body.live);
    let n = [text.is_some(), file.is_some(), live.is_some()]
        .iter()
        .filter(|x| **x)
        .count();
    if n != 1 {
        return Err(malformed(
            "give exactly one of \"text\", \"file\" or \"live\"".into(),
        ));
    }
    let priority = body.priority.map_or(Priority::Normal, |l| l.0);
    let station_zones: Vec<&str> = st.zones.iter().map(|z| z.id.as_str()).collect();
    let zones: Vec<String> = match &body.zones {
        None | Some(Zones::All) => station_zones.iter().map(|z| z.to_string()).collect(),
        Some(Zones::List(list)) => {
            if let Some(z) = list.iter().find(|z| !station_zones.contains(&z.as_str())) {
                let hint = loa_schedules::diag::did_you_mean(z, station_zones.iter().copied())
                    .map(|s| format!("did you mean `{s}`? "))
                    .unwrap_or_default();
                return Err((
                    "no_zone",
                    format!(
                        "there is no zone `{}`; {hint}zones: {}",
                        visible(z),
                        station_zones.join(", ")
                    ),
                ));
            }
            // station.yaml order, once each.
            station_zones
                .iter()
                .filter(|z| list.iter().any(|a| a == *z))
                .map(|z| z.to_string())
                .collect()
        }
    };
    if zones.is_empty() {
        return Err(("no_zone", "no zone given".into()));
    }
    let repeat = body.repeat.map_or(1, |r| r.get() as u32);
    if let Some(q) = quiet_hours_hold(st.policy.quiet_hours, st.timezone, priority, now) {
        return Err((
            "quiet_hours",
            format!(
                "only emergency may sound in quiet hours ({}); add --priority emergency if it is one",
                loa_schedules::load::fmt_window(&q)
            ),
        ));
    }
    let (media, kind, source, default_title) = if let Some(SpokenText(t)) = text {
        (
            loa_audio::Media::Tts {
                text: t.to_string(),
                voice: None,
            },
            "tts",
            t.to_string(),
            crate::outside::title(t, TITLE_CHARS).unwrap_or_default(),
        )
    } else if let Some(Bounded(f)) = file {
        let path = crate::runtime::remote::media_file(&st.paths.media, f).map_err(|(c, why)| {
            (
                c,
                format!(
                    "{why}; copy the recording into {} first",
                    st.paths.media.display()
                ),
            )
        })?;
        let name = path
            .file_name()
            .and_then(|n| crate::outside::title(&n.to_string_lossy(), TITLE_CHARS))
            .unwrap_or_default();
        let s = path.display().to_string();
        (loa_audio::Media::file(path), "file", s, name)
    } else {
        let input = live.as_ref().map_or("default", |d| d.0.as_str());
        if repeat != 1 {
            return Err(malformed("a live session cannot repeat".into()));
        }
        (
            loa_audio::Media::Live {
                input: input.to_string(),
            },
            "live",
            input.to_string(),
            "Phát trực tiếp".to_string(),
        )
    };
    let title = body
        .title
        .as_deref()
        .and_then(|t| crate::outside::title(t, TITLE_CHARS))
        .unwrap_or(default_title);
    Ok(Announce {
        id: new_id(now),
        title,
        priority,
        zones,
        media,
        kind: kind.into(),
        source,
        length: None,
        repeat,
        trigger: Trigger::Cli,
        requested_by: peer.user.clone(),
        expires: now + chrono::Duration::from_std(EXPIRES).unwrap_or_default(),
    })
}

/// `cli-YYYYMMDD-HHMMSS-xxxx`: readable, sortable, unique enough for a PC.
fn new_id(now: DateTime<Utc>) -> String {
    format!(
        "cli-{}-{:04x}",
        now.format("%Y%m%d-%H%M%S"),
        fastrand::u16(..)
    )
}

/// `stop`: an announcement by id; without a target every announcement;
/// `all` whatever airs, the scheduled program included.
fn stop<E: Engine>(body: &StopRequest, peer: &Peer, sched: &mut Scheduler<E>) -> Value {
    let target = body.target.as_ref().map(|t| t.0.as_str());
    let views = sched.announcements();
    let title_of = |id: &str| {
        views
            .iter()
            .find(|v| v.id == id)
            .map(|v| v.title.clone())
            .unwrap_or_default()
    };
    let stopped: Vec<Value> = match target {
        Some("all") => {
            let reason = format!("stopped by {} at the PC (loa stop all)", peer.user);
            sched
                .stop_airing(&reason)
                .into_iter()
                .map(|s| {
                    json!({
                        "id": s.id,
                        "title": s.title,
                        "kind": if s.announcement { "announcement" } else { "program" },
                    })
                })
                .collect()
        }
        _ => {
            if let Some(id) = target.filter(|id| !views.iter().any(|v| v.id == *id)) {
                let known: Vec<&str> = views.iter().map(|v| v.id.as_str()).collect();
                return refusal(
                    "unknown_id",
                    &if known.is_empty() {
                        format!("no announcement `{id}` airs (none does now)")
                    } else {
                        format!(
                            "no announcement `{id}` airs; these do: {}",
                            known.join(", ")
                        )
                    },
                );
            }
            let reason = format!("stopped by {} at the PC (loa stop)", peer.user);
            sched
                .stop_announcements(target, &reason)
                .into_iter()
                .map(|id| json!({ "id": id, "title": title_of(&id), "kind": "announcement" }))
                .collect()
        }
    };
    info!(
        "{} at the PC: stop {}: {} stopped",
        visible(&peer.user),
        visible(target.unwrap_or("(announcements)")),
        stopped.len()
    );
    json!({ "ok": true, "stopped": stopped })
}

// ---------------------------------------------------------------------------
// The client side: `loa now`, `loa stop`, `loa status`.

/// Why a command could not talk to the daemon.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no Loa daemon is running (no control socket answers at {0}); start it with `sudo systemctl start loa`")]
    NoDaemon(String),
    #[error("cannot use {path}: permission denied; user {user} is not in group {GROUP} (an administrator adds you with `sudo adduser {user} {GROUP}`, then log in again)")]
    Denied { path: String, user: String },
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("the daemon answered something that is not JSON: {0}")]
    BadAnswer(String),
}

/// The sockets a client tries, in order: $LOA_SOCKET alone when set; else
/// the configuration's state directory (a daemon run by hand), then
/// /run/loa (the service).
pub fn candidates(config_dir: &Path) -> Vec<PathBuf> {
    if let Some(p) = std::env::var_os("LOA_SOCKET").filter(|p| !p.is_empty()) {
        return vec![PathBuf::from(p)];
    }
    let mut out = Vec::new();
    if let Some(c) = loa_schedules::load::load_dir(config_dir).config {
        out.push(c.station.paths.state.join(SOCKET_NAME));
    }
    let sys = PathBuf::from(SYSTEM_SOCKET);
    if !out.contains(&sys) {
        out.push(sys);
    }
    out
}

/// Sends one request and returns the answer.
pub fn request(config_dir: &Path, body: &Value, timeout: Duration) -> Result<Value, ClientError> {
    use std::io::{BufRead, Write};
    let paths = candidates(config_dir);
    let mut stream = None;
    for p in &paths {
        match std::os::unix::net::UnixStream::connect(p) {
            Ok(s) => {
                stream = Some((s, p.clone()));
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                let uid = rustix::process::getuid().as_raw();
                return Err(ClientError::Denied {
                    path: p.display().to_string(),
                    user: user_name(uid).unwrap_or_else(|| uid.to_string()),
                });
            }
            Err(_) => continue, // missing, or left by a daemon that is gone
        }
    }
    let Some((mut s, path)) = stream else {
        let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(ClientError::NoDaemon(list.join(" or ")));
    };
    let io_err = |source: io::Error| ClientError::Io {
        path: path.display().to_string(),
        source,
    };
    s.set_read_timeout(Some(timeout)).map_err(io_err)?;
    let line = format!("{body}\n");
    // A daemon that refuses the peer may hang up early: its answer is
    // still there to read.
    if let Err(e) = s.write_all(line.as_bytes()) {
        if e.kind() != io::ErrorKind::BrokenPipe {
            return Err(io_err(e));
        }
    }
    let mut answer = String::new();
    std::io::BufReader::new(&s)
        .read_line(&mut answer)
        .map_err(io_err)?;
    if answer.trim().is_empty() {
        return Err(ClientError::NoDaemon(path.display().to_string()));
    }
    serde_json::from_str(answer.trim()).map_err(|_| ClientError::BadAnswer(answer))
}

/// Arguments of `loa now`.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["text", "file", "live"]))]
pub struct NowArgs {
    #[command(flatten)]
    pub config: crate::cli::ConfigArg,
    /// Read this text aloud (text-to-speech).
    #[arg(long, value_name = "T")]
    pub text: Option<String>,
    /// Play a recording from the media directory (a path inside it, or relative to it).
    #[arg(long, value_name = "F")]
    pub file: Option<String>,
    /// Put the microphone (a capture device; default: `default`) on the air until `loa stop`.
    #[arg(long, value_name = "INPUT", num_args = 0..=1, default_missing_value = "default")]
    pub live: Option<String>,
    /// filler, normal, priority or emergency.
    #[arg(long, value_name = "P", default_value = "normal")]
    pub priority: String,
    /// Zone ids, comma-separated (default: every zone).
    #[arg(long, value_name = "Z,..", value_delimiter = ',')]
    pub zones: Vec<String>,
    /// Text for the LED boards and the airtime log (default: the start of the text, the file name, or "Phát trực tiếp").
    #[arg(long, value_name = "T")]
    pub title: Option<String>,
    /// Air the text or file this many times, 2 s apart.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub repeat: u32,
}

/// Arguments of `loa stop`.
#[derive(Debug, clap::Args)]
pub struct StopArgs {
    #[command(flatten)]
    pub config: crate::cli::ConfigArg,
    /// An announcement id (`loa status` lists them), or `all` to cut whatever airs,
    /// the scheduled program included. Without it: every announcement and live session.
    #[arg(value_name = "ID|all")]
    pub target: Option<String>,
}

/// Arguments of `loa status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub config: crate::cli::ConfigArg,
    /// Output format (json: the same document as the retained MQTT status).
    #[arg(long, value_enum, default_value_t = crate::cli::Format::Text)]
    pub format: crate::cli::Format,
}

fn fail(e: impl std::fmt::Display) -> std::process::ExitCode {
    eprintln!("loa: {e}");
    std::process::ExitCode::from(1)
}

/// The daemon's refusal, one line.
fn refused(a: &Value) -> std::process::ExitCode {
    let code = a.get("code").and_then(Value::as_str).unwrap_or("error");
    let why = a.get("error").and_then(Value::as_str).unwrap_or("refused");
    fail(format!("refused ({code}): {why}"))
}

pub fn now_cmd(args: &NowArgs) -> anyhow::Result<std::process::ExitCode> {
    let mut body = json!({ "cmd": "now", "priority": args.priority });
    if let Some(t) = &args.text {
        body["text"] = json!(t);
    }
    if let Some(f) = &args.file {
        // A path that exists from here is sent whole; the daemon checks it
        // lies inside the media directory.
        let p = Path::new(f);
        let f = match p.canonicalize() {
            Ok(abs) if !p.is_absolute() => abs.display().to_string(),
            _ => f.clone(),
        };
        body["file"] = json!(f);
    }
    if let Some(l) = &args.live {
        body["live"] = json!(l);
    }
    if !args.zones.is_empty() {
        body["zones"] = json!(args.zones);
    }
    if let Some(t) = &args.title {
        body["title"] = json!(t);
    }
    if args.repeat != 1 {
        body["repeat"] = json!(args.repeat);
    }
    let a = match request(
        &args.config.config,
        &body,
        START_WAIT + Duration::from_secs(15),
    ) {
        Ok(a) => a,
        Err(e) => return Ok(fail(e)),
    };
    if a.get("ok") != Some(&Value::Bool(true)) {
        return Ok(refused(&a));
    }
    let s = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let zones: Vec<String> = a
        .get("zones")
        .and_then(Value::as_array)
        .map(|z| {
            z.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let what = format!(
        "{} `{}` ({}, zones {})",
        s("id"),
        s("title"),
        s("priority"),
        zones.join(",")
    );
    match s("state").as_str() {
        "on_air" if s("kind") == "live" => println!(
            "live on air: {what}\nspeak now; end it with: loa stop {}",
            s("id")
        ),
        "on_air" => println!("on air: {what}\nstop it with: loa stop {}", s("id")),
        "ended" => println!(
            "aired: {what}{}",
            a.get("detail")
                .and_then(Value::as_str)
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        ),
        _ => println!(
            "accepted, not on the air yet ({}): {what}\n`loa status` shows it; `loa stop {}` cancels it",
            s("detail"),
            s("id")
        ),
    }
    Ok(std::process::ExitCode::SUCCESS)
}

pub fn stop_cmd(args: &StopArgs) -> anyhow::Result<std::process::ExitCode> {
    let body = json!({ "cmd": "stop", "target": args.target });
    let a = match request(&args.config.config, &body, Duration::from_secs(10)) {
        Ok(a) => a,
        Err(e) => return Ok(fail(e)),
    };
    if a.get("ok") != Some(&Value::Bool(true)) {
        return Ok(refused(&a));
    }
    let stopped = a
        .get("stopped")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if stopped.is_empty() {
        println!(
            "nothing to stop: {}",
            if args.target.is_none() {
                "no announcement airs (`loa stop all` also cuts the scheduled program)"
            } else {
                "nothing airs"
            }
        );
    }
    for s in &stopped {
        let g = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("");
        println!(
            "stopped {} {} `{}` (fading out)",
            g("kind"),
            g("id"),
            g("title")
        );
    }
    Ok(std::process::ExitCode::SUCCESS)
}

pub fn status_cmd(args: &StatusArgs) -> anyhow::Result<std::process::ExitCode> {
    let a = match request(
        &args.config.config,
        &json!({ "cmd": "status" }),
        Duration::from_secs(10),
    ) {
        Ok(a) => a,
        Err(e) => return Ok(fail(e)),
    };
    if a.get("ok") != Some(&Value::Bool(true)) {
        return Ok(refused(&a));
    }
    let doc = a.get("status").cloned().unwrap_or(Value::Null);
    match args.format {
        crate::cli::Format::Json => println!("{doc}"),
        crate::cli::Format::Text => print!("{}", status_text(&doc, &station_today(&doc))),
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// Today at the station: the date now at the offset the document's times carry.
fn station_today(doc: &Value) -> String {
    let stamp = ["now", "next", "link", "config"]
        .iter()
        .filter_map(|k| doc.get(*k))
        .flat_map(|v| ["since", "at"].map(|f| v.get(f).and_then(Value::as_str)))
        .flatten()
        .find_map(|t| DateTime::parse_from_rfc3339(t).ok());
    match stamp {
        Some(t) => Utc::now()
            .with_timezone(t.offset())
            .format("%Y-%m-%d")
            .to_string(),
        None => chrono::Local::now().format("%Y-%m-%d").to_string(),
    }
}

/// `2026-11-25T10:02:11.123+07:00` → `10:02:11` (today) or `2026-11-26 06:00`.
fn short_time(t: &str, today: &str) -> String {
    if t.len() >= 19 {
        if &t[..10] == today {
            return t[11..19].to_string();
        }
        return format!("{} {}", &t[..10], &t[11..16]);
    }
    t.to_string()
}

/// The status document for a terminal: one line per fact, readable at a glance.
/// `today` is the station's date, YYYY-MM-DD (times on it show without it).
pub fn status_text(doc: &Value, today: &str) -> String {
    use std::fmt::Write;
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let t = |v: &Value, k: &str| short_time(&s(v, k), today);
    let mut out = String::new();
    let station = doc.get("station").unwrap_or(&Value::Null);
    let _ = writeln!(
        out,
        "{} ({}), loa {}",
        s(station, "name"),
        s(station, "id"),
        s(doc, "version")
    );
    match doc.get("now").filter(|n| !n.is_null()) {
        Some(n) => {
            let _ = writeln!(
                out,
                "On air:    {} [{}] {}, since {}",
                s(n, "title"),
                s(n, "program"),
                s(n, "priority"),
                t(n, "since")
            );
        }
        None => {
            let _ = writeln!(out, "On air:    nothing");
        }
    }
    for a in doc
        .get("announcements")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let since = match a.get("since").and_then(Value::as_str) {
            Some(x) => format!("since {}", short_time(x, today)),
            None => "waiting".into(),
        };
        let zones: Vec<&str> = a
            .get("zones")
            .and_then(Value::as_array)
            .map(|z| z.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<8} {} `{}` {}, zones {}, by {} ({}), {since}",
            s(a, "kind"),
            s(a, "id"),
            s(a, "title"),
            s(a, "priority"),
            zones.join(","),
            s(a, "requested_by"),
            s(a, "trigger"),
        );
    }
    match doc.get("next").filter(|n| !n.is_null()) {
        Some(n) => {
            let _ = writeln!(out, "Next:      {} at {}", s(n, "program"), t(n, "at"));
        }
        None => {
            let _ = writeln!(out, "Next:      nothing scheduled");
        }
    }
    let zones: BTreeMap<String, Value> = doc
        .get("zones")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    if !zones.is_empty() {
        let line: Vec<String> = zones
            .iter()
            .map(|(z, st)| format!("{z} {}", st.as_str().unwrap_or("?")))
            .collect();
        let _ = writeln!(out, "Zones:     {}", line.join(" · "));
    }
    if let Some(b) = doc.get("boards").and_then(Value::as_object) {
        for (i, (id, text)) in b.iter().enumerate() {
            let label = if i == 0 { "Boards:" } else { "" };
            let shown = match text {
                Value::String(t) => format!("\"{t}\""),
                Value::Null => "(blank)".into(),
                other => other.to_string(),
            };
            let _ = writeln!(out, "{label:<10} {id}: {shown}");
        }
    }
    if let Some(l) = doc.get("link") {
        let state = s(l, "state");
        let line = match state.as_str() {
            "off" => "off (no mqtt: in station.yaml)".to_string(),
            _ => {
                let since = l
                    .get("since")
                    .and_then(Value::as_str)
                    .map(|x| format!(" since {}", short_time(x, today)))
                    .unwrap_or_default();
                format!("{state} to {}{since}", s(l, "broker"))
            }
        };
        let _ = writeln!(out, "MQTT:      {line}");
    }
    if let Some(o) = doc.get("outputs").and_then(Value::as_object) {
        for (i, (name, v)) in o.iter().enumerate() {
            let label = if i == 0 { "Outputs:" } else { "" };
            let state = match s(v, "state").as_str() {
                "ok" => "ok".to_string(),
                st => format!("{st} since {}: {}", t(v, "since"), s(v, "reason")),
            };
            let _ = writeln!(out, "{label:<10} {name} ({}) {state}", s(v, "spec"));
        }
    }
    if let Some(a) = doc.get("airtime_log").filter(|a| !a.is_null()) {
        let line = match s(a, "state").as_str() {
            "failing" => format!(
                "airtime log: {}: {} rows waiting",
                s(a, "reason"),
                a.get("waiting").and_then(Value::as_u64).unwrap_or(0)
            ),
            st => st.to_string(),
        };
        let _ = writeln!(out, "Log:       {line}");
        if let Some(n) = a.get("notice").and_then(Value::as_str) {
            let _ = writeln!(out, "           {n}");
        }
    }
    if let Some(c) = doc.get("config").filter(|c| !c.is_null()) {
        let errors: Vec<&str> = c
            .get("errors")
            .and_then(Value::as_array)
            .map(|e| e.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let line = match s(c, "result").as_str() {
            "ok" => format!("{} at {}, ok", s(c, "event"), t(c, "at")),
            r => format!(
                "{} at {} {r} ({} error(s)); the last good configuration stays on air",
                s(c, "event"),
                t(c, "at"),
                errors.len()
            ),
        };
        let _ = writeln!(out, "Config:    {line}");
        for e in errors {
            let _ = writeln!(out, "           {e}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_the_daemons_user_may_always_control() {
        let me = rustix::process::geteuid().as_raw();
        let peer = |uid| Peer {
            uid,
            pid: None,
            user: "x".into(),
            primary_gid: None,
        };
        assert!(authorize(&peer(0), None).is_ok());
        assert!(authorize(&peer(me), None).is_ok());
    }

    #[test]
    fn others_need_group_loa() {
        let me = rustix::process::geteuid().as_raw();
        // A uid that is neither root nor us, and a user name nobody has.
        let uid = if me == 4242 { 4243 } else { 4242 };
        let stranger = Peer {
            uid,
            pid: None,
            user: "no-such-user-loa-test".into(),
            primary_gid: passwd_entry(uid).map(|(_, gid)| gid),
        };
        let e = authorize(&stranger, Some(999_999)).unwrap_err();
        assert!(e.contains("not in group loa"), "{e}");
        assert!(e.contains("adduser no-such-user-loa-test loa"), "{e}");
        let e = authorize(&stranger, None).unwrap_err();
        assert!(e.contains("no group loa"), "{e}");
    }

    #[test]
    fn the_user_database_is_read_through_nss() {
        // Every Debian system has root (uid 0, group 0) in both databases.
        assert_eq!(passwd_entry(0), Some(("root".to_string(), 0)));
        assert_eq!(user_name(0).as_deref(), Some("root"));
        assert_eq!(group_id("root"), Some(0));
        assert!(user_groups("root", Some(0)).contains(&0));
    }

    #[test]
    fn unknown_users_and_groups_are_not_found() {
        assert_eq!(group_id("no-such-group-loa-test"), None);
        // A name no C string can carry is no group either, not a panic.
        assert_eq!(group_id("lo\0a"), None);
        // An unknown user has only the primary group it was given; no
        // primary group (no passwd entry) means no groups at all.
        assert_eq!(user_groups("no-such-user-loa-test", Some(4242)), [4242]);
        assert!(user_groups("no-such-user-loa-test", None).is_empty());
        assert!(user_groups("lo\0a", Some(4242)).is_empty());
    }

    /// A station with zones thon-1 and thon-2 and a media directory.
    fn station() -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("media")).unwrap();
        std::fs::write(
            dir.path().join("station.yaml"),
            "station: { id: e2e, name: x, timezone: Asia/Ho_Chi_Minh }\n\
             paths: { media: media, state: state }\noutputs: { main: \"null\" }\n\
             zones: { thon-1: { output: main }, thon-2: { output: main } }\n",
        )
        .unwrap();
        let loaded = loa_schedules::load_dir(dir.path());
        assert!(loaded.diagnostics.is_valid(), "{:?}", loaded.diagnostics);
        (dir, loaded.config.unwrap())
    }

    /// The hostile corpus (tests/corpus/control.tsv): every line is refused
    /// with its code and a one-line reason naming the field, by the parser
    /// on the connection or by the checks of `now` (a stop of an unknown id
    /// needs the scheduler: tests/tests/hostile_corpus.rs covers it).
    #[test]
    fn the_hostile_corpus_is_refused_field_by_field() {
        let (_dir, config) = station();
        let peer = Peer {
            uid: 0,
            pid: None,
            user: "nam".into(),
            primary_gid: None,
        };
        let now = Utc::now();
        let brief = loa_e2e::corpus::brief;
        let cases = loa_e2e::corpus::control();
        assert!(cases.len() > 50);
        for c in cases.iter().filter(|c| c.code != "unknown_id") {
            let (code, why) = match ControlRequest::parse(&c.line) {
                Err(why) => ("malformed", why),
                Ok(ControlRequest::Now(n)) => match now_request(&n, &peer, &config, now) {
                    Err(e) => e,
                    Ok(a) => panic!("{}: accepted as {}", brief(&c.line), a.title),
                },
                Ok(other) => panic!("{}: accepted as {other:?}", brief(&c.line)),
            };
            assert_eq!(code, c.code, "{}: {why}", brief(&c.line));
            assert!(why.contains(&c.needle), "{}: {why}", brief(&c.line));
            assert!(!why.contains('\n') && why.chars().count() <= 301, "{why}");
        }
    }

    #[test]
    fn the_clients_requests_are_read_as_before() {
        for line in [
            r#"{"cmd":"status"}"#,
            r#"{"cmd":"stop","target":null}"#,
            r#"{"cmd":"stop","target":"all"}"#,
            r#"{"cmd":"now","priority":"normal","text":"Họp dân","zones":["thon-2"],"title":"Họp","repeat":10}"#,
            r#"{"cmd":"now","priority":"emergency","live":"default"}"#,
            r#"{"cmd":"now","file":"/srv/media/a.mp3","zones":"all","repeat":null}"#,
        ] {
            assert!(ControlRequest::parse(line).is_ok(), "{line}");
        }
    }

    #[test]
    fn status_text_reads_at_a_glance() {
        let doc = json!({
            "state": "online", "version": "0.1.0",
            "now": {"program": "ban-tin-sang", "title": "Bản tin sáng", "priority": "normal",
                    "since": "2026-11-25T05:30:00.000+07:00"},
            "next": {"program": "vov1", "at": "2026-11-26T06:00:00.000+07:00"},
            "zones": {"thon-1": "on", "cho": "fault"},
            "announcements": [{"id": "cli-20261125-053100-ab12", "title": "Phát trực tiếp",
                "priority": "emergency", "kind": "live", "zones": ["thon-1"], "trigger": "cli",
                "requested_by": "nam", "since": "2026-11-25T05:31:00.000+07:00"}],
            "boards": {"bang-uy-ban": "Trọng dân, gần dân"},
            "link": {"state": "connected", "broker": "mqtt://10.0.0.2:1883",
                     "since": "2026-11-25T05:00:00.000+07:00"},
            "outputs": {"main": {"spec": "device:default", "state": "ok"}},
            "config": {"event": "reload", "at": "2026-11-25T05:10:00.000+07:00",
                       "result": "refused", "errors": ["schedules/a.yaml:3:5: unknown key `tittle`"]},
            "station": {"id": "au-lau", "name": "Đài xã Âu Lâu", "timezone": "Asia/Ho_Chi_Minh"}
        });
        let t = status_text(&doc, "2026-11-25");
        assert!(t.starts_with("Đài xã Âu Lâu (au-lau), loa 0.1.0\n"), "{t}");
        assert!(
            t.contains("On air:    Bản tin sáng [ban-tin-sang] normal, since 05:30:00"),
            "{t}"
        );
        assert!(
            t.contains("live     cli-20261125-053100-ab12 `Phát trực tiếp` emergency"),
            "{t}"
        );
        assert!(t.contains("by nam (cli), since 05:31:00"), "{t}");
        assert!(t.contains("Next:      vov1 at 2026-11-26 06:00"), "{t}");
        assert!(t.contains("Zones:     cho fault · thon-1 on"), "{t}");
        assert!(t.contains("bang-uy-ban: \"Trọng dân, gần dân\""), "{t}");
        assert!(
            t.contains("MQTT:      connected to mqtt://10.0.0.2:1883 since 05:00:00"),
            "{t}"
        );
        assert!(t.contains("main (device:default) ok"), "{t}");
        assert!(t.contains("reload at 05:10:00 refused (1 error(s))"), "{t}");
        assert!(
            t.contains("schedules/a.yaml:3:5: unknown key `tittle`"),
            "{t}"
        );
    }
}
