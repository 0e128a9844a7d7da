//! `loa schema`: JSON Schema of the configuration files, for editors.

use std::process::ExitCode;

use loa_schedules::schema::{schedule_schema, station_schema};

use crate::cli::{SchemaArgs, SchemaKind};

pub fn run(args: &SchemaArgs) -> anyhow::Result<ExitCode> {
    let v = match args.kind {
        SchemaKind::Station => station_schema(),
        SchemaKind::Schedule => schedule_schema(),
        SchemaKind::Both => serde_json::json!({
            "station": station_schema(),
            "schedule": schedule_schema(),
        }),
    };
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(ExitCode::SUCCESS)
}
