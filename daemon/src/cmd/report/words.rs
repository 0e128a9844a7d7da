//! Every string a report shows, in Vietnamese and in English.

/// The report's language (`--lang`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Tiếng Việt.
    Vi,
    /// English.
    En,
}

/// The words of one language.
pub struct Words {
    pub html_lang: &'static str,
    pub report: &'static str,
    pub log_book: &'static str,
    pub period: &'static str,
    pub from: &'static str,
    pub to: &'static str,
    pub time_zone: &'static str,
    pub by: &'static str,
    pub key_category: &'static str,
    pub key_program: &'static str,
    pub key_day: &'static str,
    pub key_source: &'static str,
    pub key_station: &'static str,
    pub items: &'static str,
    pub aired: &'static str,
    pub planned: &'static str,
    pub completed: &'static str,
    pub failed: &'static str,
    pub total: &'static str,
    pub summary: &'static str,
    pub items_aired: &'static str,
    pub hours_aired: &'static str,
    pub relay_hours: &'static str,
    pub no_relay: &'static str,
    pub emergency: &'static str,
    pub silent_days: &'static str,
    pub days: &'static str,
    pub offline_since: &'static str,
    pub day_count: &'static str,
    pub dates: &'static str,
    pub offline_since_head: &'static str,
    pub failures: &'static str,
    pub aired_vs_planned: &'static str,
    pub chart: &'static str,
    pub hours_axis: &'static str,
    pub day_axis: &'static str,
    pub rows: &'static str,
    pub date: &'static str,
    pub time: &'static str,
    pub title: &'static str,
    pub category: &'static str,
    pub source: &'static str,
    pub outcome: &'static str,
    pub approved_by: &'static str,
    pub schedule: &'static str,
    pub nothing: &'static str,
    pub printed: &'static str,
    pub prepared_by: &'static str,
    pub head_of_station: &'static str,
    pub sign: &'static str,
    pub announcements: &'static str,
    pub minutes_note: &'static str,
}

pub const VI: Words = Words {
    html_lang: "vi",
    report: "Báo cáo phát sóng",
    log_book: "Sổ nhật ký chương trình",
    period: "Thời gian",
    from: "từ",
    to: "đến",
    time_zone: "múi giờ",
    by: "theo",
    key_category: "Thể loại",
    key_program: "Chương trình",
    key_day: "Ngày",
    key_source: "Nguồn",
    key_station: "Đài",
    items: "Số mục",
    aired: "Đã phát",
    planned: "Dự kiến",
    completed: "Hoàn thành",
    failed: "Lỗi",
    total: "Tổng cộng",
    summary: "Tổng hợp",
    items_aired: "Số mục đã phát",
    hours_aired: "Số giờ đã phát",
    relay_hours: "Số giờ tiếp sóng theo nguồn",
    no_relay: "không có",
    emergency: "Thông báo khẩn cấp",
    silent_days: "Ngày không phát sóng (đài im lặng hoặc mất kết nối)",
    days: "ngày",
    offline_since: "mất kết nối từ",
    day_count: "Số ngày",
    dates: "Các ngày",
    offline_since_head: "Mất kết nối từ",
    failures: "Số lần phát lỗi",
    aired_vs_planned: "Đã phát so với dự kiến",
    chart: "Thời lượng phát theo ngày và thể loại",
    hours_axis: "Giờ",
    day_axis: "Ngày",
    rows: "Nhật ký chi tiết",
    date: "Ngày",
    time: "Giờ",
    title: "Tên chương trình",
    category: "Thể loại",
    source: "Nguồn",
    outcome: "Kết quả",
    approved_by: "Người duyệt / yêu cầu",
    schedule: "theo lịch",
    nothing: "Không có dữ liệu phát sóng trong thời gian này.",
    printed: "Lập lúc",
    prepared_by: "Người lập sổ",
    head_of_station: "Phụ trách đài",
    sign: "(ký, ghi rõ họ tên)",
    announcements: "Thông báo đột xuất",
    minutes_note: "Thời lượng ghi theo giờ:phút:giây.",
};

