//! The text, piece by piece: a numeral is read with what surrounds it (the
//! word before: "thứ 2", "quý IV", "cấp 8-9"; the unit or sign after:
//! "150mm", "35°C", "2.350.000đ"), an abbreviation by the lexicon, and
//! everything else is copied as it is. The context is the output written so
//! far, so that a second pass over the output decides as the first did.

use crate::number::{self, digits, integer};
use crate::{Dialect, Reading};

/// Characters that join the parts of one abbreviation: KT-XH, GD&ĐT,
/// NĐ-CP, TP.HCM.
pub(crate) const JOINERS: &str = "-&/.";

/// Words after which capital I, V, X, L and C are a Roman numeral ("quý
/// IV", "Đại hội XIII", "thế kỷ XXI", "lần thứ IX", "khóa XV").
const ROMAN_CONTEXT: &[&str] = &[
    "quý", "khóa", "khoá", "hội", "kỷ", "kỉ", "thứ", "kỳ", "kì", "phần", "chương", "mục", "lục",
    "tập", "đợt", "đoạn", "khu", "cấp", "điều", "loại", "hạng", "nhóm", "vòng", "động",
];

/// What comes before a number to dial, read digit by digit ("gọi 114",
/// "Điện thoại: 0238...", "số tài khoản 3100..."): the output so far ends
/// with one of these (a colon after it allowed).
const DIAL_CONTEXT: &[&str] = &[
    "gọi",
    "gọi ngay",
    "điện thoại",
    "đường dây nóng",
    "hotline",
    "zalo",
    "tài khoản",
    "mã",
    "mã số",
    "công an",
    "cứu hỏa",
    "cứu hoả",
    "cấp cứu",
];

/// "kêu gọi 500 hộ" is a call to people, not to a number.
const NOT_DIALLING: &[&str] = &["kêu gọi", "lời kêu gọi"];

/// Words before a d/m that make it a date ("ngày 2/9", "đến hết 15/12");
/// elsewhere d/m is a ratio ("đạt 19/19 tiêu chí", "1/2 học phí").
const DATE_CONTEXT: &[&str] = &[
    "ngày", "mùng", "mồng", "hôm", "sáng", "trưa", "chiều", "tối", "đêm", "từ", "đến", "trước",
    "sau", "hết", "vào", "lúc", "hạn", "tộc", "lễ", "niệm", "nay", "mai",
];

/// Words after a quantity that a `/` divides by ("đồng/tháng", "2 viên/ngày").
const PER: &[&str] = &[
    "ngày", "tháng", "năm", "giờ", "phút", "tuần", "quý", "người", "hộ", "khẩu", "con", "lần",
    "lượt", "suất", "buổi", "ca", "sào", "mẫu", "ha", "kg", "km", "lít", "tấn", "tạ", "xe",
    "chiếc", "cái", "bộ", "m", "m2", "m²", "m3", "m³", "kWh", "học",
];

/// Units and signs after a number (directly or after one space), longest
/// first where one begins another.
const UNITS: &[(&str, &str)] = &[
    ("km/h", "ki lô mét trên giờ"),
    ("m3/s", "mét khối trên giây"),
    ("m³/s", "mét khối trên giây"),
    ("m/s", "mét trên giây"),
    ("km²", "ki lô mét vuông"),
    ("km2", "ki lô mét vuông"),
    ("m²", "mét vuông"),
    ("m2", "mét vuông"),
    ("m³", "mét khối"),
    ("m3", "mét khối"),
    ("mm", "mi li mét"),
    ("cm", "xăng ti mét"),
    ("km", "ki lô mét"),
    ("Km", "ki lô mét"),
    ("KM", "ki lô mét"),
    ("kg", "ki lô gam"),
    ("mg", "mi li gam"),
    ("ml", "mi li lít"),
    ("ha", "héc ta"),
    ("kWh", "ki lô oát giờ"),
    ("kW", "ki lô oát"),
    ("MW", "mê ga oát"),
    ("kVA", "ki lô vôn ampe"),
    ("kV", "ki lô vôn"),
    ("hPa", "héc tô pát xcan"),
    ("°C", "độ C"),
    ("ºC", "độ C"),
    ("oC", "độ C"),
    ("%", "phần trăm"),
    ("°", "độ"),
    ("m", "mét"),
    ("g", "gam"),
    ("l", "lít"),
    ("W", "oát"),
    ("V", "vôn"),
    ("đ", "đồng"),
];

