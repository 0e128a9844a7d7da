//! Zones: amplifier relays switched on before sound (preroll) and off after
//! (hold).
//!
//! The scheduler says when sound starts and ends on which zones; this module
//! turns that into the moments each relay must switch, composes overlapping
//! demands (a zone stays on until the last one releases it), builds the
//! preset's MQTT message on every change of wanted state, and watches the
//! devices' state reports: a relay that does not confirm within
//! [`CONFIRM_WITHIN`] is a fault, logged once and shown in status.
//!
//! Dead-man: every ON arms the device's own auto-off with the relay's lease
//! (`relay.lease`, default 2 minutes), renewed every third of the lease while
//! the zone is on, so the amplifiers of a daemon that died (crash, `kill -9`,
//! power cut of the PC) go off within one lease. At shutdown every relay is
//! switched off and [`Zones::unconfirmed_off`] says which have not said so.
//!
//! A zone may have an IP cluster receiver instead of a relay (SPEC 7d): it
//! is told to play the zone's Icecast mount where a relay would switch on,
//! to stop where it would switch off, and its retained state stands for the
//! relay's report (`playing` is on); a receiver offline is a fault too.
//!
//! Pure: time is an input (`now`, `at`), nothing here reads a clock or does I/O.

mod preset;
mod receiver;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use chrono::{DateTime, TimeDelta, Utc};
use loa_schedules::{Config, Relay};
use preset::Switch;
use receiver::Receiver;
use tracing::{debug, info, warn};

use crate::runtime::mqtt::Publish;

/// How long a device has to report the state it was switched to.
pub const CONFIRM_WITHIN: TimeDelta = TimeDelta::seconds(5);

/// Every zone of the station, in station.yaml order, and what is wanted of it.
pub struct Zones {
    zones: Vec<Zone>,
    /// `src` of RPC requests (Shelly answers to `<src>/rpc`): the MQTT client id.
    src: String,
    /// Id of the next RPC request.
    rpc_id: AtomicU32,
    /// This run's `session` in receiver commands, and the next command's `seq`.
    session: String,
    seq: AtomicU64,
}

struct Zone {
    id: String,
    relay: Option<Relay>,
    receiver: Option<Receiver>,
    preroll: TimeDelta,
    hold: TimeDelta,
    /// Why the zone must be on: one entry per `sound_from` not yet released.
    demands: Vec<Demand>,
    /// The state last commanded (without a relay: the logical state).
    on: bool,
    watch: Watch,
    /// While on: when the lease is next renewed.
    renew_at: Option<DateTime<Utc>>,
}

/// The zone must be on over [from, until); `until: None` while sound goes on.
#[derive(Clone, Copy, Debug)]
struct Demand {
    from: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
}

impl Demand {
    fn covers(&self, t: DateTime<Utc>) -> bool {
        self.from <= t && self.until.is_none_or(|u| t < u)
    }
}

/// What the device says of its relay.
#[derive(Default)]
struct Watch {
    reported: Option<bool>,
    /// When the relay must have reported the commanded state.
    check_at: Option<DateTime<Utc>>,
    fault: bool,
}

impl Zones {
    pub fn new(config: &Config) -> Zones {
        let station = &config.station;
        let src = station
            .mqtt
            .as_ref()
            .map(|m| m.client_id.clone())
            .unwrap_or_else(|| format!("loa-{}", station.id));
        Zones {
            zones: station.zones.iter().map(|z| Zone::new(z, config)).collect(),
            // A new session each run: receivers apply its first command
            // whatever the previous run's last `seq` was.
            session: format!("{src}-{:08x}", fastrand::u32(..)),
            src,
            rpc_id: AtomicU32::new(1),
            seq: AtomicU64::new(1),
        }
    }

