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

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use loa_schedules::Config;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use crate::outside::visible;
use crate::runtime::engine::Engine;
use crate::runtime::mqtt::bus::Bus;
use crate::runtime::scheduler::{AnnouncementNote, Scheduler};
use crate::runtime::tasks::Tasks;

mod peer;
mod requests;

use peer::{authorize, passwd_entry};
pub use peer::{group_id, user_name, Peer};
pub use requests::ControlRequest;
use requests::{now_request, stop};

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
pub const START_WAIT: Duration = Duration::from_secs(15);
/// An announcement made at the PC that cannot air within this long (a
/// higher item holds the output) is dropped.
const EXPIRES: Duration = Duration::from_secs(15 * 60);
/// Longest announcement title (boards and airtime rows).
const TITLE_CHARS: usize = 80;

/// A request on its way to the scheduler's loop.
pub struct Request {
    pub peer: Peer,
    pub body: ControlRequest,
    reply: oneshot::Sender<Value>,
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
