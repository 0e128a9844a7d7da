//! Abbreviations and their readings: the ones every commune notice uses
//! (UBND, HĐND, BHYT...) and a station's own (`tts.lexicon`, one
//! `ABBR = reading` per line).

use std::collections::HashMap;
use std::fmt;

/// The abbreviations everybody says in full, as the notices of communes,
/// districts and provinces write them.
const BUILT_IN: &[(&str, &str)] = &[
    ("UBND", "ủy ban nhân dân"),
    ("HĐND", "hội đồng nhân dân"),
    ("MTTQ", "mặt trận tổ quốc"),
    ("UBMTTQ", "ủy ban mặt trận tổ quốc"),
    ("BCH", "ban chấp hành"),
    ("BTV", "ban thường vụ"),
    ("BCĐ", "ban chỉ đạo"),
    ("BQL", "ban quản lý"),
    ("TTHC", "thủ tục hành chính"),
    ("BHYT", "bảo hiểm y tế"),
    ("BHXH", "bảo hiểm xã hội"),
    ("BHTN", "bảo hiểm thất nghiệp"),
    ("CCCD", "căn cước công dân"),
    ("CMND", "chứng minh nhân dân"),
    ("GPLX", "giấy phép lái xe"),
    ("THCS", "trung học cơ sở"),
    ("THPT", "trung học phổ thông"),
    ("PCCC", "phòng cháy chữa cháy"),
    ("PCCC&CNCH", "phòng cháy chữa cháy và cứu nạn cứu hộ"),
    ("CNCH", "cứu nạn cứu hộ"),
    ("PCTT", "phòng chống thiên tai"),
    ("TKCN", "tìm kiếm cứu nạn"),
    ("PCTT&TKCN", "phòng chống thiên tai và tìm kiếm cứu nạn"),
    ("ATGT", "an toàn giao thông"),
    ("ATTP", "an toàn thực phẩm"),
    ("CSGT", "cảnh sát giao thông"),
    ("HTX", "hợp tác xã"),
    ("KT-XH", "kinh tế - xã hội"),
    ("QP-AN", "quốc phòng - an ninh"),
    ("ANTT", "an ninh trật tự"),
    ("TTATXH", "trật tự an toàn xã hội"),
    ("NĐ-CP", "nghị định chính phủ"),
    ("NQ-CP", "nghị quyết chính phủ"),
    ("CT-TTg", "chỉ thị thủ tướng"),
    ("QĐ-TTg", "quyết định thủ tướng"),
    ("QĐ-UBND", "quyết định ủy ban nhân dân"),
    ("TT-BTTTT", "thông tư bộ thông tin và truyền thông"),
    ("BTTTT", "bộ thông tin và truyền thông"),
    ("GD&ĐT", "giáo dục và đào tạo"),
    ("GD-ĐT", "giáo dục và đào tạo"),
    ("NN&PTNT", "nông nghiệp và phát triển nông thôn"),
    ("TN&MT", "tài nguyên và môi trường"),
    ("LĐ-TB&XH", "lao động - thương binh và xã hội"),
    ("LĐTBXH", "lao động thương binh và xã hội"),
    ("VH-TT&DL", "văn hóa, thể thao và du lịch"),
    ("KHHGĐ", "kế hoạch hóa gia đình"),
    ("ĐBQH", "đại biểu quốc hội"),
    ("QH", "quốc hội"),
    ("TW", "trung ương"),
    ("TƯ", "trung ương"),
    ("ĐU", "đảng ủy"),
    ("UBKT", "ủy ban kiểm tra"),
    ("CBCCVC", "cán bộ công chức viên chức"),
    ("CBCC", "cán bộ công chức"),
    ("CNVC", "công nhân viên chức"),
    ("NLĐ", "người lao động"),
    ("NCT", "người cao tuổi"),
    ("CCB", "cựu chiến binh"),
    ("ĐTN", "đoàn thanh niên"),
    ("TNCS", "thanh niên cộng sản"),
    ("LHPN", "liên hiệp phụ nữ"),
    ("CLB", "câu lạc bộ"),
    ("TTYT", "trung tâm y tế"),
    ("TYT", "trạm y tế"),
    ("CSSK", "chăm sóc sức khỏe"),
    ("KCB", "khám chữa bệnh"),
    ("ĐKKD", "đăng ký kinh doanh"),
    ("GCN", "giấy chứng nhận"),
    ("QSDĐ", "quyền sử dụng đất"),
    ("SĐT", "số điện thoại"),
    // The kinds of administrative documents, as in "45/KH-UBND".
    ("KH", "kế hoạch"),
    ("QĐ", "quyết định"),
    ("NQ", "nghị quyết"),
    ("CT", "chỉ thị"),
    ("CV", "công văn"),
    ("BC", "báo cáo"),
    ("HD", "hướng dẫn"),
    ("TTr", "tờ trình"),
    ("TB", "thông báo"),
    ("VP", "văn phòng"),
    ("ĐT", "điện thoại"),
    ("TP", "thành phố"),
    ("TP.", "thành phố"),
    ("Tp.", "thành phố"),
    ("TP.HCM", "thành phố Hồ Chí Minh"),
    ("TPHCM", "thành phố Hồ Chí Minh"),
    ("Tp", "thành phố"),
    ("TX", "thị xã"),
    ("TT", "thị trấn"),
    ("VN", "Việt Nam"),
    ("CHXHCN", "cộng hòa xã hội chủ nghĩa"),
    ("CN", "chủ nhật"),
    ("VNĐ", "đồng"),
    ("VND", "đồng"),
    ("USD", "đô la Mỹ"),
    ("VOV", "vê ô vê"),
    ("VTV", "vê tê vê"),
    ("COVID-19", "cô vít mười chín"),
    ("Covid-19", "cô vít mười chín"),
    ("COVID", "cô vít"),
    ("Covid", "cô vít"),
];

