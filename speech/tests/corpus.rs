//! The corpus of notices (tests/corpus.txt): each text reads as written
//! there, and reading the reading again changes nothing.

use loa_speech::{normalise, Reading};

#[test]
fn every_notice_reads_as_the_corpus_says() {
    let text = include_str!("corpus.txt");
    let reading = Reading::default();
    let mut cases = 0;
    let mut wrong = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((n, line)) = lines.next() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (_, expected) = lines
            .next()
            .unwrap_or_else(|| panic!("line {}: no `= ` line", n + 1));
        let expected = expected
            .strip_prefix("= ")
            .unwrap_or_else(|| panic!("line {}: the reading must follow as `= ...`", n + 2));
        cases += 1;
        let got = normalise(line, &reading);
        if got != expected {
            wrong.push(format!(
                "line {}: {line}\n  want {expected}\n  got  {got}",
                n + 1
            ));
        }
        let again = normalise(&got, &reading);
        if again != got {
            wrong.push(format!(
                "line {}: read again\n  once  {got}\n  twice {again}",
                n + 1
            ));
        }
    }
    assert!(
        cases >= 300,
        "the corpus has {cases} cases, at least 300 are wanted"
    );
    assert!(
        wrong.is_empty(),
        "{} of {cases}:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn southern_numbers_say_le_and_ngan() {
    let reading = Reading {
        dialect: loa_speech::Dialect::Southern,
        ..Reading::default()
    };
    assert_eq!(
        normalise("Có 105 hộ, 1.024 người, 24 thôn.", &reading),
        "Có một trăm lẻ năm hộ, một ngàn không trăm hai mươi bốn người, hai mươi bốn thôn."
    );
    assert_eq!(normalise("500k", &reading), "năm trăm ngàn");
}

#[test]
fn a_station_lexicon_reads_its_own_abbreviations() {
    let reading = Reading {
        lexicon: std::sync::Arc::new(
            loa_speech::Lexicon::with_file("HTXNN = hợp tác xã nông nghiệp\nTT = trung tâm\n")
                .unwrap(),
        ),
        ..Reading::default()
    };
    assert_eq!(
        normalise("HTXNN thôn 3 họp tại TT văn hóa.", &reading),
        "Hợp tác xã nông nghiệp thôn ba họp tại trung tâm văn hóa."
    );
}
