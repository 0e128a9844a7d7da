//! Text that came from outside the station (remote commands, control
//! requests, device reports): made visible before it reaches the log, and
//! cleaned before it becomes a title on the boards and in the airtime log.
//!
//! A line break, a NUL or a right-to-left override inside a field must never
//! let a sender write a line of their own into the journal, nor hide part of
//! one: [`visible`] shows such characters as escapes (`\n`, `\u{202e}`) and
//! bounds the field's length, so that one field is one stretch of one line.

use std::fmt;

/// At most this many characters of a field go into a log line (a refusal's
/// reason, which quotes fields, fits).
const LOG_CHARS: usize = 400;

/// Characters that a reader of the log or a board cannot see or that change
/// how the rest of a line reads: controls (C0, DEL, C1), line and paragraph
/// separators, bidirectional controls, zero-width characters and other
/// invisible format characters.
pub fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{115f}'
                | '\u{1160}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{3164}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{e0000}'..='\u{e007f}'
        )
}

/// `s` for a log line: invisible characters escaped, at most 400
/// characters (then `…`). Vietnamese and every other visible text is kept.
pub fn visible(s: &str) -> Visible<'_> {
    Visible(s)
}

pub struct Visible<'a>(&'a str);

impl fmt::Display for Visible<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.0.chars().enumerate() {
            if i == LOG_CHARS {
                return f.write_str("…");
            }
            match c {
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                '\0' => f.write_str("\\0")?,
                c if is_invisible(c) => write!(f, "\\u{{{:x}}}", c as u32)?,
                c => fmt::Write::write_char(f, c)?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Visible<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Whether a text to speak has anything to speak: a letter or a digit (a
/// text of spaces, punctuation or invisible characters would air an empty
/// clip after the chime).
pub fn speakable(text: &str) -> bool {
    text.chars().any(char::is_alphanumeric)
}

/// A title for the boards and the airtime log: invisible characters
/// dropped, spaces trimmed, at most `max` characters; None when nothing
/// visible is left.
pub fn title(text: &str, max: usize) -> Option<String> {
    let clean: String = text.chars().filter(|c| !is_invisible(*c)).collect();
    let t: String = clean.trim().chars().take(max).collect();
    let t = t.trim_end().to_string();
    (!t.is_empty()).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_cannot_break_or_reverse_a_log_line() {
        let forged = "chu-tich-xa\n2026-11-25T10:00:00Z  INFO announcement x accepted";
        let shown = visible(forged).to_string();
        assert!(!shown.contains('\n'), "{shown}");
        assert!(shown.starts_with("chu-tich-xa\\n2026-11-25"), "{shown}");
        assert_eq!(
            visible("a\0b\r\u{202e}c\u{2066}d\u{200b}e\u{7f}\u{85}").to_string(),
            "a\\0b\\r\\u{202e}c\\u{2066}d\\u{200b}e\\u{7f}\\u{85}"
        );
        // Vietnamese stays as it is.
        assert_eq!(
            visible("Bão số 5 sắp đổ bộ").to_string(),
            "Bão số 5 sắp đổ bộ"
        );
        let long = "x".repeat(10_000);
        assert_eq!(visible(&long).to_string().chars().count(), LOG_CHARS + 1);
    }

    #[test]
    fn a_text_needs_a_letter_or_digit_and_a_title_something_visible() {
        assert!(speakable("Họp dân lúc 8 giờ"));
        assert!(speakable("3"));
        for empty in [
            "",
            "   ",
            "\u{200b}\u{200b}",
            "\u{202e}\u{2066}\u{feff}",
            "...!",
        ] {
            assert!(!speakable(empty), "{empty:?}");
        }
        assert_eq!(
            title("\u{202e}Họp\u{200b} dân\n", 80).as_deref(),
            Some("Họp dân")
        );
        assert_eq!(title("\u{200b}\u{200c} \u{2060}", 80), None);
        assert_eq!(title(&"á".repeat(100), 80).unwrap().chars().count(), 80);
    }
}