    /// Applies a reloaded configuration. Demands on zones that remain carry
    /// over (new preroll and hold apply to later demands); a removed zone's
    /// relay, or a zone's former relay, is switched off if it was on; a new
    /// relay gets the zone's current state.
    pub fn reload(&mut self, config: &Config, now: DateTime<Utc>) -> Vec<Publish> {
        let mut out = Vec::new();
        let mut old: Vec<Zone> = std::mem::take(&mut self.zones);
        for zc in &config.station.zones {
            let mut z = Zone::new(zc, config);
            if let Some(i) = old.iter().position(|o| o.id == zc.id) {
                let mut o = old.swap_remove(i);
                z.demands = std::mem::take(&mut o.demands);
                z.on = o.on;
                if o.receiver.is_some() || z.receiver.is_some() {
                    out.extend(self.reload_receiver(o, &mut z, now));
                    self.zones.push(z);
                    continue;
                }
                let same_device = match (&o.relay, &z.relay) {
                    (Some(a), Some(b)) => a.device == b.device,
                    (None, None) => true,
                    _ => false,
                };
                if same_device {
                    z.watch = o.watch;
                    z.renew_at = o.renew_at;
                    // A new lease takes effect at once (an ON to a relay
                    // that is on does not click it).
                    if let (true, Some(r)) = (z.on, &z.relay) {
                        if o.relay.as_ref().is_some_and(|o| o.lease != r.lease) {
                            out.extend(self.command(r, Switch::On));
                            z.renew_at = Some(now + renew_every(r));
                        }
                    }
                } else {
                    if let (true, Some(r)) = (o.on, &o.relay) {
                        out.extend(self.command(r, Switch::Off));
                    }
                    z.renew_at = None;
                    if let (true, Some(r)) = (z.on, &z.relay) {
                        out.extend(self.command(r, Switch::On));
                        z.renew_at = Some(now + renew_every(r));
                        z.arm(now);
                    }
                }
            }
            self.zones.push(z);
        }
        for o in old {
            if let (true, Some(r)) = (o.on, &o.relay) {
                info!(zone = %o.id, "zone removed from station.yaml: its relay is switched off");
                out.extend(self.command(r, Switch::Off));
            }
            if let (true, Some(r)) = (o.on, &o.receiver) {
                info!(zone = %o.id, "zone removed from station.yaml: its receiver is told to stop");
                out.push(r.command(&self.session, self.next_seq(), false, false));
            }
        }
        out
    }

    /// A reloaded zone that had or has a receiver: the same receiver keeps
    /// what it knows (a changed volume is sent at once if it plays); another
    /// one is told to stop and the new one gets the zone's state.
    fn reload_receiver(&self, o: Zone, z: &mut Zone, now: DateTime<Utc>) -> Vec<Publish> {
        let mut out = Vec::new();
        if let (true, Some(r)) = (o.on, &o.relay) {
            out.extend(self.command(r, Switch::Off));
        }
        let same = matches!((&o.receiver, &z.receiver), (Some(a), Some(b)) if a.id == b.id);
        if same {
            let (old, new) = (o.receiver.as_ref(), z.receiver.as_mut());
            if let (Some(old), Some(new)) = (old, new) {
                new.carry(old);
                z.watch = o.watch;
                if z.on && (old.volume != new.volume || old.url != new.url) {
                    out.push(new.command(&self.session, self.next_seq(), true, old.url == new.url));
                }
            }
            return out;
        }
        if let (true, Some(r)) = (o.on, &o.receiver) {
            out.push(r.command(&self.session, self.next_seq(), false, false));
        }
        if let Some(r) = &z.receiver {
            out.push(r.command(&self.session, self.next_seq(), z.on, false));
            z.arm(now);
        } else if let (true, Some(r)) = (z.on, &z.relay) {
            out.extend(self.command(r, Switch::On));
            z.renew_at = Some(now + renew_every(r));
            z.arm(now);
        }
        out
    }

    fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Sound will start on these zones at `at`: each zone switches on at
    /// `at - its preroll` (at once if that is past).
    ///
    /// Each call is one demand per zone, held until one `silent_from` releases
    /// it or a `mute` cuts it: an item resumed after a mute calls it again, an
    /// item that kept sounding through a preemption does not.
    pub fn sound_from(&mut self, zones: &[String], at: DateTime<Utc>) {
        for z in self.each(zones) {
            z.demands.push(Demand {
                from: at - z.preroll,
                until: None,
            });
        }
    }

