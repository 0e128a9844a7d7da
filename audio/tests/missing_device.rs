//! A sound card that is not there: `loa play` must say so, the daemon's
//! deck must run on and wait for it. (Its own process: ALSA reads its
//! configuration once per process, and the device tests point it elsewhere.)

mod common;

use std::time::Duration;

use common::wait_for;
use loa_audio::{Deck, DeckConfig, DeckEvent, Item, Media, OutputSpec, Priority};

#[test]
fn a_missing_card_fails_loa_play_but_the_daemon_deck_waits_for_it() {
    let spec = OutputSpec::Device("loa_no_such_card".into());
    let err = Deck::open(&spec, DeckConfig::default())
        .err()
        .expect("no such device");
    assert_eq!(
        err.to_string(),
        "output device:loa_no_such_card: no such device (see `loa devices` for the names it accepts)"
    );
    let deck = Deck::open_retrying(&spec, DeckConfig::default()).unwrap();
    let failed = wait_for(&deck, "output failure", Duration::from_secs(2), |e| {
        matches!(e, DeckEvent::OutputFailed { .. })
    });
    assert!(
        matches!(failed, DeckEvent::OutputFailed { reason, .. } if reason.contains("loa_no_such_card"))
    );
    // Its timeline runs: an item airs (into the void) and ends on time.
    let id = deck.play(Item::new(
        Media::Silence(Duration::from_millis(300)),
        Priority::Normal,
    ));
    wait_for(
        &deck,
        "item end",
        Duration::from_secs(3),
        |e| matches!(e, DeckEvent::ItemEnded { item, .. } if *item == id),
    );
    deck.close();
}
