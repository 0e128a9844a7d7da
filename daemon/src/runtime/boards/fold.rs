//! Text as a board can show it: NFC for boards with a Unicode font, folded to
//! plain ASCII for the many LED boards whose font has no Vietnamese letters.

use loa_schedules::Charset;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Vietnamese folded to ASCII: NFD, combining marks dropped (tones, breve,
/// circumflex, horn), đ->d, Đ->D, typographic punctuation to its ASCII
/// look-alike (“” «» -> ", ‘’ -> ', – — -> -, … -> ..., • -> -), every kind of
/// space to a plain space, zero-width characters and soft hyphens dropped.
/// Anything else outside ASCII becomes `?`, so a loss shows on the board
/// instead of words silently running together.
pub fn fold_ascii(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        match c {
            'đ' | 'ð' => out.push('d'),
            'Đ' | 'Ð' => out.push('D'),
            '“' | '”' | '„' | '‟' | '«' | '»' | '″' | '〝' | '〞' => out.push('"'),
            '‘' | '’' | '‚' | '‛' | '′' | '‹' | '›' => out.push('\''),
            '‐' | '‑' | '‒' | '–' | '—' | '―' | '−' | '•' | '·' | '‧' | '∙' | '◦' => {
                out.push('-')
            }
            '…' => out.push_str("..."),
            '\u{00A0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200A}'
            | '\u{202F}'
            | '\u{205F}'
            | '\u{3000}' => out.push(' '),
            '\u{00AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' => {}
            '\t' | '\n' | '\r' => out.push(' '),
            c if c.is_ascii_control() => {}
            c if c.is_ascii() => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

/// The text in the board's charset: folded for `ascii`, NFC for `utf8`.
pub fn for_charset(s: &str, charset: Charset) -> String {
    match charset {
        Charset::Ascii => fold_ascii(s),
        Charset::Utf8 => s.nfc().collect(),
    }
}