/// Read only when written against the number: "500k", "1,5tr".
const GLUED: &[(&str, Magnitude)] = &[("k", Magnitude::Thousand), ("tr", Magnitude::Million)];

#[derive(Clone, Copy)]
enum Magnitude {
    Thousand,
    Million,
}

pub(crate) struct Scanner<'a> {
    s: Vec<char>,
    i: usize,
    out: String,
    reading: &'a Reading,
    /// A number was read in this clause: a `/` between words after it is
    /// "per" ("2 viên/ngày" hai viên một ngày).
    quantity: bool,
    /// The last thing written was an abbreviation's reading: a `-` or `/`
    /// before the next one joins two ("KH-UBND" kế hoạch ủy ban nhân dân).
    abbreviated: bool,
    /// A number was just dialled: one after a comma or "và" is dialled too
    /// ("công an 113, cứu hỏa 114" has its own context; "113, 114" not).
    dialled: bool,
    /// A date was just read: a d/m after a comma or "và" is a date too.
    dated: bool,
    /// The numeral being read is followed by `/` and a capital ("12/2024/QĐ"):
    /// a document's number.
    document_follows: bool,
    /// Set by a reading that was a date, for [`Self::dated`].
    read_date: std::cell::Cell<bool>,
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit()
}

impl<'a> Scanner<'a> {
    pub fn new(text: &str, reading: &'a Reading) -> Self {
        Scanner {
            s: text.chars().collect(),
            i: 0,
            out: String::with_capacity(text.len() * 2),
            reading,
            quantity: false,
            abbreviated: false,
            dialled: false,
            dated: false,
            document_follows: false,
            read_date: std::cell::Cell::new(false),
        }
    }

    fn dialect(&self) -> Dialect {
        self.reading.dialect
    }

    fn at(&self, j: usize) -> Option<char> {
        self.s.get(j).copied()
    }

    fn digit_at(&self, j: usize) -> bool {
        self.at(j).is_some_and(is_digit)
    }

    fn alnum_at(&self, j: usize) -> bool {
        self.at(j).is_some_and(char::is_alphanumeric)
    }

    pub fn run(mut self) -> String {
        while let Some(c) = self.at(self.i) {
            let abbreviated = self.abbreviated;
            self.abbreviated = false;
            if c.is_alphabetic() && !self.lead_word_continues_lists() {
                self.dialled = false;
                self.dated = false;
            }
            if matches!(c, '.' | '!' | '?' | ';' | '\n') {
                self.dialled = false;
                self.dated = false;
            }
            // "-2°C", "từ -1 đến 3 độ": a minus sign, not a dash or a bullet.
            let starts_word = self
                .i
                .checked_sub(1)
                .and_then(|k| self.at(k))
                .is_none_or(|b| b.is_whitespace() || b == '(');
            if matches!(c, '-' | '−') && starts_word && self.digit_at(self.i + 1) {
                self.emit("âm");
                self.i += 1;
                continue;
            }
            if is_digit(c) {
                self.numeral();
            } else if c.is_alphabetic() {
                self.word();
            } else if c == '/' && self.quantity && self.per() {
            } else if matches!(c, '-' | '/' | '&')
                && abbreviated
                && self.at(self.i + 1).is_some_and(char::is_uppercase)
            {
                if c == '&' {
                    self.emit("và");
                }
                self.i += 1;
            } else {
                if ",;:.!?()\n".contains(c) {
                    self.quantity = false;
                }
                self.out.push(c);
                self.i += 1;
            }
        }
        self.out
    }

