//! `loa run`: the daemon and the parts it is made of.
//!
//! - `run`: start-up, the serve loop (reloads, signals, the control socket's
//!   requests, the link's messages) and the orderly stop;
//! - `scheduler`: SPEC section 4, turning occurrences into items on decks;
//! - `engine`: the decks as the scheduler sees them (real or simulated);
//! - `clock`: time as an input (wall, virtual, paused);
//! - `tasks`: one cancellation token and tracker for every task and thread;
//! - `mqtt` (`bus`, `link`): the broker; `boards` and `zones`: what LED
//!   boards and amplifier relays are sent; `remote`: signed remote commands;
//! - `control`: the local control socket's server (its client is
//!   `loa now|stop|status`);
//! - [`airtime`]: the airtime log in SQLite (also read by `loa report`).

pub mod airtime;
pub(crate) mod boards;
pub(crate) mod clock;
pub(crate) mod control;
pub(crate) mod engine;
pub(crate) mod mqtt;
pub(crate) mod remote;
pub(crate) mod run;
pub(crate) mod scheduler;
pub(crate) mod tasks;
pub(crate) mod zones;
