//! Time as an input. The scheduler reads the wall clock (to know what the
//! schedule says now) and a monotonic clock (to tell a wall-clock step, an
//! NTP correction or an operator fixing the date, from time passing). The
//! real clock reads the system; the virtual one is moved by its owner, so a
//! week of schedule runs in seconds and a clock step is a test input.

use std::cell::Cell;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};

pub trait Clock {
    /// Wall time.
    fn now(&self) -> DateTime<Utc>;
    /// Monotonic time since the clock was made; never steps.
    fn mono(&self) -> Duration;
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
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn step(&self, d: chrono::TimeDelta) {
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
        c.step(chrono::TimeDelta::minutes(-30));
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

    #[test]
    fn system_time_round_trips_to_the_millisecond() {
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).unwrap()
            + chrono::TimeDelta::milliseconds(123);
        assert_eq!(from_system(to_system(t)), t);
    }
}
