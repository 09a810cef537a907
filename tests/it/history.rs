//! The queue's history through the real binary: per provider, per day
//! totals are kept as the engine reports, completed ops past the retention
//! are removed (by `history prune` and by every engine run) while the
//! totals stay, and what waits for a person (ops failed for good,
//! cancelled, deletes of copies) is never removed.

use serde_json::Value;

use crate::common::{TempLib, assert_success, output_of, run_summary, stdout};

fn run(lib: &TempLib) -> std::process::Output {
    output_of(
        lib.cmd()
            .args(["run", "--until-idle"])
            .env("BREAKDEX_RETRY_BASE_MS", "20"),
    )
}

fn show(lib: &TempLib) -> Value {
    serde_json::from_slice(&lib.ok(&["history", "show", "--json"]).stdout).unwrap()
}

/// The provider's totals summed over the days shown.
fn total(lib: &TempLib, field: &str) -> i64 {
    show(lib)["daily"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d[field].as_i64().unwrap())
        .sum()
}

/// Moves the end of every op matching `filter` 40 days back.
fn age(lib: &TempLib, filter: &str) -> usize {
    rusqlite::Connection::open(lib.db())
        .unwrap()
        .execute(
            &format!(
                "UPDATE sync_operations SET finished_at = strftime('%Y-%m-%d %H:%M:%f', 'now', '-40 days'),
                     completed_at = CASE WHEN completed_at IS NULL THEN NULL
                                    ELSE strftime('%Y-%m-%d %H:%M:%f', 'now', '-40 days') END
                 WHERE {filter}"
            ),
            [],
        )
        .unwrap()
}

fn op_count(lib: &TempLib) -> usize {
    lib.ops_json().len()
}

/// A library with three files uploaded, one of them deleted from the
/// provider again, and one upload that failed for good (its file gone).
fn library_with_history(lib: &TempLib) {
    let files: Vec<_> = (0..3)
        .map(|i| lib.write_file(&format!("in/f{i}.bin"), 1000 * (i + 1), i as u64))
        .collect();
    let doomed = lib.write_file("in/doomed.bin", 500, 9);
    lib.ok(&["add", lib.path("in").to_str().unwrap()]);
    std::fs::remove_file(&doomed).unwrap();
    let o = run(lib);
    let summary = run_summary(&o);
    assert_eq!(
        (summary["completed"].as_i64(), summary["failed"].as_i64()),
        (Some(3), Some(1))
    );
    let hash = crate::common::hash_of(&files[0]);
    lib.ok(&[
        "enqueue",
        "delete_remote",
        "--provider",
        "local-backup",
        "--hash",
        &hash,
    ]);
    assert_success(&run(lib), "run the delete");
}

#[test]
fn totals_per_provider_and_day_are_kept_as_the_engine_reports() {
    let lib = TempLib::new();
    library_with_history(&lib);
    let shown = show(&lib);
    assert_eq!(shown["keep_secs"], 30 * 86_400);
    let daily = shown["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 1, "one provider, one day: {shown}");
    assert_eq!(daily[0]["provider"], "local-backup");
    assert_eq!(daily[0]["uploaded_ops"], 3);
    assert_eq!(daily[0]["uploaded_bytes"], 1000 + 2000 + 3000);
    assert_eq!(daily[0]["deleted_ops"], 1);
    assert!(
        daily[0]["failed_attempts"].as_i64().unwrap() >= 1,
        "the missing file's upload failed: {shown}"
    );
    let text = stdout(&lib.ok(&["history", "show"]));
    assert!(text.contains("kept for 30d"), "{text}");
    assert!(text.contains("uploaded 3 (6.0 kB)"), "{text}");
}

#[test]
fn prune_removes_completed_ops_past_the_retention_and_keeps_the_totals() {
    let lib = TempLib::new();
    library_with_history(&lib);
    let before = op_count(&lib);
    let uploads_before = total(&lib, "uploaded_ops");
    // Everything ended 40 days ago: the completed uploads go; the failed
    // upload and the completed delete stay.
    age(&lib, "1");
    let o = lib.ok(&["history", "prune"]);
    assert_eq!(
        stdout(&o).trim(),
        "removed 3 completed ops past the retention"
    );
    let left = lib.ops_json();
    assert_eq!(left.len(), before - 3, "{left:?}");
    assert!(
        left.iter()
            .any(|op| op["operation_type"] == "delete_remote"),
        "{left:?}"
    );
    assert!(left.iter().any(|op| op["status"] == "failed"), "{left:?}");
    assert!(
        !left
            .iter()
            .any(|op| op["status"] == "completed" && op["operation_type"] != "delete_remote")
    );
    assert_eq!(total(&lib, "uploaded_ops"), uploads_before);
    // Nothing more is due.
    let o = lib.ok(&["history", "prune"]);
    assert_eq!(
        stdout(&o).trim(),
        "removed 0 completed ops past the retention"
    );
}

#[test]
fn an_engine_run_removes_what_is_past_the_retention_and_keep_off_keeps_all() {
    let lib = TempLib::new();
    library_with_history(&lib);
    let before = op_count(&lib);
    lib.ok(&["history", "set", "--keep", "off"]);
    age(&lib, "status = 'completed'");
    let o = run(&lib);
    assert_success(&o, "run with every op kept");
    assert_eq!(run_summary(&o)["history_removed"], 0);
    assert_eq!(op_count(&lib), before);
    assert!(show(&lib)["keep_secs"].is_null());

    lib.ok(&["history", "set", "--keep", "7d"]);
    let o = run(&lib);
    assert_success(&o, "run");
    assert_eq!(run_summary(&o)["history_removed"], 3);
    assert_eq!(op_count(&lib), before - 3);

    let o = lib.exec(&["history", "set", "--keep", "soon"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        crate::common::stderr(&o).contains("\"soon\" is not a duration"),
        "{}",
        crate::common::stderr(&o)
    );
    assert_eq!(show(&lib)["keep_secs"], 7 * 86_400);
}
