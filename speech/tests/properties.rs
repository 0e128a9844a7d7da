//! What holds for any text: normalising never panics, grows a text by at
//! most GROWTH times, changes nothing the second time, and keeps every
//! ordinary word in its place.

use loa_speech::{normalise, Reading, GROWTH};
use proptest::prelude::*;

/// Text dense in what the normaliser reads: digits, separators, units,
/// signs, capitals (abbreviations, Roman numerals) and context words.
fn notice_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[0-9]{1,12}",
        "[0-9.,:/hHg+\\-–]{1,10}",
        Just(" ".to_string()),
        Just(" - ".to_string()),
        "[%°²³'’/&.]",
        "(mm|km|m|kg|g|ha|l|đ|k|tr|oC|m2|m3/s|kWh|VNĐ)",
        "[A-ZĐ]{1,6}",
        "(I|V|X|L|C){1,4}",
        "(thứ|quý|khóa|cấp|ngày|tháng|năm|gọi|điện thoại|số|Km|km|động)",
        "[a-zđàáảãạăâêôơư]{1,7}",
        "[,;:!?\\n()]",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|p| p.concat())
}

/// Ordinary words: none is an abbreviation, a unit, a Roman numeral or a
/// context word.
const WORDS: &[&str] = &[
    "bà",
    "con",
    "nhân",
    "dân",
    "thông",
    "báo",
    "lúa",
    "mưa",
    "xã",
    "thôn",
    "họp",
    "trâu",
    "nước",
    "điện",
    "kính",
    "thưa",
    "xin",
    "được",
    "biết",
    "trường",
    "học",
    "sinh",
    "hộ",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn any_text_is_read_within_bounds_and_once_for_all(text in prop_oneof![notice_like(), any::<String>()]) {
        let r = Reading::default();
        let once = normalise(&text, &r);
        prop_assert!(
            once.chars().count() <= GROWTH * text.chars().count(),
            "{} chars from {}: {text:?} -> {once:?}", once.chars().count(), text.chars().count()
        );
        prop_assert!(!once.chars().any(|c| c.is_ascii_digit()), "digits left: {text:?} -> {once:?}");
        let twice = normalise(&once, &r);
        prop_assert_eq!(&twice, &once, "from {:?}", text);
    }

    #[test]
    fn ordinary_words_stay_in_order(
        parts in prop::collection::vec((prop::sample::select(WORDS), notice_like()), 1..12)
    ) {
        let text: String = parts.iter().map(|(w, noise)| format!(" {w} {noise}")).collect();
        let out = normalise(&text, &Reading::default());
        let words: Vec<&str> = out.split(|c: char| !c.is_alphabetic()).filter(|w| !w.is_empty()).collect();
        let mut at = 0;
        for (w, _) in &parts {
            match words[at..].iter().position(|x| x == w) {
                Some(k) => at += k + 1,
                None => prop_assert!(false, "`{w}` lost: {text:?} -> {out:?}"),
            }
        }
    }
}
