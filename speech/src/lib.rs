//! How Loa reads a Vietnamese notice aloud. A TTS engine reads "7h30",
//! "2.350.000đ", "UBND" or "quý IV" badly or not at all; [`normalise`]
//! writes them out as a person reads them ("bảy giờ ba mươi phút", "hai
//! triệu ba trăm năm mươi nghìn đồng", "ủy ban nhân dân", "quý bốn")
//! before the text reaches the engine. Every TTS path passes through it:
//! scheduled items, `loa now --text`, `loa say` and remote announcements.
//!
//! Modules:
//! - [`number`]: whole numbers, decimals and digit strings;
//! - `scan`: the text, piece by piece (numerals with their context, words,
//!   abbreviations, the rest as it is);
//! - [`lexicon`]: abbreviations, built in and a station's own file.
//!
//! Pure text to text: no I/O, no allocation beyond the output's, and
//! normalising its own output changes nothing.

#![forbid(unsafe_code)]

pub mod lexicon;
pub mod number;
mod scan;

use std::sync::Arc;

pub use lexicon::{Lexicon, LexiconError};

/// How numbers are said where the regions differ (`tts.numbers`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// "một trăm linh năm", "một nghìn", "hai mươi tư".
    #[default]
    Northern,
    /// "một trăm lẻ năm", "một ngàn", "hai mươi bốn".
    Southern,
}

impl Dialect {
    /// The station.yaml names, for errors and docs.
    pub const NAMES: [&'static str; 2] = ["northern", "southern"];

    pub fn parse(s: &str) -> Option<Dialect> {
        match s {
            "northern" => Some(Dialect::Northern),
            "southern" => Some(Dialect::Southern),
            _ => None,
        }
    }

    fn thousand(self) -> &'static str {
        match self {
            Dialect::Northern => "nghìn",
            Dialect::Southern => "ngàn",
        }
    }

    /// The word between hundreds and a unit with no tens: 105.
    fn odd(self) -> &'static str {
        match self {
            Dialect::Northern => "linh",
            Dialect::Southern => "lẻ",
        }
    }

    fn four_after_tens(self) -> &'static str {
        match self {
            Dialect::Northern => "tư",
            Dialect::Southern => "bốn",
        }
    }
}

/// What [`normalise`] reads by: the station's dialect and abbreviations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reading {
    pub dialect: Dialect,
    pub lexicon: Arc<Lexicon>,
}

/// The most characters normalising makes of one: a number's words run
/// to at most 9.7 characters per digit ("1099099%", every number below two
/// million measured). A station's lexicon readings may add theirs.
pub const GROWTH: usize = 10;

/// `text` as it is read aloud: numerals, dates, times, ranges, money, units,
/// phone numbers, ordinals, Roman numerals in their contexts and
/// abbreviations written out in words; everything else as it was.
pub fn normalise(text: &str, reading: &Reading) -> String {
    scan::Scanner::new(text, reading).run()
}