    /// Sound on these zones ended at `at`: each switches off at `at + its
    /// hold`, unless another demand wants it on by then.
    pub fn silent_from(&mut self, zones: &[String], at: DateTime<Utc>) {
        for z in self.each(zones) {
            // Release the open demand that starts last: an item cancelled
            // before its sound began then leaves a sounding one in force, and
            // among demands that all began the choice changes nothing.
            let Some(i) = z
                .demands
                .iter()
                .enumerate()
                .filter(|(_, d)| d.until.is_none())
                .max_by_key(|(_, d)| d.from)
                .map(|(i, _)| i)
            else {
                debug!(zone = %z.id, "silent_from without sound on the zone (muted?): ignored");
                continue;
            };
            if at <= z.demands[i].from {
                z.demands.remove(i);
            } else {
                z.demands[i].until = Some(at + z.hold);
            }
        }
    }

    /// These zones must be off from `at` without hold (a higher item on their
    /// output does not target them). Every demand so far is cut at `at`; a
    /// later `sound_from` switches the zone on again.
    pub fn mute(&mut self, zones: &[String], at: DateTime<Utc>) {
        for z in self.each(zones) {
            z.demands.retain_mut(|d| {
                d.until = Some(d.until.map_or(at, |u| u.min(at)));
                d.from < at
            });
        }
    }