    /// Appends words, a space before them when they would touch a word.
    fn emit(&mut self, words: &str) {
        if self
            .out
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric)
        {
            self.out.push(' ');
        }
        self.out.push_str(words);
    }

    /// Whether the word at the cursor joins a list ("113 và 114").
    fn lead_word_continues_lists(&self) -> bool {
        self.matches(self.i, "và") && !self.alnum_at(self.i + 2)
    }

    /// Whether the output is at the start of a sentence.
    fn sentence_start(&self) -> bool {
        let t = self.out.trim_end();
        t.is_empty() || t.ends_with(['.', '!', '?', '\n'])
    }

    /// "đồng/tháng", "tạ/ha": a `/` between words after a quantity is said
    /// "một" (per), and a unit after it by its name.
    fn per(&mut self) -> bool {
        let before = self
            .out
            .chars()
            .next_back()
            .is_some_and(char::is_alphabetic);
        // "CT/TW" are two abbreviations and "nam/nữ" two choices, not a rate.
        let next: String = self.s[(self.i + 1).min(self.s.len())..]
            .iter()
            .take_while(|c| c.is_alphanumeric() || matches!(c, '²' | '³'))
            .collect();
        let per = PER.contains(&next.as_str()) || PER.contains(&next.to_lowercase().as_str());
        if !before || !per {
            return false;
        }
        self.emit("một");
        self.i += 1;
        if let Some((w, r)) = UNITS
            .iter()
            .find(|(w, _)| self.matches(self.i, w) && !self.alnum_at(self.i + w.chars().count()))
        {
            self.emit(r);
            self.i += w.chars().count();
        }
        true
    }

    /// Whether the output so far asks to dial what comes next: it ends
    /// with a phrase of [`DIAL_CONTEXT`] (a colon after it allowed), or with
    /// a number just dialled and a comma or "và" (a list of numbers).
    fn dialling(&self) -> bool {
        if self.dialled {
            return true;
        }
        // The phrases are short: the last 40 characters are enough, and
        // lowercasing the whole output at every numeral is not.
        let t = self.out.trim_end().trim_end_matches(':').trim_end();
        let tail = t.char_indices().rev().nth(39).map_or(0, |(k, _)| k);
        let t = t[tail..].to_lowercase();
        DIAL_CONTEXT.iter().any(|c| {
            t.ends_with(c)
                && t[..t.len() - c.len()]
                    .chars()
                    .next_back()
                    .is_none_or(|b| !b.is_alphabetic())
        }) && !NOT_DIALLING.iter().any(|n| t.ends_with(n))
    }

    /// The last word written, lowercased, if nothing but spaces follows it.
    fn previous_word(&self) -> Option<String> {
        let t = self.out.trim_end();
        if !t.chars().next_back().is_some_and(char::is_alphabetic) {
            return None;
        }
        t.split_whitespace().next_back().map(str::to_lowercase)
    }

    /// The next word of the input after `j` (spaces skipped), lowercased.
    fn next_word(&self, mut j: usize) -> String {
        while self.at(j) == Some(' ') {
            j += 1;
        }
        self.s[j.min(self.s.len())..]
            .iter()
            .take_while(|c| c.is_alphabetic())
            .collect::<String>()
            .to_lowercase()
    }

    // ---- words ----

    fn word(&mut self) {
        let start = self.i;
        let mut span = start;
        while span < self.s.len() {
            let c = self.s[span];
            if c.is_alphanumeric()
                || (JOINERS.contains(c) && span > start && self.alnum_at(span + 1))
                || ((c == '²' || c == '³') && span > start)
            {
                span += 1;
            } else {
                break;
            }
        }
        if let Some((end, reading)) = self.abbreviation(start, span) {
            if self.sentence_start() && self.s[start].is_uppercase() {
                let mut cs = reading.chars();
                let first: String = cs.next().into_iter().flat_map(char::to_uppercase).collect();
                self.emit(&(first + cs.as_str()));
            } else {
                self.emit(&reading);
            }
            self.i = end;
            self.abbreviated = true;
            return;
        }
        let letters_end = (start..self.s.len())
            .find(|&j| !self.s[j].is_alphabetic())
            .unwrap_or(self.s.len());
        let word: String = self.s[start..letters_end].iter().collect();
        let after_space = |j: usize| if self.at(j) == Some(' ') { j + 1 } else { j };
        // "Km15+200", "km 15": a kilometre post.
        if matches!(word.as_str(), "km" | "Km" | "KM") && self.digit_at(after_space(letters_end)) {
            self.emit("ki lô mét");
            self.i = letters_end;
            return;
        }
        if let Some(n) = roman(&word) {
            if let Some(prev) = self.previous_word() {
                // A lone C or L is a letter ("hạng C", "khu L"), and so is a
                // lone X where lettered names are the custom ("khu X").
                let letter = matches!(word.as_str(), "C" | "L")
                    || (word == "X" && matches!(prev.as_str(), "khu" | "hạng" | "loại" | "nhóm"));
                if ROMAN_CONTEXT.contains(&prev.as_str()) && !letter {
                    let reading = if prev == "thứ" {
                        ordinal(u64::from(n), self.dialect())
                    } else {
                        number::whole(u64::from(n), self.dialect())
                    };
                    self.emit(&reading);
                    self.i = letters_end;
                    // "quý I/2026": the quarter of a year.
                    if self.at(self.i) == Some('/')
                        && (1..=4).all(|k| self.digit_at(self.i + k))
                        && !self.digit_at(self.i + 5)
                    {
                        self.emit("năm");
                        self.i += 1;
                    }
                    return;
                }
            }
        }
        self.emit(&word);
        self.i = letters_end;
    }

    /// The longest abbreviation at `start` that ends where a word does.
    fn abbreviation(&self, start: usize, span: usize) -> Option<(usize, String)> {
        let lexicon = &self.reading.lexicon;
        let longest = (start + lexicon.longest()).min(span);
        // The longest candidate once; the shorter ones are its prefixes.
        let word: String = self.s[start..longest].iter().collect();
        let bytes: Vec<usize> = word
            .char_indices()
            .map(|(k, _)| k)
            .skip(1)
            .chain([word.len()])
            .collect();
        (start + 1..=longest).rev().find_map(|end| {
            let boundary = end == span
                || JOINERS.contains(self.s[end])
                || self.s[end - 1].is_alphabetic() != self.s[end].is_alphabetic();
            if !boundary {
                return None;
            }
            let key = &word[..bytes[end - start - 1]];
            // "Tp. Vinh": a dot that belongs to the abbreviation.
            let continues = self.at(end + 1).is_some_and(char::is_alphabetic)
                || (self.at(end + 1) == Some(' ')
                    && self.at(end + 2).is_some_and(char::is_uppercase));
            if self.at(end) == Some('.') && continues {
                if let Some(r) = lexicon.get(&format!("{key}.")) {
                    return Some((end + 1, r.to_string()));
                }
            }
            lexicon.get(key).map(|r| (end, r.to_string()))
        })
    }

    // ---- numerals ----

    fn numeral(&mut self) {
        self.quantity = true;
        if let Some(end) = self.plate() {
            self.i = end;
            return;
        }
        let prev = self.previous_word();
        if let Some((end, groups)) = self.phone() {
            let read: Vec<String> = groups.iter().map(|g| digits(g)).collect();
            self.emit(&read.join(", "));
            self.i = end;
            self.dialled = true;
            return;
        }
        let end = self.numeral_end(self.i);
        let raw: String = self.s[self.i..end].iter().collect();
        let next = self.next_word(end);
        let dialling = self.dialling();
        self.document_follows =
            self.at(end) == Some('/') && self.at(end + 1).is_some_and(char::is_uppercase);
        self.read_date.set(false);
        let mut reading = self.read(&raw, prev.as_deref(), &next);
        self.dated = self.read_date.get();
        self.dialled = dialling && is_plain(&raw) && raw.len() >= 3;
        let mut j = end;
        // "lúc 7g sáng": an hour, not grams.
        let hour = raw
            .parse::<u64>()
            .ok()
            .filter(|h| *h <= 24 && is_plain(&raw));
        let hour_context = matches!(
            prev.as_deref(),
            Some("lúc" | "từ" | "đến" | "trước" | "sau" | "vào" | "khoảng" | "hồi")
        ) || matches!(
            self.next_word(end + 1).as_str(),
            "sáng" | "trưa" | "chiều" | "tối" | "đêm"
        );
        if let (Some(h), Some('g' | 'h' | 'H'), true, false) =
            (hour, self.at(j), hour_context, self.alnum_at(j + 1))
        {
            reading = format!("{} giờ", number::whole(h, self.dialect()));
            j += 1;
        } else if let Some((len, m)) = GLUED.iter().find_map(|(w, m)| {
            let len = w.chars().count();
            (self.matches(j, w) && !self.alnum_at(j + len)).then_some((len, *m))
        }) {
            reading.push(' ');
            reading.push_str(match m {
                Magnitude::Thousand => self.dialect().thousand(),
                Magnitude::Million => "triệu",
            });
            j += len;
        } else {
            let k = if self.at(j) == Some(' ') { j + 1 } else { j };
            if let Some((w, r)) = UNITS.iter().find(|(w, _)| {
                let len = w.chars().count();
                self.matches(k, w)
                    && !(w.chars().all(char::is_alphanumeric) && self.alnum_at(k + len))
                    && !(*w == "oC" && k != j)
            }) {
                reading.push(' ');
                reading.push_str(r);
                j = k + w.chars().count();
            }
        }
        // "1m10": a height in metres and centimetres.
        if self.at(j) == Some('m')
            && is_plain(&raw)
            && self.digit_at(j + 1)
            && self.digit_at(j + 2)
            && !self.alnum_at(j + 3)
        {
            let cm: String = self.s[j + 1..j + 3].iter().collect();
            reading.push_str(" mét ");
            reading.push_str(&integer(&cm, self.dialect()));
            j += 3;
        }
        // "7h30'", "15/2024/NĐ-CP", "05-CT/TW": marks the reading says.
        let time_mark =
            matches!(self.at(j), Some('\'' | '’')) && raw.contains(['h', 'H', ':', 'g']);
        let document_mark =
            matches!(self.at(j), Some('/' | '-')) && self.at(j + 1).is_some_and(char::is_uppercase);
        if time_mark || document_mark {
            j += 1;
        }
        self.emit(&reading);
        self.i = j;
    }

    fn matches(&self, j: usize, w: &str) -> bool {
        (j..).zip(w.chars()).all(|(k, c)| self.at(k) == Some(c))
    }

    /// A vehicle's number plate at the cursor ("37B1-123.45", "29A-12345"),
    /// said character by character in its two parts; its end.
    fn plate(&mut self) -> Option<usize> {
        let i = self.i;
        let mut j = i;
        if !(self.digit_at(j) && self.digit_at(j + 1)) {
            return None;
        }
        j += 2;
        let letters = (j..j + 2)
            .take_while(|&k| self.at(k).is_some_and(|c| c.is_ascii_uppercase()))
            .count();
        if letters == 0 {
            return None;
        }
        j += letters;
        if self.digit_at(j) {
            j += 1;
        }
        if !matches!(self.at(j), Some('-' | ' ')) || !self.digit_at(j + 1) {
            return None;
        }
        let head = j;
        j += 1;
        let tail_start = j;
        while self.digit_at(j) || (self.at(j) == Some('.') && self.digit_at(j + 1)) {
            j += 1;
        }
        let tail: String = self.s[tail_start..j]
            .iter()
            .filter(|c| c.is_ascii_digit())
            .collect();
        if !(4..=5).contains(&tail.len()) || self.alnum_at(j) {
            return None;
        }
        let mut words = Vec::new();
        for &c in &self.s[i..head] {
            words.push(if c.is_ascii_digit() {
                number::digit(c as u8 - b'0').to_string()
            } else {
                c.to_string()
            });
        }
        let reading = format!("{}, {}", words.join(" "), digits(&tail));
        self.emit(&reading);
        Some(j)
    }

    /// A phone number at the cursor: 10 or 11 digits from a 0, or 8 from
    /// 1800/1900, in groups split by single spaces, dots or hyphens; after
    /// "gọi", "điện thoại", "hotline" any 3 to 11 digits. Its end and its
    /// groups (a run without splits grouped as people say it).
    fn phone(&self) -> Option<(usize, Vec<String>)> {
        let mut groups: Vec<String> = Vec::new();
        let mut j = self.i;
        loop {
            let start = j;
            while self.digit_at(j) {
                j += 1;
            }
            groups.push(self.s[start..j].iter().collect());
            if matches!(self.at(j), Some(' ' | '.' | '-'))
                && self.digit_at(j + 1)
                && groups.len() < 4
            {
                j += 1;
            } else {
                break;
            }
        }
        if self.alnum_at(j) || matches!(self.at(j), Some(',' | '/' | ':') if self.digit_at(j + 1)) {
            return None;
        }
        let total: usize = groups.iter().map(String::len).sum();
        let first = &groups[0];
        let dial = self.dialling();
        let mobile = first.starts_with('0') && (10..=11).contains(&total);
        let hotline = (first.starts_with("1800") || first.starts_with("1900")) && total == 8;
        let grouped = groups.len() == 1 || groups.iter().all(|g| (2..=4).contains(&g.len()));
        if !(grouped && (mobile || hotline || (dial && (3..=11).contains(&total)))) {
            return None;
        }
        if groups.len() == 1 {
            let g = &groups[0];
            let cuts: &[usize] = match g.len() {
                8 => &[4],
                10 => &[4, 7],
                11 => &[3, 7],
                _ => &[],
            };
            let mut parts = Vec::new();
            let mut from = 0;
            for &c in cuts {
                parts.push(g[from..c].to_string());
                from = c;
            }
            parts.push(g[from..].to_string());
            groups = parts;
        }
        Some((j, groups))
    }

    /// Where the numeral at `i` ends: digits joined by . , : / + and the
    /// hour marks of "7h30", "7g30", "7h", and ranges ("100-150", "2020 - 2025").
    fn numeral_end(&self, i: usize) -> usize {
        // Bounded: a numeral's parts are read one within another, and a
        // run like "1-1-1-..." is no numeral a notice holds.
        const LONGEST: usize = 48;
        let mut j = i;
        let digits_from = |mut j: usize| {
            while self.digit_at(j) {
                j += 1;
            }
            j
        };
        j = digits_from(j);
        loop {
            if j - i > LONGEST {
                return j;
            }
            match self.at(j) {
                Some('.' | ',' | ':' | '/' | '+' | '-' | '–') if self.digit_at(j + 1) => {
                    j = digits_from(j + 1);
                }
                Some('h' | 'H') if self.digit_at(j + 1) => j = digits_from(j + 1),
                Some('h' | 'H') if !self.alnum_at(j + 1) => j += 1,
                Some('g')
                    if self.digit_at(j + 1) && self.digit_at(j + 2) && !self.alnum_at(j + 3) =>
                {
                    j += 3
                }
                Some(' ')
                    if matches!(self.at(j + 1), Some('-' | '–'))
                        && self.at(j + 2) == Some(' ')
                        && self.digit_at(j + 3) =>
                {
                    j = digits_from(j + 3);
                }
                _ => return j,
            }
        }
    }

    /// A numeral's reading, given the word before it and the word after.
    fn read(&self, raw: &str, prev: Option<&str>, next: &str) -> String {
        self.read_as(raw, prev, next, false)
    }

    /// Whether a d/m here is a date: after a word of [`DATE_CONTEXT`] or
    /// another date, or at the end of a clause; not in an address ("số nhà
    /// 15/3") and not before a counted noun ("19/19 tiêu chí").
    fn date_here(&self, prev: Option<&str>, next: &str) -> bool {
        if matches!(prev, Some("nhà" | "số" | "ngõ" | "ngách" | "hẻm" | "kiệt")) {
            return false;
        }
        self.dated
            || prev.is_some_and(|p| DATE_CONTEXT.contains(&p))
            || next.is_empty()
            || matches!(
                next,
                "năm" | "âm" | "dương" | "hằng" | "tới" | "này" | "vừa" | "qua"
            )
    }

    /// [`Self::read`]; `dated`: a d/m is a date whatever surrounds it (the
    /// right side of "01-05/12").
    fn read_as(&self, raw: &str, prev: Option<&str>, next: &str, dated: bool) -> String {
        let d = self.dialect();
        if let Some((l, r)) = split_range(raw) {
            let date_range = is_plain(l) && date(r).is_some_and(|(dd, _, _)| dd.is_some());
            let right = self.read_as(
                r,
                if date_range { None } else { prev },
                next,
                date_range || dated,
            );
            let left = if date_range {
                let n = l.parse::<u64>().unwrap_or(0);
                if (1..=31).contains(&n) {
                    day(n, d)
                } else {
                    integer(l, d)
                }
            } else if is_plain(l) && time(r, d).is_some() {
                integer(l, d)
            } else {
                self.read_as(l, prev, "", dated)
            };
            let again = match prev {
                Some("cấp") => "cấp ",
                _ => "",
            };
            return format!("{left} đến {again}{right}");
        }
        if let Some(t) = time(raw, d) {
            return t;
        }
        let document = matches!(prev, Some("số" | "quý")) || self.document_follows;
        if let Some((dd, m, y)) = date(raw) {
            let is_date = match (dd, y) {
                // m/yyyy: not the number of a document ("số 12/2024/QĐ-UBND").
                (None, _) => !document,
                (Some(_), Some(_)) => true,
                (Some(_), None) => dated || self.date_here(prev, next),
            };
            if is_date {
                self.read_date.set(true);
                return date_words(dd, m, y, prev, d);
            }
        }
        if raw.contains('/') {
            let parts: Vec<&str> = raw.split('/').collect();
            if let [n, y] = parts[..] {
                // "số 15/2024", "quý 1/2026": a number and its year.
                if y.len() == 4 && (1900..=2100).contains(&y.parse::<u32>().unwrap_or(0)) {
                    return format!("{} năm {}", integer(n, d), integer(y, d));
                }
            }
            return spell(raw, d);
        }
        if let Some((a, b)) = raw.split_once('+') {
            return format!("{} cộng {}", self.read(a, None, ""), self.read(b, None, ""));
        }
        if raw.contains(':') {
            return spell(raw, d);
        }
        if is_plain(raw) {
            let n = raw.parse::<u64>().ok();
            let leading_zero = raw.len() >= 3 && raw.starts_with('0');
            return match (prev, n) {
                _ if raw.len() >= 3 && self.dialling() => digits(raw),
                // An account or a file's code, not an amount: amounts of
                // billions are written with their separators.
                _ if leading_zero || raw.len() > 9 => digits(raw),
                (Some("thứ"), Some(n)) => ordinal(n, d),
                (Some("tháng"), Some(4)) => "tư".into(),
                (Some("ngày"), Some(n @ 1..=10)) if next.starts_with("tháng") => day(n, d),
                _ => integer(raw, d),
            };
        }
        decimal(raw, d).unwrap_or_else(|| spell(raw, d))
    }
}

