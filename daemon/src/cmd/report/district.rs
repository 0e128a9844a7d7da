//! The district's rows: the PostgreSQL book `loa collect` writes, read for
//! `loa report --db postgres://...`. Only the rows' source differs from a
//! station's report; [`super::data`] counts them the same way.

use anyhow::Context;
use tokio_postgres::Client;

use super::data::{KnownStation, LogRow, Period, RowSource};
use crate::cmd::collect::store;

/// Rows read at a time from the server (a year of a province is tens of
/// millions: never all in memory).
const CHUNK: i32 = 20_000;

/// The district book, for the stations asked for (None: all).
pub struct PgRows {
    runtime: tokio::runtime::Runtime,
    client: Client,
    stations: Option<Vec<String>>,
    url: String,
}

impl PgRows {
    pub fn connect(url: &str, stations: Option<Vec<String>>) -> anyhow::Result<PgRows> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let client = runtime.block_on(store::connect(url, None))?;
        let has_book: bool = runtime
            .block_on(client.query_one("SELECT to_regclass('airtime') IS NOT NULL", &[]))
            .with_context(|| format!("{}: cannot read the district book", store::redacted(url)))?
            .get(0);
        if !has_book {
            anyhow::bail!(
                "{}: no district book there (no table `airtime`); `loa collect` makes it",
                store::redacted(url)
            );
        }
        Ok(PgRows {
            runtime,
            client,
            stations,
            url: url.to_string(),
        })
    }
}

impl RowSource for PgRows {
    fn rows(
        &mut self,
        period: Period,
        ordered: bool,
        each: &mut dyn FnMut(&LogRow<'_>) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let (lo, hi) = period.bounds();
        let sql = format!(
            r#"SELECT station, id, started_at, scheduled_at, title, category, source_kind, source,
                   priority, aired_ms, planned_ms, outcome, "trigger", requested_by, program_id,
                   detail
               FROM airtime
               WHERE started_at >= $1 AND started_at < $2
                 AND ($3::text[] IS NULL OR station = ANY($3))
               {}"#,
            if ordered {
                "ORDER BY started_at, station, id"
            } else {
                ""
            }
        );
        let stations = &self.stations;
        let client = &mut self.client;
        let url = &self.url;
        self.runtime
            .block_on(async move {
                let tx = client.transaction().await?;
                let portal = tx.bind(sql.as_str(), &[&lo, &hi, stations]).await?;
                loop {
                    let rows = tx.query_portal(&portal, CHUNK).await?;
                    if rows.is_empty() {
                        break;
                    }
                    for r in &rows {
                        let ms = |i: usize| r.get::<_, i64>(i).max(0) as u64;
                        each(&LogRow {
                            station: r.get(0),
                            id: r.get(1),
                            started_at: r.get(2),
                            scheduled_at: r.get(3),
                            title: r.get(4),
                            category: r.get(5),
                            source_kind: r.get(6),
                            source: r.get(7),
                            priority: r.get(8),
                            aired_ms: ms(9),
                            planned_ms: ms(10),
                            outcome: r.get(11),
                            trigger: r.get(12),
                            requested_by: r.get(13),
                            program_id: r.get(14),
                            detail: r.get(15),
                        })?;
                    }
                }
                tx.commit().await?;
                Ok::<(), anyhow::Error>(())
            })
            .with_context(|| format!("{}: cannot read the district book", store::redacted(url)))
    }

    /// The stations asked for, or every station the collector has heard
    /// from; with the local day each went offline, if its status says so.
    fn stations(&mut self) -> anyhow::Result<Vec<KnownStation>> {
        let rows = self
            .runtime
            .block_on(self.client.query(
                "SELECT ids.s, CASE WHEN st.state = 'offline'
                        THEN to_char(st.since AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYYY-MM-DD') END
                 FROM (SELECT station AS s FROM station WHERE $1::text[] IS NULL
                       UNION SELECT unnest($1::text[])) AS ids
                 LEFT JOIN station AS st ON st.station = ids.s
                 ORDER BY ids.s",
                &[&self.stations],
            ))
            .with_context(|| {
                format!(
                    "{}: cannot read the stations' state",
                    store::redacted(&self.url)
                )
            })?;
        Ok(rows
            .iter()
            .map(|r| KnownStation {
                id: r.get(0),
                offline_since: r.get::<_, Option<String>>(1).and_then(|d| d.parse().ok()),
            })
            .collect())
    }
}