    /// Switching due at `now`, and faults of relays that did not confirm.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<Publish> {
        let mut out = Vec::new();
        for i in 0..self.zones.len() {
            let z = &mut self.zones[i];
            if z.watch.check_at.is_some_and(|c| c <= now) {
                z.watch.check_at = None;
                if z.watch.reported != Some(z.on) && !z.watch.fault {
                    z.watch.fault = true;
                    if let Some(r) = &z.receiver {
                        if !r.offline() {
                            warn!(
                                zone = %z.id,
                                "the receiver `{}` of zone `{}` is not {} {} s after it was told to; see its state (loa status) and its journal",
                                r.id,
                                z.id,
                                if z.on { "playing" } else { "stopped" },
                                CONFIRM_WITHIN.num_seconds()
                            );
                        }
                    } else {
                        warn!(
                            zone = %z.id,
                            "the relay of zone `{}` did not switch {}: no report of it within {} s; check the device and its MQTT link",
                            z.id,
                            if z.on { "on" } else { "off" },
                            CONFIRM_WITHIN.num_seconds()
                        );
                    }
                }
            }
            if let Some(r) = z.receiver.as_mut() {
                if r.behind_since
                    .is_some_and(|b| b + receiver::MISSED_AFTER <= now)
                {
                    r.behind_since = None;
                    debug!(zone = %z.id, "receiver `{}` missed the last command: sent again", r.id);
                    let seq = self.seq.fetch_add(1, Ordering::Relaxed);
                    out.push(r.command(&self.session, seq, z.on, false));
                }
            }
            // A receiver hears the mount its delay late: it follows the
            // demands that much later, so that it stops after the last
            // sound it was meant to play, not before.
            let at = now - z.lag();
            let wanted = z.wanted(at);
            z.demands.retain(|d| d.until.is_none_or(|u| u > at));
            if wanted == z.on {
                if let (true, Some(relay)) = (z.on, z.relay.clone()) {
                    if z.renew_at.is_some_and(|r| r <= now) {
                        z.renew_at = Some(now + renew_every(&relay));
                        out.extend(self.command(&relay, Switch::Renew));
                    }
                }
                continue;
            }
            z.on = wanted;
            debug!(zone = %z.id, on = wanted, "zone switched");
            if let Some(r) = &z.receiver {
                let seq = self.seq.fetch_add(1, Ordering::Relaxed);
                out.push(r.command(&self.session, seq, wanted, false));
                z.arm(now);
            }
            if let Some(relay) = z.relay.clone() {
                z.arm(now);
                z.renew_at = wanted.then(|| now + renew_every(&relay));
                let switch = if wanted { Switch::On } else { Switch::Off };
                out.extend(self.command(&relay, switch));
            }
        }
        out
    }

    /// When `tick` has something to do next (possibly already past).
    pub fn next_wakeup(&self) -> Option<DateTime<Utc>> {
        self.zones
            .iter()
            .flat_map(|z| {
                let mut bounds: Vec<DateTime<Utc>> = z
                    .demands
                    .iter()
                    .flat_map(|d| std::iter::once(d.from).chain(d.until))
                    .collect();
                bounds.sort();
                let change = bounds.into_iter().find(|&b| z.wanted(b) != z.on);
                change
                    .map(|b| b + z.lag())
                    .into_iter()
                    .chain(z.watch.check_at)
                    .chain(
                        z.receiver
                            .as_ref()
                            .and_then(|r| r.behind_since)
                            .map(|b| b + receiver::MISSED_AFTER),
                    )
                    .chain(z.renew_at.filter(|_| z.on))
            })
            .min()
    }

    /// Topics where devices report their state (to subscribe on every ConnAck).
    pub fn subscriptions(&self) -> Vec<String> {
        let mut topics: Vec<String> = Vec::new();
        for r in self.zones.iter().filter_map(|z| z.relay.as_ref()) {
            for t in preset::state_topics(&r.device) {
                if !topics.contains(&t) {
                    topics.push(t);
                }
            }
        }
        for r in self.zones.iter().filter_map(|z| z.receiver.as_ref()) {
            let t = r.state_topic();
            if !topics.contains(&t) {
                topics.push(t);
            }
        }
        topics
    }

    /// A device's state report. A report of the commanded state clears a
    /// fault; any other starts the [`CONFIRM_WITHIN`] grace period (the
    /// relay was switched by hand, or the device restarted).
    ///
    /// A receiver's state is its report (`playing` is on); one that went
    /// offline is a fault until it is back, and one that comes back without
    /// this run's last command (restarted, another session) is sent it.
    pub fn on_message(&mut self, topic: &str, payload: &[u8], now: DateTime<Utc>) -> Vec<Publish> {
        let mut out = Vec::new();
        for i in 0..self.zones.len() {
            let z = &mut self.zones[i];
            let Some(r) = z.receiver.as_mut().filter(|r| r.state_topic() == topic) else {
                continue;
            };
            let Some(heard) = r.heard(payload, &self.session, &z.id, now) else {
                continue;
            };
            if heard.resend {
                let seq = self.seq.fetch_add(1, Ordering::Relaxed);
                out.push(r.command(&self.session, seq, z.on, false));
            }
            match heard.playing {
                None => z.watch.reported = None,
                Some(state) => {
                    z.watch.reported = Some(state);
                    if state == z.on {
                        z.watch.check_at = None;
                        if z.watch.fault {
                            z.watch.fault = false;
                            info!(zone = %z.id, "the receiver of zone `{}` is {} again", z.id, if state { "playing" } else { "stopped" });
                        }
                    } else if z.watch.check_at.is_none() && !z.watch.fault {
                        z.watch.check_at = Some(now + CONFIRM_WITHIN);
                    }
                }
            }
        }
        for z in &mut self.zones {
            let Some(state) = z
                .relay
                .as_ref()
                .and_then(|r| preset::read_report(&r.device, topic, payload))
            else {
                continue;
            };
            z.watch.reported = Some(state);
            if state == z.on {
                z.watch.check_at = None;
                if z.watch.fault {
                    z.watch.fault = false;
                    info!(zone = %z.id, "the relay of zone `{}` reports {} again", z.id, if state { "on" } else { "off" });
                }
            } else if z.watch.check_at.is_none() && !z.watch.fault {
                z.watch.check_at = Some(now + CONFIRM_WITHIN);
            }
        }
        out
    }

    /// The commands that put every relay in its current wanted state, its
    /// lease armed again if on (the device may have restarted): after a
    /// reconnect, and on the first connection after start-up, which switches
    /// off every relay whose state after a crash is unknown, except those of
    /// a program joined in progress.
    pub fn republish(&self) -> Vec<Publish> {
        let mut out: Vec<Publish> = self
            .zones
            .iter()
            .filter_map(|z| {
                let switch = if z.on { Switch::On } else { Switch::Off };
                z.relay.as_ref().map(|r| self.command(r, switch))
            })
            .flatten()
            .collect();
        for z in &self.zones {
            if let Some(r) = &z.receiver {
                out.push(r.command(&self.session, self.next_seq(), z.on, false));
            }
        }
        out
    }

    /// Loa stops: every zone off at once (no hold), every relay commanded off
    /// (also those Loa believes off: their state may be unknown), with no
    /// demand left to switch one on again.
    pub fn shutdown(&mut self, now: DateTime<Utc>) -> Vec<Publish> {
        let mut out = Vec::new();
        for i in 0..self.zones.len() {
            let z = &mut self.zones[i];
            z.demands.clear();
            z.on = false;
            z.renew_at = None;
            if let Some(relay) = z.relay.clone() {
                z.arm(now);
                out.extend(self.command(&relay, Switch::Off));
            }
        }
        for z in &self.zones {
            if let Some(r) = &z.receiver {
                out.push(r.command(&self.session, self.next_seq(), false, false));
            }
        }
        out
    }

    /// Zones whose relay has not reported off since it was last reported
    /// on or unknown (relays that report nothing, `custom`, are not waited
    /// for).
    pub fn unconfirmed_off(&self) -> Vec<String> {
        self.zones
            .iter()
            .filter(|z| {
                let reports = z.relay.as_ref().is_some_and(|r| preset::reports(&r.device))
                    || z.receiver.as_ref().is_some_and(|r| r.online());
                reports && z.watch.reported != Some(false)
            })
            .map(|z| z.id.clone())
            .collect()
    }

    /// zone id -> "on" | "off" | "fault", in station.yaml order (zones
    /// without relay: their logical state).
    pub fn states(&self) -> Vec<(String, &'static str)> {
        self.zones
            .iter()
            .map(|z| {
                let offline = z.receiver.as_ref().is_some_and(|r| r.offline());
                let s = match (z.watch.fault || offline, z.on) {
                    (true, _) => "fault",
                    (false, true) => "on",
                    (false, false) => "off",
                };
                (z.id.clone(), s)
            })
            .collect()
    }

    /// zone id -> its receiver's id and last state (SPEC 7d), for the status.
    pub fn receivers(&self) -> BTreeMap<String, serde_json::Value> {
        self.zones
            .iter()
            .filter_map(|z| z.receiver.as_ref().map(|r| (z.id.clone(), r.status())))
            .collect()
    }

    fn command(&self, relay: &Relay, switch: Switch) -> Vec<Publish> {
        let id = match relay.device {
            loa_schedules::RelayDevice::Shelly { .. } => {
                self.rpc_id.fetch_add(1, Ordering::Relaxed)
            }
            _ => 0,
        };
        preset::commands(relay, switch, &self.src, id)
    }

    /// The known zones among `ids` (an unknown id is ignored: the scheduler
    /// only names zones of the configuration it was given).
    fn each<'a>(&'a mut self, ids: &'a [String]) -> impl Iterator<Item = &'a mut Zone> + 'a {
        self.zones.iter_mut().filter(move |z| ids.contains(&z.id))
    }
}

