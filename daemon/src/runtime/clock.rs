//! Time as an input. The scheduler reads the wall clock (to know what the
//! schedule says now) and a monotonic clock (to tell a wall-clock step, an
//! NTP correction or an operator fixing the date, from time passing). The
//! real clock reads the system; the virtual ones are moved by their owner
//! (`VirtualClock`) or by tokio's paused time (`PausedClock`), so a week of
//! schedule runs in seconds and a clock step is a test input.
//!
//! The daemon's loop sleeps through the clock too (`sleep_until`), so the
//! same loop runs on the wall clock and, in tests, on virtual time.

use std::cell::Cell;
use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, TimeDelta, Utc};
use loa_schedules::occurrence::delta;

pub trait Clock {
    /// Wall time.
    fn now(&self) -> DateTime<Utc>;
    /// Monotonic time since the clock was made; never steps.
    fn mono(&self) -> Duration;
    /// Waits until the wall clock reads `t` (at once when it already does).
    /// A wall clock may step while waiting: callers that care cap the wait
    /// with [`Clock::idle_wake`] and look again.
    fn sleep_until(&self, t: DateTime<Utc>) -> impl Future<Output = ()>;
    /// The longest the daemon's loop may sleep when nothing is due: on the
    /// wall clock a second, to notice steps (NTP, an operator fixing the
    /// date) soon; a virtual clock only steps when its owner says so.
    fn idle_wake(&self) -> Duration {
        Duration::from_secs(1)
    }
}

/// The system's clocks.
pub struct WallClock {
    origin: Instant,
}

impl WallClock {
    pub fn new() -> Self {
        WallClock {
            origin: Instant::now(),
        }
    }
}

impl Clock for WallClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    fn mono(&self) -> Duration {
        self.origin.elapsed()
    }
    async fn sleep_until(&self, t: DateTime<Utc>) {
        let d = (t - Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(d).await
    }
}

/// A clock that moves only when told: `advance_to` moves both clocks
/// together (time passing), `step` moves the wall clock alone.
pub struct VirtualClock {
    wall: Cell<DateTime<Utc>>,
    mono: Cell<Duration>,
}

impl VirtualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        VirtualClock {
            wall: Cell::new(start),
            mono: Cell::new(Duration::ZERO),
        }
    }

    /// Time passes until `t` (no-op when `t` is not ahead).
    pub fn advance_to(&self, t: DateTime<Utc>) {
        let now = self.wall.get();
        if t > now {
            let d = (t - now).to_std().unwrap_or_default();
            self.wall.set(t);
            self.mono.set(self.mono.get() + d);
        }
    }

    /// The wall clock jumps by `d` (negative: backwards); no time passes.
    #[cfg_attr(not(test), allow(dead_code, reason = "only tests jump the wall clock"))]
    pub fn step(&self, d: TimeDelta) {
        self.wall.set(self.wall.get() + d);
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> DateTime<Utc> {
        self.wall.get()
    }
    fn mono(&self) -> Duration {
        self.mono.get()
    }
    /// Nothing else moves this clock while its owner waits: time passes
    /// to `t` at once.
    async fn sleep_until(&self, t: DateTime<Utc>) {
        self.advance_to(t);
    }
}

/// Virtual time for async code: tokio's clock, paused (`start_paused`), is
/// the monotonic clock, and the wall clock reads `start` plus the time
/// that passed plus any steps. Every timer of the runtime (the loop's
/// sleeps, the control socket's timeouts, a test's own `sleep`) shares it,
/// and tokio moves it to the next timer whenever every task waits: a week
/// of the daemon's loop runs in seconds, events keep their order.
#[cfg_attr(
    not(test),
    allow(dead_code, reason = "the daemon's loop runs on it in tests only")
)]
pub struct PausedClock {
    start: DateTime<Utc>,
    origin: tokio::time::Instant,
    steps: Cell<TimeDelta>,
}

#[cfg_attr(
    not(test),
    allow(dead_code, reason = "the daemon's loop runs on it in tests only")
)]
impl PausedClock {
    /// Must be made inside a runtime whose time is paused.
    pub fn new(start: DateTime<Utc>) -> Self {
        PausedClock {
            start,
            origin: tokio::time::Instant::now(),
            steps: Cell::new(TimeDelta::zero()),
        }
    }

    /// The wall clock jumps by `d`; no time passes.
    pub fn step(&self, d: TimeDelta) {
        self.steps.set(self.steps.get() + d);
    }
}

impl Clock for PausedClock {
    fn now(&self) -> DateTime<Utc> {
        self.start + delta(self.mono()) + self.steps.get()
    }
    fn mono(&self) -> Duration {
        self.origin.elapsed()
    }
    async fn sleep_until(&self, t: DateTime<Utc>) {
        let d = (t - self.now()).to_std().unwrap_or_default();
        tokio::time::sleep(d).await
    }
    fn idle_wake(&self) -> Duration {
        Duration::from_secs(60)
    }
}

pub fn to_system(t: DateTime<Utc>) -> SystemTime {
    SystemTime::from(t)
}

pub fn from_system(t: SystemTime) -> DateTime<Utc> {
    DateTime::<Utc>::from(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn virtual_time_passes_and_steps_apart() {
        let c = VirtualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap());
        c.advance_to(Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).unwrap());
        assert_eq!(c.mono(), Duration::from_secs(3600));
        c.step(TimeDelta::minutes(-30));
        assert_eq!(
            c.now(),
            Utc.with_ymd_and_hms(2026, 11, 23, 0, 30, 0).unwrap()
        );
        assert_eq!(c.mono(), Duration::from_secs(3600));
        c.advance_to(Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap());
        assert_eq!(
            c.mono(),
            Duration::from_secs(3600),
            "going back is not time passing"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn paused_time_sleeps_to_the_wall_time_asked() {
        let start = Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap();
        let c = PausedClock::new(start);
        let t = start + TimeDelta::days(7);
        c.sleep_until(t).await;
        assert_eq!(c.now(), t, "a week passed at once, to the millisecond");
        assert_eq!(c.mono(), Duration::from_secs(7 * 86400));
        c.step(TimeDelta::hours(-1));
        assert_eq!(c.now(), t - TimeDelta::hours(1));
        c.sleep_until(t).await;
        assert_eq!(c.now(), t);
        assert_eq!(
            c.mono(),
            Duration::from_secs(7 * 86400 + 3600),
            "after a step back, the hour to wait passes again"
        );
    }

    #[test]
    fn system_time_round_trips_to_the_millisecond() {
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).unwrap() + TimeDelta::milliseconds(123);
        assert_eq!(from_system(to_system(t)), t);
    }
}
