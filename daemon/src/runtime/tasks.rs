//! One shutdown for the whole daemon (the mini-redis shape): every task and
//! thread `loa run` starts is started here, gets the one cancellation token,
//! and is joined here. SIGTERM or SIGINT cancels the token once; each task
//! then finishes what it must (the MQTT link delivers the relays' OFF and
//! the offline status, the control socket stops accepting, a loudness
//! measurement stops between files) and ends; [`Tasks::join`] waits for
//! them, bounded, and names in the journal any that did not end, instead of
//! sleeping fixed times and hoping.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::warn;

/// The daemon's tasks and threads, and the token that stops them.
#[derive(Clone, Default)]
pub struct Tasks {
    token: CancellationToken,
    tracker: TaskTracker,
    /// Which are still running, by name, for the journal.
    running: Arc<Mutex<Running>>,
}

#[derive(Default)]
struct Running {
    next: u64,
    names: BTreeMap<u64, &'static str>,
}

/// Removes a task's name when the task ends, however it ends.
struct Entry {
    running: Arc<Mutex<Running>>,
    id: u64,
}

impl Drop for Entry {
    fn drop(&mut self) {
        if let Ok(mut r) = self.running.lock() {
            r.names.remove(&self.id);
        }
    }
}

impl Tasks {
    pub fn new() -> Tasks {
        Tasks::default()
    }

    /// The token every task watches: cancelled once, when the daemon stops.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Stops the daemon: every task sees its token cancelled.
    pub fn cancel(&self) {
        self.token.cancel();
    }

    fn enter(&self, name: &'static str) -> Entry {
        let mut r = self.running.lock().expect("tasks");
        r.next += 1;
        let id = r.next;
        r.names.insert(id, name);
        Entry {
            running: self.running.clone(),
            id,
        }
    }

    /// Spawns a task on the current runtime.
    pub fn spawn<F>(&self, name: &'static str, task: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let entry = self.enter(name);
        self.tracker.spawn(async move {
            let out = task.await;
            drop(entry);
            out
        })
    }

    /// Runs blocking work (probing media on a reload) on tokio's blocking
    /// pool; it cannot be cancelled, only waited for (bounded) at the end.
    pub fn spawn_blocking<F, T>(&self, name: &'static str, work: F) -> tokio::task::JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let entry = self.enter(name);
        self.tracker.spawn_blocking(move || {
            let out = work();
            drop(entry);
            out
        })
    }

    /// Starts a named OS thread that is given the token and counted until
    /// it returns.
    pub fn thread<F>(&self, name: &'static str, work: F) -> std::io::Result<()>
    where
        F: FnOnce(CancellationToken) + Send + 'static,
    {
        let entry = self.enter(name);
        let counted = self.tracker.token();
        let token = self.token();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                work(token);
                drop(entry);
                drop(counted);
            })
            .map(|_| ())
    }

    /// The names of the tasks still running.
    pub fn running(&self) -> Vec<&'static str> {
        let r = self.running.lock().expect("tasks");
        let mut names: Vec<&'static str> = r.names.values().copied().collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Cancels the token and waits for every task and thread to end, for
    /// `within` at most. Returns the names of those still running (logged:
    /// they end with the process).
    pub async fn join(&self, within: Duration) -> Vec<&'static str> {
        self.token.cancel();
        self.tracker.close();
        if tokio::time::timeout(within, self.tracker.wait())
            .await
            .is_ok()
        {
            return Vec::new();
        }
        let left = self.running();
        warn!(
            "shutdown: {} did not end within {} ms; exiting without them",
            left.join(", "),
            within.as_millis()
        );
        left
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn join_waits_for_every_task_and_thread_to_see_the_token() {
        let tasks = Tasks::new();
        let (tx, rx) = std::sync::mpsc::channel();
        let t = tasks.token();
        let tx1 = tx.clone();
        tasks.spawn("waiter", async move {
            t.cancelled().await;
            tx1.send("task").unwrap();
        });
        tasks
            .thread("loa-test-thread", move |token| {
                while !token.is_cancelled() {
                    std::thread::sleep(Duration::from_millis(5));
                }
                tx.send("thread").unwrap();
            })
            .unwrap();
        assert_eq!(tasks.running(), vec!["loa-test-thread", "waiter"]);
        assert!(tasks.join(Duration::from_secs(10)).await.is_empty());
        let mut ended: Vec<&str> = rx.try_iter().collect();
        ended.sort_unstable();
        assert_eq!(
            ended,
            vec!["task", "thread"],
            "both ended before join returned"
        );
        assert!(tasks.running().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn join_is_bounded_and_names_what_did_not_end() {
        let tasks = Tasks::new();
        tasks.spawn("deaf", std::future::pending::<()>());
        tasks.spawn("polite", {
            let t = tasks.token();
            async move { t.cancelled().await }
        });
        let left = tasks.join(Duration::from_secs(3)).await;
        assert_eq!(left, vec!["deaf"]);
    }
}