/// A station's abbreviations over the built-in ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lexicon {
    entries: HashMap<String, String>,
    /// The longest key, in characters.
    longest: usize,
}

impl Default for Lexicon {
    fn default() -> Self {
        let mut l = Lexicon {
            entries: HashMap::new(),
            longest: 0,
        };
        for (k, v) in BUILT_IN {
            l.insert((*k).to_string(), (*v).to_string());
        }
        l
    }
}

/// A line of a lexicon file that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexiconError {
    /// 1-based.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for LexiconError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for LexiconError {}

impl Lexicon {
    fn insert(&mut self, key: String, reading: String) {
        self.longest = self.longest.max(key.chars().count());
        self.entries.insert(key, reading);
    }

    /// The built-in abbreviations with a station's lexicon file over them:
    /// `ABBR = reading` per line; `#` starts a comment. Every bad line is
    /// an error naming it.
    pub fn with_file(text: &str) -> Result<Lexicon, Vec<LexiconError>> {
        let mut lexicon = Lexicon::default();
        let mut errors = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut own = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let content = raw.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let mut err = |message: String| errors.push(LexiconError { line, message });
            let Some((key, reading)) = content.split_once('=') else {
                err(format!(
                    "`{content}` has no `=`: write one abbreviation per line as `ABBR = reading`"
                ));
                continue;
            };
            let (key, reading) = (
                key.trim(),
                reading.split_whitespace().collect::<Vec<_>>().join(" "),
            );
            if let Some(why) = bad_key(key) {
                err(why);
                continue;
            }
            if reading.is_empty() {
                err(format!(
                    "`{key}` has an empty reading: write what is said after `=`"
                ));
                continue;
            }
            if reading.chars().any(|c| c.is_ascii_digit()) {
                err(format!(
                    "the reading of `{key}` has digits: write the numbers in words (\"mười chín\", not \"19\")"
                ));
                continue;
            }
            if let Some(first) = seen.insert(key.to_string(), line) {
                err(format!(
                    "`{key}` is given twice (first on line {first}): keep one"
                ));
                continue;
            }
            own.push((line, key.to_string(), reading.clone()));
            lexicon.insert(key.to_string(), reading);
        }
        // A reading that holds an abbreviation would be read again the next
        // time the text passes: the reading is what is said, in words.
        for (line, key, reading) in &own {
            if let Some(word) = reading
                .split(|c: char| c.is_whitespace() || ",;:".contains(c))
                .find(|w| lexicon.entries.contains_key(*w))
            {
                errors.push(LexiconError {
                    line: *line,
                    message: format!(
                        "the reading of `{key}` contains the abbreviation `{word}`: write it in full"
                    ),
                });
            }
        }
        if errors.is_empty() {
            Ok(lexicon)
        } else {
            Err(errors)
        }
    }

    /// The reading of `key`, if it is an abbreviation.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    /// The longest key, in characters.
    pub fn longest(&self) -> usize {
        self.longest
    }

    /// How many abbreviations it knows.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Never: the built-in abbreviations are always there.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn bad_key(key: &str) -> Option<String> {
    if key.is_empty() {
        return Some("an empty abbreviation before `=`: write it as `ABBR = reading`".into());
    }
    if key.chars().any(char::is_whitespace) {
        return Some(format!(
            "`{key}` has a space: an abbreviation is one word (KT-XH, GD&ĐT)"
        ));
    }
    if !key.chars().next().is_some_and(char::is_alphabetic) {
        return Some(format!("`{key}` must begin with a letter"));
    }
    if let Some(c) = key
        .chars()
        .find(|c| !(c.is_alphanumeric() || crate::scan::JOINERS.contains(*c)))
    {
        return Some(format!(
            "`{key}` has `{c}`: an abbreviation holds letters, digits and - & / . only"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_station_file_adds_and_overrides() {
        let l = Lexicon::with_file(
            "# ours\nHTXNN = hợp tác xã nông nghiệp\nTT = trung tâm  # here\n\n",
        )
        .unwrap();
        assert_eq!(l.get("HTXNN"), Some("hợp tác xã nông nghiệp"));
        assert_eq!(l.get("TT"), Some("trung tâm"));
        assert_eq!(l.get("UBND"), Some("ủy ban nhân dân"));
    }

    #[test]
    fn each_bad_line_is_named_with_its_fix() {
        let e = Lexicon::with_file(
            "UBND\n = x\nA B = c\nX = \nY = số 19\nZ = a\nZ = b\nW = đọc UBND\n",
        )
        .unwrap_err();
        let lines: Vec<usize> = e.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![1, 2, 3, 4, 5, 7, 8], "{e:?}");
        assert!(e[0].to_string().contains("has no `=`"), "{}", e[0]);
        assert!(e[4].message.contains("in words"), "{}", e[4]);
        assert!(e[5].message.contains("first on line 6"), "{}", e[5]);
        assert!(e[6].message.contains("`UBND`"), "{}", e[6]);
    }

    #[test]
    fn built_in_readings_are_words_without_abbreviations() {
        let l = Lexicon::default();
        for (k, v) in BUILT_IN {
            assert!(bad_key(k).is_none(), "{k}");
            assert!(!v.chars().any(|c| c.is_ascii_digit()), "{k}");
            for w in v.split(|c: char| c.is_whitespace() || c == ',') {
                assert!(l.get(w).is_none(), "{k}: {w}");
            }
        }
    }
}
