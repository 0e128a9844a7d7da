//! `loa report --format text|csv|json`.

use std::io::{self, Write};

use super::data::Group;
use super::Report;

/// Milliseconds as H:MM:SS (hours may pass 24), to the nearest second.
pub fn hms(ms: u64) -> String {
    let mut o = String::with_capacity(8);
    push_hms(&mut o, ms);
    o
}

/// [`hms`] onto `o`.
pub fn push_hms(o: &mut String, ms: u64) {
    use std::fmt::Write as _;
    let s = (ms + 500) / 1000;
    let _ = write!(o, "{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
}

/// A table for people: the groups, the totals, the relay hours per source.
pub fn text(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let w = r.lang.words();
    let f = &r.figures;
    if r.station_name == r.station_id {
        writeln!(out, "{} — {}", w.report, r.station_id)?;
    } else {
        writeln!(out, "{} — {} ({})", w.report, r.station_name, r.station_id)?;
    }
    writeln!(
        out,
        "{}: {} {} {} {} ({} {}), {} {}",
        w.period,
        w.from,
        r.lang.date(&f.period.from.to_string()),
        w.to,
        r.lang.date(&f.period.to.to_string()),
        w.time_zone,
        r.tz,
        w.by,
        r.by_label().to_lowercase()
    )?;
    writeln!(out)?;
    let head = [
        r.by_label().to_string(),
        w.items.into(),
        w.aired.into(),
        w.planned.into(),
        w.completed.into(),
        w.failed.into(),
    ];
    let line = |g: &Group, key: String| {
        [
            key,
            g.items.to_string(),
            hms(g.aired_ms),
            hms(g.planned_ms),
            g.completed.to_string(),
            g.failed.to_string(),
        ]
    };
    let mut lines: Vec<[String; 6]> = vec![head];
    for g in &f.groups {
        lines.push(line(g, r.key_label(g)));
    }
    let t = &f.totals;
    lines.push(line(&t.as_group(), w.total.to_string()));
    let width = |i: usize| {
        lines
            .iter()
            .map(|l| l[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..6).map(width).collect();
    let n = lines.len();
    for (k, l) in lines.iter().enumerate() {
        if k == n - 1 {
            writeln!(out, "{}", "-".repeat(widths.iter().sum::<usize>() + 2 * 5))?;
        }
        let mut s = pad(&l[0], widths[0], false);
        for i in 1..6 {
            s.push_str("  ");
            s.push_str(&pad(&l[i], widths[i], true));
        }
        writeln!(out, "{}", s.trim_end())?;
    }
    writeln!(out)?;
    writeln!(out, "{}: {}", w.emergency, t.emergency_announcements)?;
    if f.relay.is_empty() {
        writeln!(out, "{}: {}", w.relay_hours, w.no_relay)?;
    } else {
        writeln!(out, "{}:", w.relay_hours)?;
    }
    for (url, ms) in &f.relay {
        writeln!(out, "  {}  {url}", hms(*ms))?;
    }
    let silent = r.silent_lines();
    if silent.is_empty() {
        writeln!(out, "{}: {}", w.silent_days, w.no_relay)?;
    } else {
        writeln!(out, "{}:", w.silent_days)?;
    }
    for line in silent {
        writeln!(out, "  {line}")?;
    }
    Ok(())
}

fn pad(s: &str, width: usize, right: bool) -> String {
    let fill = " ".repeat(width.saturating_sub(s.chars().count()));
    if right {
        format!("{fill}{s}")
    } else {
        format!("{s}{fill}")
    }
}

/// One CSV field, quoted when it must be (RFC 4180).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// UTF-8 with a byte-order mark (spreadsheets then read Vietnamese right),
/// CRLF lines: a header, one line per group (raw keys), a totals line.
pub fn csv(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let w = r.lang.words();
    let f = &r.figures;
    out.write_all("\u{feff}".as_bytes())?;
    let head = [
        r.by_label().to_string(),
        w.items.into(),
        w.aired.into(),
        format!("{} (ms)", w.aired),
        w.planned.into(),
        format!("{} (ms)", w.planned),
        w.completed.into(),
        w.failed.into(),
    ];
    let mut put = |cells: &[String]| -> io::Result<()> {
        let line: Vec<String> = cells.iter().map(|c| field(c)).collect();
        write!(out, "{}\r\n", line.join(","))
    };
    put(&head)?;
    let row = |key: &str, g: &Group| {
        [
            key.to_string(),
            g.items.to_string(),
            hms(g.aired_ms),
            g.aired_ms.to_string(),
            hms(g.planned_ms),
            g.planned_ms.to_string(),
            g.completed.to_string(),
            g.failed.to_string(),
        ]
    };
    for g in &f.groups {
        put(&row(&g.key, g))?;
    }
    put(&row(w.total, &f.totals.as_group()))?;
    // After a blank line, the stations' silent days (ISO dates, `;` between).
    if !f.silent.is_empty() {
        put(&[])?;
        put(&[
            w.key_station.to_string(),
            w.day_count.to_string(),
            w.dates.to_string(),
            w.offline_since_head.to_string(),
        ])?;
        for st in &f.silent {
            let days: Vec<String> = st.days.iter().map(|d| d.to_string()).collect();
            put(&[
                st.station.clone(),
                st.days.len().to_string(),
                days.join(";"),
                st.offline_since.map(|d| d.to_string()).unwrap_or_default(),
            ])?;
        }
    }
    Ok(())
}

/// SPEC section 7's shape, keys in its order.
pub fn json(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let f = &r.figures;
    let s = |v: &str| serde_json::Value::from(v).to_string();
    writeln!(out, "{{")?;
    writeln!(out, "  \"from\": {},", s(&f.period.from.to_string()))?;
    writeln!(out, "  \"to\": {},", s(&f.period.to.to_string()))?;
    writeln!(out, "  \"station\": {},", s(&r.station_id))?;
    write!(out, "  \"groups\": [")?;
    for (i, g) in f.groups.iter().enumerate() {
        write!(
            out,
            "{}\n    {{\"key\": {}, \"items\": {}, \"aired_ms\": {}, \"planned_ms\": {}, \"completed\": {}, \"failed\": {}}}",
            if i == 0 { "" } else { "," },
            s(&g.key),
            g.items,
            g.aired_ms,
            g.planned_ms,
            g.completed,
            g.failed
        )?;
    }
    writeln!(out, "{}],", if f.groups.is_empty() { "" } else { "\n  " })?;
    let t = &f.totals;
    writeln!(
        out,
        "  \"totals\": {{\"items\": {}, \"aired_ms\": {}, \"planned_ms\": {}, \"completed\": {}, \"failed\": {}, \"emergency_announcements\": {}, \"relay_ms\": {}}},",
        t.items, t.aired_ms, t.planned_ms, t.completed, t.failed, t.emergency_announcements, t.relay_ms
    )?;
    write!(out, "  \"silent\": [")?;
    for (i, st) in f.silent.iter().enumerate() {
        let days: Vec<String> = st.days.iter().map(|d| s(&d.to_string())).collect();
        write!(
            out,
            "{}\n    {{\"station\": {}, \"days\": [{}], \"offline_since\": {}}}",
            if i == 0 { "" } else { "," },
            s(&st.station),
            days.join(", "),
            st.offline_since
                .map_or("null".to_string(), |d| s(&d.to_string()))
        )?;
    }
    writeln!(out, "{}]", if f.silent.is_empty() { "" } else { "\n  " })?;
    writeln!(out, "}}")
}

#[cfg(test)]
mod tests {
    use super::super::data::tests::{november, NOV, TZ};
    use super::super::data::{figures, tests::rows, By, KnownStation};
    use super::super::words::Lang;
    use super::*;

    fn report(by: By, lang: Lang) -> Report {
        let dir = tempfile::tempdir().unwrap();
        let conn = rusqlite::Connection::open(november(dir.path())).unwrap();
        let mut figures = figures(&mut rows(&conn), NOV, by, false).unwrap();
        let station = KnownStation {
            id: "au-lau".into(),
            offline_since: None,
        };
        figures.find_silent(&[station], NOV.to);
        Report {
            station_id: "au-lau".into(),
            station_name: "Đài truyền thanh xã Âu Lâu".into(),
            tz: TZ,
            lang,
            figures,
        }
    }

    /// The November fixture aired on the 1st, 2nd, 15th, 20th and 30th.
    fn silent_days() -> Vec<String> {
        (1..=30)
            .filter(|d| ![1, 2, 15, 20, 30].contains(d))
            .map(|d| format!("2026-11-{d:02}"))
            .collect()
    }

    fn render(f: fn(&Report, &mut dyn Write) -> io::Result<()>, r: &Report) -> String {
        let mut v = Vec::new();
        f(r, &mut v).unwrap();
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn hours_minutes_seconds() {
        assert_eq!(hms(0), "0:00:00");
        assert_eq!(hms(1_499), "0:00:01");
        assert_eq!(hms(3_500_000), "0:58:20");
        assert_eq!(hms(90_061_000), "25:01:01");
    }

    #[test]
    fn json_has_specs_shape_and_figures() {
        let text = render(json, &report(By::Category, Lang::Vi));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "from": "2026-11-01", "to": "2026-11-30", "station": "au-lau",
                "groups": [
                    {"key": "relay", "items": 2, "aired_ms": 3_500_000, "planned_ms": 3_600_000, "completed": 1, "failed": 0},
                    {"key": "news", "items": 1, "aired_ms": 607_000, "planned_ms": 1_207_000, "completed": 1, "failed": 1},
                    {"key": "music", "items": 1, "aired_ms": 301_000, "planned_ms": 301_000, "completed": 1, "failed": 0},
                    {"key": "announcement", "items": 2, "aired_ms": 90_000, "planned_ms": 90_000, "completed": 2, "failed": 0},
                ],
                "totals": {"items": 6, "aired_ms": 4_498_000, "planned_ms": 5_198_000, "completed": 5,
                           "failed": 1, "emergency_announcements": 1, "relay_ms": 3_500_000},
                "silent": [{"station": "au-lau", "days": silent_days(), "offline_since": null}],
            })
        );
        // Keys in SPEC's order.
        let order = [
            "\"from\"",
            "\"to\"",
            "\"station\"",
            "\"groups\"",
            "\"totals\"",
            "\"silent\"",
        ];
        let at: Vec<usize> = order.iter().map(|k| text.find(k).unwrap()).collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
    }

    #[test]
    fn json_of_an_empty_period_is_valid() {
        let mut r = report(By::Day, Lang::En);
        r.figures.groups.clear();
        let v: serde_json::Value = serde_json::from_str(&render(json, &r)).unwrap();
        assert_eq!(v["groups"], serde_json::json!([]));
    }

    #[test]
    fn csv_starts_with_a_bom_and_has_a_totals_line() {
        let text = render(csv, &report(By::Source, Lang::Vi));
        assert!(text.starts_with('\u{feff}'), "{text:?}");
        let lines: Vec<&str> = text.trim_start_matches('\u{feff}').split("\r\n").collect();
        assert_eq!(
            lines[0],
            "Nguồn,Số mục,Đã phát,Đã phát (ms),Dự kiến,Dự kiến (ms),Hoàn thành,Lỗi"
        );
        assert_eq!(
            lines[1],
            "http://vov1.example/live.m3u,2,0:58:20,3500000,1:00:00,3600000,1,0"
        );
        assert_eq!(lines[7], "Tổng cộng,6,1:14:58,4498000,1:26:38,5198000,5,1");
        assert_eq!(lines[8], "");
        assert_eq!(lines[9], "Đài,Số ngày,Các ngày,Mất kết nối từ");
        assert_eq!(lines[10], format!("au-lau,25,{},", silent_days().join(";")));
        assert_eq!(lines[11], "");
        assert_eq!(lines.len(), 12);
        let en = render(csv, &report(By::Day, Lang::En));
        assert!(en.starts_with("\u{feff}Day,Items,Aired,"), "{en}");
        assert_eq!(field("a,\"b\""), "\"a,\"\"b\"\"\"");
    }

    #[test]
    fn text_is_a_table_in_the_chosen_language() {
        let vi = render(text, &report(By::Category, Lang::Vi));
        assert!(vi.contains("Từ 01/11/2026".to_lowercase().as_str()), "{vi}");
        assert!(vi.contains("Tiếp sóng"), "{vi}");
        assert!(vi.contains("Thông báo khẩn cấp: 1"), "{vi}");
        assert!(
            vi.contains(
                "Ngày không phát sóng (đài im lặng hoặc mất kết nối):\n  au-lau: 25 ngày \
                 (03/11/2026–14/11/2026, 16/11/2026–19/11/2026, 21/11/2026–29/11/2026)\n"
            ),
            "{vi}"
        );
        let total = vi.lines().find(|l| l.starts_with("Tổng cộng")).unwrap();
        assert!(total.contains("1:14:58"), "{total}");
        let en = render(text, &report(By::Program, Lang::En));
        assert!(en.contains("Unscheduled announcements"), "{en}");
        assert!(en.contains("0:58:20  vov1"), "{en}");
    }
}
