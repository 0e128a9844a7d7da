//! `loa report --format html`: the printable monthly log book ("sổ nhật ký
//! chương trình"): the totals a commune reports, the per-group table, an SVG
//! chart of airtime per day stacked by category, and every row in the order
//! it aired. One self-contained file (inline CSS and SVG), laid out for A4.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};

use anyhow::Context;

use super::data::{self, By, Figures, Group, LogRow, Period, RowSource};
use super::plain::{hms, push_hms};
use super::words::Lang;
use super::Report;
use chrono::{Datelike, Utc};

const STYLE: &str = r#"
@page { size: A4; margin: 14mm 12mm; }
* { box-sizing: border-box; }
body { font-family: "Times New Roman", "Noto Serif", "DejaVu Serif", serif; font-size: 11pt;
       color: #000; background: #fff; max-width: 190mm; margin: 0 auto; }
@media screen { body { padding: 10mm 0; } }
h1 { text-align: center; text-transform: uppercase; font-size: 17pt; margin: 0 0 3pt; }
p.station { text-align: center; font-weight: bold; font-size: 13pt; margin: 0 0 3pt; }
p.period { text-align: center; margin: 0 0 10pt; }
h2 { font-size: 12.5pt; margin: 14pt 0 5pt; border-bottom: 1px solid #000; break-after: avoid; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #555; padding: 2pt 4pt; text-align: left; vertical-align: top; }
th { background: #eee; }
.n { text-align: right; white-space: nowrap; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
tr.total td { font-weight: bold; }
table.summary th { width: 45%; background: none; font-weight: normal; }
table.log { font-size: 8.5pt; }
table.log td.src { word-break: break-all; }
.chart { break-inside: avoid; margin: 0; }
.chart svg { width: 100%; height: auto; }
p.note { font-size: 9pt; font-style: italic; }
.sign { display: flex; justify-content: space-between; margin-top: 20pt; text-align: center; break-inside: avoid; }
.sign div { width: 45%; }
.sign .space { height: 55pt; }
"#;

/// Colours of the chart's categories, most aired first; readable in grey too.
const COLOURS: [&str; 10] = [
    "#1f5fa8", "#e08a1e", "#3a9a3a", "#c8322f", "#7a4fb0", "#8c564b", "#d466b0", "#6f6f6f",
    "#a8a820", "#1aa3b8",
];

/// Escapes text for HTML and SVG.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    push_esc(&mut o, s);
    o
}

/// [`esc`] onto `o`.
pub fn push_esc(o: &mut String, s: &str) {
    if !s.contains(['&', '<', '>', '"', '\'']) {
        o.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
}

fn percent(lang: Lang, part: u64, whole: u64) -> String {
    if whole == 0 {
        return "—".into();
    }
    let p = format!("{:.1}", part as f64 * 100.0 / whole as f64);
    match lang {
        Lang::Vi => format!("{} %", p.replace('.', ",")),
        Lang::En => format!("{p}%"),
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The log book from the log. One pass adds up the figures while the rows,
/// formatted, go to a temporary file (a year is a million rows, 200 MB of
/// HTML); then the page is written around them.
pub fn log_book(
    source: &mut dyn RowSource,
    period: Period,
    by: By,
    lang: Lang,
    approvals: &HashMap<String, String>,
    report: impl FnOnce(Figures) -> Report,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let file = tempfile::tempfile().context("cannot make a temporary file for the log book")?;
    let mut spill = BufWriter::with_capacity(1 << 16, file);
    let mut n = 0u64;
    let mut line = String::with_capacity(512);
    let figures = data::figures_and_rows(source, period, by, |row| {
        n += 1;
        line.clear();
        log_row(&mut line, lang, approvals, row);
        spill.write_all(line.as_bytes())
    })?;
    let mut file = spill.into_inner().map_err(|e| e.into_error())?;
    file.seek(SeekFrom::Start(0))?;
    write(&report(figures), n, &mut file, out)
}

/// The page, around `n` rows already formatted in `rows`.
pub fn write(r: &Report, n: u64, rows: &mut dyn Read, out: &mut dyn Write) -> anyhow::Result<()> {
    let w = r.lang.words();
    let f = &r.figures;
    let t = &f.totals;
    let (from, to) = (
        r.lang.date(&f.period.from.to_string()),
        r.lang.date(&f.period.to.to_string()),
    );
    let mut h = String::with_capacity(64 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{book} — {station} — {from} – {to}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>{book}</h1>\n<p class=\"station\">{station}</p>\n\
         <p class=\"period\">{period}: {w_from} {from} {w_to} {to} ({tzw} {tz})</p>\n",
        lang = w.html_lang,
        book = esc(w.log_book),
        station = esc(&r.station_name),
        period = w.period,
        w_from = w.from,
        w_to = w.to,
        tzw = w.time_zone,
        tz = r.tz,
    );

    // The totals a commune reports.
    let _ = write!(
        h,
        "<h2>{}</h2>\n<table class=\"summary\"><tbody>\n",
        w.summary
    );
    let mut fact = |k: &str, v: String| {
        let _ = writeln!(h, "<tr><th>{}</th><td>{v}</td></tr>", esc(k));
    };
    fact(w.items_aired, t.items.to_string());
    fact(w.hours_aired, hms(t.aired_ms));
    let relay = if f.relay.is_empty() {
        w.no_relay.to_string()
    } else {
        let mut s = String::new();
        for (station, ms) in &f.relay {
            let _ = write!(s, "{}: {}<br>", esc(station), hms(*ms));
        }
        let _ = write!(s, "<b>{}: {}</b>", w.total, hms(t.relay_ms));
        s
    };
    fact(w.relay_hours, relay);
    fact(w.emergency, t.emergency_announcements.to_string());
    let silent = r.silent_lines();
    fact(
        w.silent_days,
        if silent.is_empty() {
            w.no_relay.to_string()
        } else {
            silent
                .iter()
                .map(|l| esc(l))
                .collect::<Vec<_>>()
                .join("<br>")
        },
    );
    fact(w.failures, t.failed.to_string());
    fact(
        w.aired_vs_planned,
        format!(
            "{} / {} ({})",
            hms(t.aired_ms),
            hms(t.planned_ms),
            percent(r.lang, t.aired_ms, t.planned_ms)
        ),
    );
    h.push_str("</tbody></table>\n");

    // The groups.
    let _ = write!(
        h,
        "<h2>{} {}</h2>\n<table class=\"groups\"><thead><tr><th>{}</th><th class=\"n\">{}</th>\
         <th class=\"n\">{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th>\
         </tr></thead><tbody>\n",
        capitalised(w.by),
        r.by_label().to_lowercase(),
        r.by_label(),
        w.items,
        w.aired,
        w.planned,
        w.completed,
        w.failed
    );
    let mut group_row = |label: &str, g: &Group, class: &str| {
        let _ = writeln!(
            h,
            "<tr{class}><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(label),
            g.items,
            hms(g.aired_ms),
            hms(g.planned_ms),
            g.completed,
            g.failed
        );
    };
    for g in &f.groups {
        group_row(&r.key_label(g), g, "");
    }
    group_row(w.total, &t.as_group(), " class=\"total\"");
    h.push_str("</tbody></table>\n");
    let _ = writeln!(h, "<p class=\"note\">{}</p>", w.minutes_note);

    // The chart.
    let _ = writeln!(h, "<h2>{}</h2>", w.chart);
    h.push_str("<figure class=\"chart\">\n");
    chart(&mut h, r, &f.per_day);
    h.push_str("</figure>\n");

    // Every row, as it aired.
    let _ = write!(
        h,
        "<h2>{}</h2>\n<table class=\"log\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th>\
         <th>{}</th><th class=\"n\">{}</th><th>{}</th><th>{}</th></tr></thead><tbody>\n",
        w.rows, w.date, w.time, w.title, w.category, w.source, w.aired, w.outcome, w.approved_by
    );
    out.write_all(h.as_bytes())?;
    std::io::copy(rows, out)?;
    let mut h = String::new();
    h.push_str("</tbody></table>\n");
    if n == 0 {
        let _ = writeln!(h, "<p>{}</p>", w.nothing);
    }
    let now = Utc::now().with_timezone(&r.tz);
    let _ = write!(
        h,
        "<div class=\"sign\"><div><b>{}</b><br><i>{}</i><div class=\"space\"></div></div>\
         <div><b>{}</b><br><i>{}</i><div class=\"space\"></div></div></div>\n\
         <p class=\"note\">{}: {} {}</p>\n</body>\n</html>\n",
        w.prepared_by,
        w.sign,
        w.head_of_station,
        w.sign,
        w.printed,
        r.lang.date(&now.date_naive().to_string()),
        now.format("%H:%M"),
    );
    out.write_all(h.as_bytes())?;
    Ok(())
}

/// One `<tr>` of the chronological list (a year of them: no allocation).
fn log_row(o: &mut String, lang: Lang, approvals: &HashMap<String, String>, row: &LogRow<'_>) {
    let date = row.started_at.get(0..10).unwrap_or(row.started_at);
    let time = row.started_at.get(11..19).unwrap_or("");
    o.push_str("<tr><td>");
    lang.push_date(o, date);
    o.push_str("</td><td>");
    o.push_str(time);
    o.push_str("</td><td>");
    push_esc(o, row.title);
    o.push_str("</td><td>");
    push_esc(o, lang.category(row.category));
    o.push_str("</td><td class=\"src\">");
    match row.source_kind {
        "stream" => push_esc(o, row.source),
        "file" => push_esc(o, row.source.rsplit('/').next().unwrap_or(row.source)),
        "tts" => {
            o.push_str(lang.source_kind("tts"));
            o.push_str(": «");
            match row.source.char_indices().nth(60) {
                Some((cut, _)) => {
                    push_esc(o, &row.source[..cut]);
                    o.push('…');
                }
                None => push_esc(o, row.source),
            }
            o.push('»');
        }
        k => push_esc(o, lang.source_kind(k)),
    }
    o.push_str("</td><td class=\"n\">");
    push_hms(o, row.aired_ms);
    let outcome = row.outcome();
    let detail = row.detail.filter(|_| outcome != "completed");
    match detail.map(|d| (d, lang.detail(d))) {
        Some((_, Some(said))) => {
            o.push_str("</td><td>");
            o.push_str(lang.outcome(outcome));
            o.push_str(" — ");
            push_esc(o, &said);
        }
        // A detail the language has no words for: on hover only.
        Some((raw, None)) => {
            o.push_str("</td><td title=\"");
            push_esc(o, raw);
            o.push_str("\">");
            o.push_str(lang.outcome(outcome));
        }
        None => {
            o.push_str("</td><td>");
            o.push_str(lang.outcome(outcome));
        }
    }
    o.push_str("</td><td>");
    match (row.requested_by, row.trigger, row.program_id) {
        (Some(by), _, _) => push_esc(o, by),
        (None, "schedule", Some(p)) => match approvals.get(p) {
            Some(a) => push_esc(o, a),
            None => o.push_str(lang.words().schedule),
        },
        _ => {}
    }
    o.push_str("</td></tr>\n");
}

/// The SVG chart: a bar per day, stacked by category, hours on the y axis.
fn chart(h: &mut String, r: &Report, per_day: &[(String, String, u64)]) {
    let w = r.lang.words();
    let days: Vec<chrono::NaiveDate> = r.figures.period.days().collect();
    let index: HashMap<String, usize> = days
        .iter()
        .enumerate()
        .map(|(i, d)| (d.format("%Y-%m-%d").to_string(), i))
        .collect();
    // Categories, most aired first.
    let mut by_cat: HashMap<&str, u64> = HashMap::new();
    let mut day_total = vec![0u64; days.len()];
    for (d, c, ms) in per_day {
        *by_cat.entry(c.as_str()).or_default() += ms;
        if let Some(&i) = index.get(d) {
            day_total[i] += ms;
        }
    }
    let mut cats: Vec<(&str, u64)> = by_cat.into_iter().collect();
    cats.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let colour = |c: &str| {
        let i = cats.iter().position(|k| k.0 == c).unwrap_or(0);
        COLOURS[i % COLOURS.len()]
    };

    // Geometry.
    let (width, plot_h) = (720.0_f64, 260.0_f64);
    let (left, right, top) = (52.0, 12.0, 12.0);
    let plot_w = width - left - right;
    let per_legend_row = 3;
    let legend_rows = cats.len().div_ceil(per_legend_row).max(1);
    let height = top + plot_h + 44.0 + 20.0 * legend_rows as f64;
    let max_h = day_total.iter().copied().max().unwrap_or(0) as f64 / 3_600_000.0;
    let step = [0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 24.0]
        .into_iter()
        .find(|s| max_h / s <= 6.0)
        .unwrap_or(24.0);
    let top_h = ((max_h / step).ceil() * step).max(step);
    let y = |hours: f64| top + plot_h - hours / top_h * plot_h;
    let n = days.len().max(1) as f64;
    let slot = plot_w / n;
    let bar = (slot * 0.8).max(0.5);

    let _ = write!(
        h,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" role=\"img\" \
         aria-label=\"{}\" font-family=\"sans-serif\" font-size=\"10\">\n<title>{}</title>\n",
        esc(w.chart),
        esc(w.chart)
    );
    // Grid and y axis.
    let mut v = 0.0;
    while v <= top_h + 1e-9 {
        let yy = y(v);
        let label = if step < 1.0 {
            format!("{v:.2}")
        } else {
            format!("{v:.0}")
        };
        let _ = writeln!(
            h,
            "<line x1=\"{left}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#ccc\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{label}</text>",
            left + plot_w,
            left - 4.0,
            yy + 3.5
        );
        v += step;
    }
    let _ = writeln!(
        h,
        "<text transform=\"translate(12 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
        top + plot_h / 2.0,
        esc(w.hours_axis)
    );
    // Bars.
    let mut stacked = vec![0u64; days.len()];
    let mut rows: Vec<&(String, String, u64)> = per_day.iter().collect();
    let rank = |c: &str| cats.iter().position(|k| k.0 == c).unwrap_or(usize::MAX);
    rows.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| rank(&a.1).cmp(&rank(&b.1))));
    for (d, c, ms) in rows {
        let Some(&i) = index.get(d) else { continue };
        if *ms == 0 {
            continue;
        }
        let y0 = y(stacked[i] as f64 / 3_600_000.0);
        stacked[i] += ms;
        let y1 = y(stacked[i] as f64 / 3_600_000.0);
        let _ = writeln!(
            h,
            "<rect x=\"{:.2}\" y=\"{y1:.2}\" width=\"{bar:.2}\" height=\"{:.2}\" fill=\"{}\">\
             <title>{} — {}: {}</title></rect>",
            left + slot * i as f64 + (slot - bar) / 2.0,
            y0 - y1,
            colour(c),
            r.lang.date(d),
            esc(r.lang.category(c)),
            hms(*ms)
        );
    }
    // X axis and its labels.
    let base = top + plot_h;
    let _ = writeln!(
        h,
        "<line x1=\"{left}\" y1=\"{base}\" x2=\"{:.1}\" y2=\"{base}\" stroke=\"#000\"/>\
         <line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{base}\" stroke=\"#000\"/>",
        left + plot_w
    );
    let short = days.len() <= 62;
    let label_w = if short { 16.0 } else { 34.0 };
    let every = ((label_w / slot).ceil() as usize).max(1);
    for (i, d) in days.iter().enumerate() {
        let label = if short {
            d.day().to_string()
        } else if i % every == 0 {
            format!("{:02}/{:02}", d.day(), d.month())
        } else {
            continue;
        };
        if short && i % every != 0 {
            continue;
        }
        let _ = writeln!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>",
            left + slot * (i as f64 + 0.5),
            base + 13.0
        );
    }
    let _ = writeln!(
        h,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
        left + plot_w / 2.0,
        base + 28.0,
        esc(w.day_axis)
    );
    // Legend.
    let col_w = plot_w / per_legend_row as f64;
    for (k, (c, ms)) in cats.iter().enumerate() {
        let x = left + col_w * (k % per_legend_row) as f64;
        let yy = base + 40.0 + 20.0 * (k / per_legend_row) as f64;
        let _ = writeln!(
            h,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{} ({})</text>",
            yy - 10.0,
            colour(c),
            x + 16.0,
            yy,
            esc(r.lang.category(c)),
            hms(*ms)
        );
    }
    h.push_str("</svg>\n");
}

#[cfg(test)]
mod tests {
    use super::super::data::tests::{november, rows, NOV, TZ};
    use super::*;

    fn html(lang: Lang) -> String {
        let dir = tempfile::tempdir().unwrap();
        let conn = rusqlite::Connection::open(november(dir.path())).unwrap();
        let approvals = HashMap::from([("vov1".to_string(), "Nguyễn Văn A".to_string())]);
        let mut v = Vec::new();
        let report = |figures| Report {
            station_id: "au-lau".into(),
            station_name: "Đài truyền thanh xã Âu Lâu".into(),
            tz: TZ,
            lang,
            figures,
        };
        log_book(
            &mut rows(&conn),
            NOV,
            By::Category,
            lang,
            &approvals,
            report,
            &mut v,
        )
        .unwrap();
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn the_log_book_in_vietnamese() {
        let h = html(Lang::Vi);
        assert!(h.starts_with("<!DOCTYPE html>\n<html lang=\"vi\">"));
        for s in [
            "<h1>Sổ nhật ký chương trình</h1>",
            "Đài truyền thanh xã Âu Lâu",
            "từ 01/11/2026 đến 30/11/2026",
            "<tr><th>Số mục đã phát</th><td>6</td></tr>",
            "<tr><th>Thông báo khẩn cấp</th><td>1</td></tr>",
            "vov1: 0:58:20",
            "1:14:58 / 1:26:38 (86,5 %)",
            "@page { size: A4;",
            "Người lập sổ",
        ] {
            assert!(h.contains(s), "missing {s:?}");
        }
        assert!(!h.contains("Programme log book"));
        // The chart: one bar per (day, category) with airtime, a legend, axes.
        let svg = &h[h.find("<svg").unwrap()..h.find("</svg>").unwrap()];
        assert_eq!(svg.matches("<rect").count(), 5 + 4, "{svg}");
        assert!(svg.contains(">Giờ</text>") && svg.contains(">Ngày</text>"));
        assert!(svg.contains(">Tiếp sóng (0:58:20)</text>"), "{svg}");
        // Every row, in order, with who approved or asked for it.
        let log = &h[h.find("<table class=\"log\">").unwrap()..];
        assert_eq!(log.matches("<tr><td>").count(), 11);
        assert!(log.contains("<td>30/11/2026</td><td>23:30:00</td><td>vov1</td><td>Tiếp sóng</td>"));
        assert!(log.contains("Nguyễn Văn A"));
        assert!(log.contains("chu-tich-xa"));
        // A detail Vietnamese has no words for is left to the hover, not mixed in.
        assert!(log.contains("<td title=\"x\">lỗi</td>"), "{log}");
        assert!(
            !h.contains("http://vov1.example/live.m3u:"),
            "relay hours by URL"
        );
    }

    #[test]
    fn the_log_book_in_english() {
        let h = html(Lang::En);
        assert!(h.contains("<h1>Programme log book</h1>"));
        assert!(h.contains("1:14:58 / 1:26:38 (86.5%)"));
        assert!(h.contains("from 2026-11-01 to 2026-11-30"));
        assert!(!h.contains("Sổ nhật ký"));
    }

    /// The book of a relay that aired its window: the relayed station by
    /// name, its rows completed, and Vietnamese details only.
    #[test]
    fn a_relay_that_aired_its_window_reads_completed_in_vietnamese() {
        use crate::runtime::airtime::{AirtimeLog, Outcome};
        use chrono::TimeDelta;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("airtime.sqlite");
        let (mut log, _) = AirtimeLog::open(&path, "au-lau", TZ).unwrap();
        let start = data::tests::at(11, 3, 6, 0);
        let end = start + TimeDelta::minutes(30);
        let mut relay = data::tests::row(Some("vov1"), "relay", "stream", start, 1_800_000);
        relay.title = "Tiếp sóng Đài Tiếng nói Việt Nam".into();
        log.record(&relay, end, 1_800_000, Outcome::Cut, Some("window closed"))
            .unwrap();
        let news = data::tests::row(Some("tin"), "news", "file", end, 600_000);
        log.record(
            &news,
            end + TimeDelta::minutes(5),
            300_000,
            Outcome::Cut,
            Some("window closed"),
        )
        .unwrap();
        drop(log);
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mut v = Vec::new();
        let report = |figures| Report {
            station_id: "au-lau".into(),
            station_name: "Âu Lâu".into(),
            tz: TZ,
            lang: Lang::Vi,
            figures,
        };
        log_book(
            &mut rows(&conn),
            NOV,
            By::Category,
            Lang::Vi,
            &HashMap::new(),
            report,
            &mut v,
        )
        .unwrap();
        let h = String::from_utf8(v).unwrap();
        assert!(
            h.contains("Tiếp sóng Đài Tiếng nói Việt Nam: 0:30:00"),
            "{h}"
        );
        let log = &h[h.find("<table class=\"log\">").unwrap()..];
        assert!(
            log.contains("<td class=\"n\">0:30:00</td><td>hoàn thành</td>"),
            "{log}"
        );
        assert!(log.contains("bị cắt — hết khung giờ phát"), "{log}");
        assert!(!h.contains("window closed"), "{h}");
        // Relay: 1 item of 1 completed; news: 1 item, cut.
        let groups = &h[h.find("<table class=\"groups\">").unwrap()..];
        assert!(groups.contains("<td>Tiếp sóng</td><td class=\"n\">1</td><td class=\"n\">0:30:00</td><td class=\"n\">0:30:00</td><td class=\"n\">1</td>"), "{groups}");
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
