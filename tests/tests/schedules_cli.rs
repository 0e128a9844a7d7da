//! `loa check`, `loa agenda` and `loa schema`, run as the operator runs them.

use loa_e2e::{example_station, loa, repo, stderr, stdout};

const BIN: &str = env!("CARGO_BIN_EXE_loa");

#[test]
fn the_example_station_is_valid_without_warnings() {
    let st = example_station();
    let dir = st.path().to_str().unwrap();
    let out = loa(BIN, &["check", "--config", dir]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(
        text.contains("valid: 5 programs, 6 slogans, 4 zones, 2 boards"),
        "{text}"
    );
    assert!(!text.contains("warning"), "{text}");

    let out = loa(BIN, &["check", "--config", dir, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"valid": true, "errors": [], "warnings": []})
    );
}

#[test]
fn mistakes_are_reported_with_file_line_column_and_exit_1() {
    let st = example_station();
    let file = st.path().join("schedules/10-hang-ngay.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let broken = text
        .replacen(
            "    title: \"Tiếp sóng VOV1",
            "    tittle: \"Tiếp sóng VOV1",
            1,
        )
        .replacen(
            "zones: [thon-1, thon-2, thon-3]",
            "zones: [thon-1, thon-2, thon-5]",
            1,
        );
    std::fs::write(&file, &broken).unwrap();
    let line_of =
        |needle: &str| broken.lines().position(|l| l.contains(needle)).unwrap() as u64 + 1;
    let dir = st.path().to_str().unwrap();

    let out = loa(BIN, &["check", "--config", dir, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_eq!(errors[0]["file"], "schedules/10-hang-ngay.yaml");
    assert_eq!(errors[0]["line"], line_of("tittle"));
    assert_eq!(errors[0]["column"], 5);
    assert!(errors[0]["message"]
        .as_str()
        .unwrap()
        .contains("did you mean `title`?"));
    assert_eq!(errors[1]["line"], line_of("thon-5"));
    assert!(errors[1]["message"]
        .as_str()
        .unwrap()
        .contains("unknown zone `thon-5`"));

    let out = loa(BIN, &["check", "--config", dir]);
    assert_eq!(out.status.code(), Some(1));
    let first = stdout(&out).lines().next().unwrap().to_string();
    assert_eq!(
        first,
        format!(
            "schedules/10-hang-ngay.yaml:{}:5: unknown key `tittle` in program; did you mean `title`?",
            line_of("tittle")
        )
    );
}

#[test]
fn a_missing_config_directory_is_one_clear_line() {
    let out = loa(BIN, &["check", "--config", "/nonexistent/loa"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.starts_with("station.yaml:1:1: cannot read the file"),
        "{text}"
    );
    assert!(text.contains("--config"), "{text}");
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["check", "--format", "xml"][..],
        &["agenda", "--date", "2026-13-01"],
        &["agenda", "--from", "2026-12-01"],
        &["frobnicate"],
    ] {
        let out = loa(BIN, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn the_agenda_of_a_monday_and_a_saturday() {
    let st = example_station();
    let dir = st.path().to_str().unwrap();
    let out = loa(
        BIN,
        &[
            "agenda",
            "--config",
            dir,
            "--date",
            "2026-12-07",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let got: Vec<(String, String, String)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["program"].as_str().unwrap().to_string(),
                e["start"].as_str().unwrap().to_string(),
                e["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("phien-sang", "2026-12-07T05:30:00+07:00"),
        ("vov1-sang", "2026-12-07T06:00:00+07:00"),
        ("thoi-su-xa", "2026-12-07T17:00:00+07:00"),
        ("tiep-song-tinh", "2026-12-07T17:30:00+07:00"),
    ];
    assert_eq!(got.len(), want.len(), "{got:?}");
    for ((p, s, o), (wp, ws)) in got.iter().zip(want) {
        assert_eq!((p.as_str(), s.as_str(), o.as_str()), (wp, ws, "airs"));
    }
    // The relay has a hard window of 30 minutes.
    assert_eq!(v[1]["end"], "2026-12-07T06:30:00+07:00");
    assert_eq!(
        v[3]["zones"],
        serde_json::json!(["thon-1", "thon-2", "thon-3"])
    );

    let out = loa(BIN, &["agenda", "--config", dir, "--date", "2026-12-12"]);
    let text = stdout(&out);
    assert!(text.contains("Saturday 2026-12-12"), "{text}");
    assert!(text.contains("16:00-"), "{text}");
    assert!(text.contains("Ca nhạc cuối tuần"), "{text}");
    assert!(!text.contains("Chương trình thời sự xã"), "{text}");
}

#[test]
fn a_week_of_agenda_counts_every_occurrence() {
    let st = example_station();
    let dir = st.path().to_str().unwrap();
    let out = loa(
        BIN,
        &[
            "agenda",
            "--config",
            dir,
            "--from",
            "2026-12-07",
            "--to",
            "2026-12-13",
            "--format",
            "json",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let count = |id: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["program"] == id)
            .count()
    };
    assert_eq!(count("phien-sang"), 7);
    assert_eq!(count("vov1-sang"), 7);
    assert_eq!(count("thoi-su-xa"), 3);
    assert_eq!(count("tiep-song-tinh"), 7);
    assert_eq!(count("nhac-cuoi-tuan"), 2);
}

#[test]
fn the_committed_schemas_are_what_loa_schema_prints() {
    for kind in ["station", "schedule"] {
        let out = loa(BIN, &["schema", "--kind", kind]);
        assert_eq!(out.status.code(), Some(0));
        let path = repo().join(format!("deploy/schema/{kind}.schema.json"));
        let committed = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            stdout(&out),
            committed,
            "{} is stale: run `loa schema --kind {kind} > {}`",
            path.display(),
            path.display()
        );
    }
}

/// `loa --help` and every command's help are complete: each has examples.
#[test]
fn every_command_helps_with_examples() {
    let top = stdout(&loa(BIN, &["--help"]));
    assert!(top.contains("Examples:"), "{top}");
    let commands: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .filter(|c| c != "help")
        .collect();
    for expected in [
        "run", "check", "agenda", "now", "stop", "status", "report", "doctor",
    ] {
        assert!(
            commands.iter().any(|c| c == expected),
            "`{expected}` missing from loa --help"
        );
    }
    for c in &commands {
        let out = loa(BIN, &[c, "--help"]);
        assert!(out.status.success(), "loa {c} --help failed");
        let text = stdout(&out);
        assert!(
            text.contains("\nExamples:\n  "),
            "loa {c} --help has no examples:\n{text}"
        );
    }
}