impl Zone {
    fn new(z: &loa_schedules::Zone, config: &Config) -> Zone {
        Zone {
            id: z.id.clone(),
            relay: z.relay.clone(),
            receiver: z
                .receiver
                .as_ref()
                .and_then(|r| Receiver::new(r, &z.output, config)),
            preroll: delta(z.preroll),
            hold: delta(z.hold),
            demands: Vec::new(),
            on: false,
            watch: Watch::default(),
            renew_at: None,
        }
    }

    /// How late the zone hears its output: a receiver's delay, else none.
    fn lag(&self) -> TimeDelta {
        self.receiver
            .as_ref()
            .map_or(TimeDelta::zero(), Receiver::lag)
    }

    fn wanted(&self, t: DateTime<Utc>) -> bool {
        self.demands.iter().any(|d| d.covers(t))
    }

    /// A command was sent at `now`: expect a report, if the device gives any.
    fn arm(&mut self, now: DateTime<Utc>) {
        if self
            .relay
            .as_ref()
            .is_some_and(|r| preset::reports(&r.device))
            || self.receiver.is_some()
        {
            self.watch.check_at = Some(now + CONFIRM_WITHIN);
        }
    }
}

/// How often a relay that is on gets its lease renewed: every third of the
/// lease, so that two renewals lost in a row still leave it in force.
fn renew_every(relay: &Relay) -> TimeDelta {
    delta(relay.lease) / 3
}

/// A configured preroll or hold as a time span, bounded to a day so that
/// instant arithmetic cannot overflow.
fn delta(d: std::time::Duration) -> TimeDelta {
    loa_schedules::occurrence::delta(d).min(TimeDelta::days(1))
}