pub const EN: Words = Words {
    html_lang: "en",
    report: "Airtime report",
    log_book: "Programme log book",
    period: "Period",
    from: "from",
    to: "to",
    time_zone: "time zone",
    by: "by",
    key_category: "Category",
    key_program: "Programme",
    key_day: "Day",
    key_source: "Source",
    key_station: "Station",
    items: "Items",
    aired: "Aired",
    planned: "Planned",
    completed: "Completed",
    failed: "Failed",
    total: "Total",
    summary: "Summary",
    items_aired: "Items aired",
    hours_aired: "Hours aired",
    relay_hours: "Relay hours per source",
    no_relay: "none",
    emergency: "Emergency announcements",
    silent_days: "Days nothing aired (station silent or offline)",
    days: "days",
    offline_since: "offline since",
    day_count: "Days",
    dates: "Dates",
    offline_since_head: "Offline since",
    failures: "Failures",
    aired_vs_planned: "Aired vs planned",
    chart: "Airtime per day and category",
    hours_axis: "Hours",
    day_axis: "Day",
    rows: "Chronological log",
    date: "Date",
    time: "Time",
    title: "Title",
    category: "Category",
    source: "Source",
    outcome: "Outcome",
    approved_by: "Approved / requested by",
    schedule: "schedule",
    nothing: "Nothing aired in this period.",
    printed: "Printed",
    prepared_by: "Prepared by",
    head_of_station: "Head of station",
    sign: "(signature and full name)",
    announcements: "Unscheduled announcements",
    minutes_note: "Durations are hours:minutes:seconds.",
};

