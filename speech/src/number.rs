//! Numbers as Vietnamese speakers read them: "21" hai mươi mốt, "105" một
//! trăm linh năm, "1.250" một nghìn hai trăm năm mươi, "2,5" hai phẩy năm.

use crate::Dialect;

const DIGITS: [&str; 10] = [
    "không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín",
];

/// The largest whole number read as a number; longer runs of digits are
/// codes and read digit by digit.
pub const MAX_DIGITS: usize = 15;

/// One digit's name.
pub fn digit(d: u8) -> &'static str {
    DIGITS[usize::from(d % 10)]
}

/// Digits one by one: "0912" không chín một hai.
pub fn digits(s: &str) -> String {
    s.bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| digit(b - b'0'))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A whole number, `n` below 10^15.
pub fn whole(n: u64, dialect: Dialect) -> String {
    let mut words = Vec::new();
    push_whole(n, dialect, &mut words);
    words.join(" ")
}

fn push_whole(n: u64, dialect: Dialect, out: &mut Vec<&'static str>) {
    if n == 0 {
        out.push("không");
        return;
    }
    const BILLION: u64 = 1_000_000_000;
    if n >= BILLION {
        // "một nghìn tỷ", "hai triệu tỷ": the part above a billion is itself
        // a number of billions.
        push_whole(n / BILLION, dialect, out);
        out.push("tỷ");
        let rest = n % BILLION;
        if rest > 0 {
            push_below_billion(rest, true, dialect, out);
        }
        return;
    }
    push_below_billion(n, false, dialect, out);
}

/// 1..10^9; `full`: a higher group was read, so a group below 100 says its
/// hundreds ("không trăm").
fn push_below_billion(n: u64, full: bool, dialect: Dialect, out: &mut Vec<&'static str>) {
    let groups = [
        (n / 1_000_000, "triệu"),
        (n / 1000 % 1000, dialect.thousand()),
        (n % 1000, ""),
    ];
    let mut said = full;
    for (g, name) in groups {
        if g == 0 {
            continue;
        }
        push_group(g as u16, said, dialect, out);
        if !name.is_empty() {
            out.push(name);
        }
        said = true;
    }
}

/// A group of three digits, 1..=999; `full` as above.
fn push_group(g: u16, full: bool, dialect: Dialect, out: &mut Vec<&'static str>) {
    let (h, t, u) = ((g / 100) as u8, (g / 10 % 10) as u8, (g % 10) as u8);
    if h > 0 || full {
        out.push(digit(h));
        out.push("trăm");
    }
    match t {
        0 if u == 0 => {}
        0 if h > 0 || full => {
            out.push(dialect.odd());
            out.push(digit(u));
        }
        0 => out.push(digit(u)),
        1 => {
            out.push("mười");
            match u {
                0 => {}
                5 => out.push("lăm"),
                u => out.push(digit(u)),
            }
        }
        t => {
            out.push(digit(t));
            out.push("mươi");
            match u {
                0 => {}
                1 => out.push("mốt"),
                4 => out.push(dialect.four_after_tens()),
                5 => out.push("lăm"),
                u => out.push(digit(u)),
            }
        }
    }
}

/// The digits after a decimal separator: as a number when they are one or
/// two digits without a leading zero ("2,5" hai phẩy năm, "1,25" một phẩy
/// hai mươi lăm), else digit by digit ("0,05" không phẩy không năm).
pub fn fraction(s: &str, dialect: Dialect) -> String {
    if s.len() <= 2 && !s.starts_with('0') {
        whole(s.parse().unwrap_or(0), dialect)
    } else {
        digits(s)
    }
}

/// A run of ASCII digits read as a number, or digit by digit when it is
/// too long to be one.
pub fn integer(s: &str, dialect: Dialect) -> String {
    let t = s.trim_start_matches('0');
    if t.is_empty() {
        return "không".into();
    }
    if t.len() > MAX_DIGITS {
        return digits(s);
    }
    whole(t.parse().unwrap_or(0), dialect)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(x: u64) -> String {
        whole(x, Dialect::Northern)
    }

    #[test]
    fn tens_and_units_take_their_spoken_forms() {
        assert_eq!(n(0), "không");
        assert_eq!(n(10), "mười");
        assert_eq!(n(11), "mười một");
        assert_eq!(n(14), "mười bốn");
        assert_eq!(n(15), "mười lăm");
        assert_eq!(n(20), "hai mươi");
        assert_eq!(n(21), "hai mươi mốt");
        assert_eq!(n(24), "hai mươi tư");
        assert_eq!(n(25), "hai mươi lăm");
        assert_eq!(whole(24, Dialect::Southern), "hai mươi bốn");
    }

    #[test]
    fn hundreds_and_groups() {
        assert_eq!(n(100), "một trăm");
        assert_eq!(n(105), "một trăm linh năm");
        assert_eq!(whole(105, Dialect::Southern), "một trăm lẻ năm");
        assert_eq!(n(110), "một trăm mười");
        assert_eq!(n(1250), "một nghìn hai trăm năm mươi");
        assert_eq!(n(1005), "một nghìn không trăm linh năm");
        assert_eq!(n(2026), "hai nghìn không trăm hai mươi sáu");
        assert_eq!(
            whole(2026, Dialect::Southern),
            "hai ngàn không trăm hai mươi sáu"
        );
        assert_eq!(n(2_350_000), "hai triệu ba trăm năm mươi nghìn");
        assert_eq!(n(1_000_005), "một triệu không trăm linh năm");
        assert_eq!(n(1_500_000_000), "một tỷ năm trăm triệu");
        assert_eq!(n(1_000_000_000_000), "một nghìn tỷ");
        assert_eq!(
            n(5_000_020_000_000),
            "năm nghìn tỷ không trăm hai mươi triệu"
        );
    }

    #[test]
    fn fractions_and_codes() {
        assert_eq!(fraction("5", Dialect::Northern), "năm");
        assert_eq!(fraction("25", Dialect::Northern), "hai mươi lăm");
        assert_eq!(fraction("05", Dialect::Northern), "không năm");
        assert_eq!(fraction("141", Dialect::Northern), "một bốn một");
        assert_eq!(integer("0000", Dialect::Northern), "không");
        assert_eq!(
            integer(&"9".repeat(16), Dialect::Northern)
                .split(' ')
                .count(),
            16
        );
    }
}