/// Digits only.
fn is_plain(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The two sides of a range, "100-150", "2020 - 2025", "7h-11h30".
fn split_range(raw: &str) -> Option<(&str, &str)> {
    let k = raw.find(['-', '–'])?;
    let (l, r) = (
        raw[..k].trim_end(),
        raw[k..].trim_start_matches(['-', '–']).trim_start(),
    );
    (!l.is_empty() && !r.is_empty()).then_some((l, r))
}

/// "7h30", "7h", "07:30", "7:30:15", "7g30" as hours, minutes, seconds.
fn time(raw: &str, d: Dialect) -> Option<String> {
    let parts: Vec<&str> = raw.split([':', 'h', 'H', 'g']).collect();
    if parts.len() < 2 || parts.len() > 3 || !parts.iter().all(|p| p.is_empty() || is_plain(p)) {
        return None;
    }
    let colon = raw.contains(':');
    if colon
        && parts
            .iter()
            .any(|p| p.len() != 2 && !(p.len() == 1 && p == &parts[0]))
    {
        return None;
    }
    if !colon && (parts.len() != 2 || !(parts[1].is_empty() || parts[1].len() == 2)) {
        return None;
    }
    let n = |p: &str| p.parse::<u64>().ok();
    let h = n(parts[0])?;
    let m = if parts[1].is_empty() { 0 } else { n(parts[1])? };
    let s = parts.get(2).map_or(Some(0), |p| n(p))?;
    if h > 24 || m > 59 || s > 59 || (h == 24 && m + s > 0) {
        return None;
    }
    let mut t = format!("{} giờ", number::whole(h, d));
    if m > 0 || s > 0 {
        t.push_str(&format!(" {} phút", number::whole(m, d)));
    }
    if s > 0 {
        t.push_str(&format!(" {} giây", number::whole(s, d)));
    }
    Some(t)
}

/// "20/3/2026", "20/3", "20.3.2026", "12/2026" as (day, month, year).
fn date(raw: &str) -> Option<(Option<u64>, u64, Option<&str>)> {
    let sep = if raw.contains('/') { '/' } else { '.' };
    let parts: Vec<&str> = raw.split(sep).collect();
    if !parts.iter().all(|p| is_plain(p)) {
        return None;
    }
    let n = |p: &str| p.parse::<u64>().unwrap_or(0);
    let year = |p: &str| p.len() == 4 || (p.len() == 2 && sep == '/');
    match parts[..] {
        [dd, m] if sep == '/' && dd.len() <= 2 && m.len() <= 2 => ((1..=31).contains(&n(dd))
            && (1..=12).contains(&n(m)))
        .then_some((Some(n(dd)), n(m), None)),
        [m, y] if sep == '/' && m.len() <= 2 && y.len() == 4 => {
            (1..=12).contains(&n(m)).then_some((None, n(m), Some(y)))
        }
        [dd, m, y] if dd.len() <= 2 && m.len() <= 2 && year(y) => ((1..=31).contains(&n(dd))
            && (1..=12).contains(&n(m)))
        .then_some((Some(n(dd)), n(m), Some(y))),
        _ => None,
    }
}

fn date_words(dd: Option<u64>, m: u64, y: Option<&str>, prev: Option<&str>, d: Dialect) -> String {
    let mut w = String::new();
    if let Some(dd) = dd {
        w.push_str(&day(dd, d));
        w.push(' ');
    }
    if !(dd.is_none() && prev == Some("tháng")) {
        w.push_str("tháng ");
    }
    w.push_str(&month(m, d));
    if let Some(y) = y {
        w.push_str(" năm ");
        w.push_str(&integer(y, d));
    }
    w
}

/// A day of the month: "mùng một" to "mùng mười", then numbers.
fn day(n: u64, d: Dialect) -> String {
    if n <= 10 {
        format!("mùng {}", number::whole(n, d))
    } else {
        number::whole(n, d)
    }
}

fn month(m: u64, d: Dialect) -> String {
    if m == 4 {
        "tư".into()
    } else {
        number::whole(m, d)
    }
}

/// After "thứ": "thứ nhất", "thứ tư" (and the days of the week: "thứ 2" is
/// thứ hai, Monday).
fn ordinal(n: u64, d: Dialect) -> String {
    match n {
        1 => "nhất".into(),
        4 => "tư".into(),
        n => number::whole(n, d),
    }
}

/// A number with Vietnamese separators ("1.250", "2.350.000", "2,5",
/// "1.250,5") or English ones where they cannot be Vietnamese ("1,250,000",
/// "1.5").
fn decimal(raw: &str, d: Dialect) -> Option<String> {
    if !raw
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
    {
        return None;
    }
    let thousands = |s: &str, sep: char| -> Option<String> {
        let groups: Vec<&str> = s.split(sep).collect();
        let ok = groups.len() >= 2
            && (1..=3).contains(&groups[0].len())
            && groups[1..].iter().all(|g| g.len() == 3)
            && groups.iter().all(|g| is_plain(g));
        ok.then(|| groups.concat())
    };
    let (dots, commas) = (raw.matches('.').count(), raw.matches(',').count());
    let (int, frac): (String, Option<&str>) = match (dots, commas) {
        (0, 1) => {
            let (a, b) = raw.split_once(',')?;
            (a.to_string(), Some(b))
        }
        (1, 0) if thousands(raw, '.').is_none() => {
            let (a, b) = raw.split_once('.')?;
            (a.to_string(), Some(b))
        }
        (_, 0) => (thousands(raw, '.')?, None),
        (0, _) => (thousands(raw, ',')?, None),
        _ => {
            let (last_dot, last_comma) = (raw.rfind('.')?, raw.rfind(',')?);
            let (sep, point) = if last_comma > last_dot {
                ('.', ',')
            } else {
                (',', '.')
            };
            let (a, b) = raw.rsplit_once(point)?;
            (
                thousands(a, sep).or_else(|| is_plain(a).then(|| a.to_string()))?,
                Some(b),
            )
        }
    };
    if !is_plain(&int) {
        return None;
    }
    let mut w = if int.len() > number::MAX_DIGITS {
        digits(&int)
    } else {
        integer(&int, d)
    };
    if let Some(frac) = frac {
        if !is_plain(frac) {
            return None;
        }
        w.push_str(" phẩy ");
        w.push_str(&number::fraction(frac, d));
    }
    Some(w)
}

/// A numeral that fits no form: its numbers, and its marks said as words.
fn spell(raw: &str, d: Dialect) -> String {
    let mut words = Vec::new();
    let mut run = String::new();
    let flush = |run: &mut String, words: &mut Vec<String>| {
        if !run.is_empty() {
            words.push(integer(run, d));
            run.clear();
        }
    };
    for c in raw.chars() {
        if is_digit(c) {
            run.push(c);
            continue;
        }
        flush(&mut run, &mut words);
        let w = match c {
            '.' => "chấm",
            ',' => "phẩy",
            '/' => "trên",
            ':' => "trên",
            'h' | 'H' | 'g' => "giờ",
            '+' => "cộng",
            '-' | '–' => "đến",
            _ => continue,
        };
        words.push(w.to_string());
    }
    flush(&mut run, &mut words);
    words.join(" ")
}

/// A Roman numeral from I to C in its standard form.
fn roman(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 8 || !s.chars().all(|c| "IVXLC".contains(c)) {
        return None;
    }
    let value = |c: char| match c {
        'I' => 1,
        'V' => 5,
        'X' => 10,
        'L' => 50,
        _ => 100,
    };
    let v: Vec<u32> = s.chars().map(value).collect();
    let mut n = 0;
    for (k, &x) in v.iter().enumerate() {
        if v.get(k + 1).is_some_and(|&y| y > x) {
            n -= x as i64;
        } else {
            n += x as i64;
        }
    }
    let n = u32::try_from(n).ok().filter(|n| (1..=100).contains(n))?;
    (to_roman(n) == s).then_some(n)
}

fn to_roman(mut n: u32) -> String {
    const TABLE: [(u32, &str); 9] = [
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ];
    let mut s = String::new();
    for (v, r) in TABLE {
        while n >= v {
            s.push_str(r);
            n -= v;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roman_numerals_in_standard_form_only() {
        assert_eq!(roman("IV"), Some(4));
        assert_eq!(roman("XIII"), Some(13));
        assert_eq!(roman("XXI"), Some(21));
        assert_eq!(roman("C"), Some(100));
        assert_eq!(roman("IIII"), None);
        assert_eq!(roman("VX"), None);
        assert_eq!(roman("CC"), None);
    }
}