impl Lang {
    pub fn words(self) -> &'static Words {
        match self {
            Lang::Vi => &VI,
            Lang::En => &EN,
        }
    }

    /// A category as the reader knows it (SPEC's suggested ones; others as written).
    pub fn category(self, c: &str) -> &str {
        let known = [
            ("news", "Thời sự, tin tức", "News"),
            ("relay", "Tiếp sóng", "Relay"),
            ("music", "Âm nhạc", "Music"),
            ("announcement", "Thông báo", "Announcement"),
            ("ident", "Nhạc hiệu", "Station ident"),
            ("live", "Phát trực tiếp", "Live"),
            ("education", "Tuyên truyền, giáo dục", "Education"),
        ];
        match known.iter().find(|k| k.0 == c) {
            Some((_, vi, en)) => match self {
                Lang::Vi => vi,
                Lang::En => en,
            },
            None => c,
        }
    }

    /// An outcome (column `outcome`).
    pub fn outcome(self, o: &str) -> &str {
        let (vi, en) = match o {
            "airing" => ("đang phát", "airing"),
            "completed" => ("hoàn thành", "completed"),
            "cut" => ("bị cắt", "cut"),
            "preempted" => ("bị ngắt (ưu tiên)", "preempted"),
            "failed" => ("lỗi", "failed"),
            "skipped" => ("bỏ qua", "skipped"),
            "interrupted" => ("gián đoạn", "interrupted"),
            other => (other, other),
        };
        match self {
            Lang::Vi => vi,
            Lang::En => en,
        }
    }

    /// A source kind (column `source_kind`).
    pub fn source_kind(self, k: &str) -> &str {
        let (vi, en) = match k {
            "file" => ("tệp ghi âm", "file"),
            "stream" => ("tiếp sóng", "stream"),
            "tts" => ("đọc tự động", "text-to-speech"),
            "live" => ("trực tiếp", "live"),
            "tone" => ("âm hiệu", "tone"),
            "silence" => ("khoảng lặng", "silence"),
            "chime" => ("nhạc báo", "chime"),
            other => (other, other),
        };
        match self {
            Lang::Vi => vi,
            Lang::En => en,
        }
    }

    /// A row's `detail` as the reader of this language knows it. The log
    /// keeps the daemon's English; the Vietnamese book says the known ones
    /// in Vietnamese and leaves out the rest (None), rather than mix English
    /// into it.
    pub fn detail(self, d: &str) -> Option<String> {
        if self == Lang::En {
            return Some(d.to_string());
        }
        const CLOSED: &str = "; its window closed before it could resume";
        let exact = [
            ("window closed", "hết khung giờ phát"),
            ("shutdown", "phần mềm Loa dừng"),
            ("ended", "kết thúc"),
            (
                "preempted; its window closed before it could resume",
                "bị ngắt; hết khung giờ trước khi phát tiếp",
            ),
            (
                "never aired: a higher item held the output until its window closed",
                "không phát: nội dung ưu tiên cao hơn chiếm loa đến hết khung giờ",
            ),
            (
                "never aired: silent (below policy.silence) until the window closed",
                "không phát: nguồn im lặng đến hết khung giờ",
            ),
            (
                "never aired: no audio before the window closed",
                "không phát: không có âm thanh đến hết khung giờ",
            ),
            (
                "the program's window closed before it aired",
                "hết khung giờ trước khi phát",
            ),
            (
                crate::runtime::airtime::INTERRUPTED_DETAIL,
                "Loa dừng đột ngột (treo máy hoặc mất điện)",
            ),
        ];
        if let Some((_, vi)) = exact.iter().find(|(en, _)| *en == d) {
            return Some(vi.to_string());
        }
        if let Some(at) = d.strip_prefix("quiet hours from ") {
            return Some(format!("giờ yên lặng từ {at}"));
        }
        if let Some(by) = d
            .strip_prefix("preempted by ")
            .and_then(|r| r.strip_suffix(CLOSED))
        {
            return Some(format!(
                "bị ngắt bởi {by}; hết khung giờ trước khi phát tiếp"
            ));
        }
        if let Some(who) = d
            .strip_prefix("busy: ")
            .and_then(|r| r.strip_suffix(" was airing (if_busy: skip)"))
        {
            return Some(format!("bận: {who} đang phát (if_busy: skip)"));
        }
        if let Some(rest) = d.strip_prefix("stopped by ") {
            return Some(match rest.split_once(" at the PC") {
                Some((user, _)) => format!("{user} dừng tại máy phát"),
                None => format!("{rest} dừng từ xa"),
            });
        }
        if let Some(limit) = d
            .strip_prefix("left open longer than policy.live_limit (")
            .and_then(|r| r.strip_suffix("): closed"))
        {
            return Some(format!("mở quá policy.live_limit ({limit}): đã đóng"));
        }
        if let Some((file, rest)) = d
            .strip_prefix("the newest file, ")
            .and_then(|r| r.rsplit_once(", is "))
        {
            if let Some((age, max)) = rest
                .strip_suffix(" h)")
                .and_then(|r| r.split_once(" h old (max_age "))
            {
                return Some(format!(
                    "tệp mới nhất, {file}, đã cũ {age} giờ (max_age {max} giờ): chưa chép bản tin mới"
                ));
            }
        }
        if let Some(pattern) = d.strip_prefix("no file matches ") {
            return Some(format!("không có tệp nào khớp {pattern}"));
        }
        if let Some(file) = d.strip_suffix(": no such file") {
            return Some(format!("không có tệp {file}"));
        }
        if d.starts_with("never aired:") {
            return Some("không phát được: nguồn không có tín hiệu".into());
        }
        if d.starts_with("damaged audio data") || d.starts_with("a damaged ") {
            return Some("tệp âm thanh bị hỏng".into());
        }
        None
    }

    #[cfg(test)]
    fn vi(d: &str) -> Option<String> {
        Lang::Vi.detail(d)
    }

    /// A date: dd/mm/yyyy in Vietnamese, ISO in English.
    pub fn date(self, iso: &str) -> String {
        let mut s = String::with_capacity(10);
        self.push_date(&mut s, iso);
        s
    }

    /// [`Lang::date`] onto `s`, without allocating.
    pub fn push_date(self, s: &mut String, iso: &str) {
        match (self, iso.get(0..4), iso.get(5..7), iso.get(8..10)) {
            (Lang::Vi, Some(y), Some(m), Some(d)) => {
                for part in [d, "/", m, "/", y] {
                    s.push_str(part);
                }
            }
            _ => s.push_str(iso),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The details the daemon writes, as the Vietnamese book says them.
    #[test]
    fn the_daemons_details_in_vietnamese() {
        for (en, vi) in [
            ("window closed", "hết khung giờ phát"),
            ("quiet hours from 22:00", "giờ yên lặng từ 22:00"),
            (
                "the newest file, /m/tin.mp3, is 30 h old (max_age 24 h)",
                "tệp mới nhất, /m/tin.mp3, đã cũ 30 giờ (max_age 24 giờ): chưa chép bản tin mới",
            ),
            ("no file matches /m/*.mp3", "không có tệp nào khớp /m/*.mp3"),
            ("/m/a.mp3: no such file", "không có tệp /m/a.mp3"),
            (
                "stopped by an at the PC (loa stop all)",
                "an dừng tại máy phát",
            ),
            (
                "never aired: connection refused",
                "không phát được: nguồn không có tín hiệu",
            ),
        ] {
            assert_eq!(Lang::vi(en).as_deref(), Some(vi), "{en}");
            assert_eq!(Lang::En.detail(en).as_deref(), Some(en));
        }
        assert_eq!(Lang::vi("something new"), None);
    }
}
