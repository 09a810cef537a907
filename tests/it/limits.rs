//! Bandwidth limits through the binary: `limits show|set`, `run --bwlimit`,
//! and a real engine moving bytes to and from a real local provider under
//! them. The times asserted are floors (a limit can only make a transfer
//! slower than its rate allows, whatever the machine) and, for a limit
//! lifted mid-run, a ceiling many times what the transfer needs.

use std::time::{Duration, Instant};

use crate::common::{TempLib, assert_no_panic, hash_of, object_path, stderr};

const M: usize = 1 << 20;

fn show(lib: &TempLib) -> serde_json::Value {
    let o = lib.ok(&["limits", "show", "--json"]);
    serde_json::from_slice(&o.stdout).expect("limits show --json is JSON")
}

#[test]
fn limits_are_set_shown_and_refused_with_the_reason() {
    let lib = TempLib::new();
    let v = show(&lib);
    assert_eq!(v["library"]["up_bps"], serde_json::Value::Null);
    assert_eq!(
        v["providers"][0]["now"]["down_bps"],
        serde_json::Value::Null
    );

    lib.ok(&["limits", "set", "--up", "5M", "--down", "512K"]);
    let name = show(&lib)["providers"][0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    lib.ok(&["limits", "set", "--provider", &name, "--up", "1M"]);
    let v = show(&lib);
    assert_eq!(v["library"]["up_bps"], 5 << 20);
    assert_eq!(v["library"]["down_bps"], 512 << 10);
    assert_eq!(v["library"]["now"]["up_bps"], 5 << 20);
    assert_eq!(v["providers"][0]["up_bps"], 1 << 20);
    assert_eq!(v["providers"][0]["down_bps"], serde_json::Value::Null);

    // Every day at 00:00 the same rate: whatever the time now, it holds.
    lib.ok(&["limits", "set", "--schedule", "00:00,2M:off"]);
    let v = show(&lib);
    assert_eq!(v["library"]["schedule"], "00:00,2M:off");
    assert_eq!(v["library"]["now"]["up_bps"], 2 << 20);
    assert_eq!(v["library"]["now"]["down_bps"], serde_json::Value::Null);
    let text = String::from_utf8(lib.ok(&["limits", "show"]).stdout).unwrap();
    assert!(text.contains("by the timetable 00:00,2M:off"), "{text}");
    lib.ok(&["limits", "set", "--schedule", "off", "--up", "off"]);
    let v = show(&lib);
    assert_eq!(v["library"]["schedule"], serde_json::Value::Null);
    assert_eq!(v["library"]["up_bps"], serde_json::Value::Null);
    assert_eq!(v["library"]["down_bps"], 512 << 10, "left as it was");

    for (args, why) in [
        (vec!["limits", "set"], "say what to set"),
        (vec!["limits", "set", "--up", "fast"], "not a rate"),
        (vec!["limits", "set", "--schedule", "Mon-25:00,1M"], "HH:MM"),
        (
            vec!["limits", "set", "--schedule", "Sat-08:00"],
            "TIME,RATE",
        ),
        (
            vec!["limits", "set", "--provider", "nope", "--up", "1M"],
            "no provider named 'nope'",
        ),
        (
            vec!["run", "--until-idle", "--bwlimit", "lots"],
            "not a rate",
        ),
    ] {
        // (Bad values are refused by the argument parser, the rest by
        // Breakdex; both with the reason.)
        let o = lib.exec(&args);
        assert_no_panic(&o);
        assert!(!o.status.success(), "{args:?} should fail");
        assert!(stderr(&o).contains(why), "{args:?}: {}", stderr(&o));
    }
}

/// A 3 MiB file added; its path.
fn three_mib(lib: &TempLib) -> std::path::PathBuf {
    let f = lib.write_file("photos/big.raw", 3 * M, 11);
    lib.ok(&["add", f.to_str().unwrap()]);
    f
}

#[test]
fn a_kept_upload_limit_and_a_runs_cap_hold_both_ways() {
    let lib = TempLib::new();
    let f = three_mib(&lib);
    let hash = hash_of(&f);
    lib.ok(&["limits", "set", "--up", "1M"]);
    let began = Instant::now();
    lib.ok(&["run", "--until-idle"]);
    let took = began.elapsed();
    // 3 MiB at 1 MiB/s, after a bucket of a tenth of a second: 2.9 s.
    assert!(took >= Duration::from_millis(2_800), "uploaded in {took:?}");
    let copy = object_path(&lib.backup_root(), &hash);
    assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(&f).unwrap());

    // Verification reads count as downloads: under the run's cap.
    let name = show(&lib)["providers"][0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    lib.ok(&["limits", "set", "--up", "off"]);
    lib.ok(&["enqueue", "verify", "--provider", &name]);
    let began = Instant::now();
    lib.ok(&["run", "--until-idle", "--bwlimit", "1M"]);
    let took = began.elapsed();
    assert!(took >= Duration::from_millis(2_800), "verified in {took:?}");
    let ops = lib.ops_json();
    assert!(
        ops.iter()
            .any(|o| o["operation_type"] == "verify" && o["status"] == "completed"),
        "{ops:?}"
    );
}

#[test]
fn a_limit_lifted_while_an_upload_runs_holds_within_a_second() {
    let lib = TempLib::new();
    let f = lib.write_file("photos/huge.raw", 8 * M, 12);
    lib.ok(&["add", f.to_str().unwrap()]);
    // 8 MiB at 256 KiB/s: 32 s.
    lib.ok(&["limits", "set", "--up", "256K"]);
    let mut engine = lib
        .cmd()
        .arg("run")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run");
    let copy = object_path(&lib.backup_root(), &hash_of(&f));
    std::thread::sleep(Duration::from_secs(2));
    assert!(!copy.exists(), "not up yet at 256 KiB/s");
    lib.ok(&["limits", "set", "--up", "off"]);
    let lifted = Instant::now();
    while !copy.exists() && lifted.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let took = lifted.elapsed();
    let _ = engine.kill();
    let _ = engine.wait();
    // At the old rate the rest would take 29 s more.
    assert!(
        copy.exists() && took < Duration::from_secs(15),
        "landed {took:?} after"
    );
    assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(&f).unwrap());
}

/// The status bar says the limits in force and its menu changes the
/// library's: what the engine and `limits show` then read.
#[test]
fn the_status_bar_shows_and_changes_the_librarys_limits() {
    use egui_kittest::kittest::Queryable;
    let lib = TempLib::new();
    crate::ui::library(&lib);
    let mut h = crate::ui::harness(&lib.db());
    crate::ui::settle(&mut h, "first load", crate::ui::loaded);
    h.get_by_label("no limit").click();
    h.run_steps(2);
    // The uploads' choices come first, then the downloads'.
    h.query_all_by_label("5M/s")
        .next()
        .expect("a 5M/s choice")
        .click();
    crate::ui::settle_on(&mut h, "the limit is shown", |h| {
        h.query_by_label("limit: up 5M/s, down off").is_some()
    });
    assert_eq!(show(&lib)["library"]["up_bps"], 5 << 20);
    h.get_by_label("limit: up 5M/s, down off").click();
    h.run_steps(2);
    h.query_all_by_label("no limit")
        .next()
        .expect("uploads: no limit")
        .click();
    crate::ui::settle_on(&mut h, "the limit is gone", |h| {
        h.query_all_by_label("no limit").count() == 1
    });
    assert_eq!(show(&lib)["library"]["up_bps"], serde_json::Value::Null);
}

/// A provider's own limit shows in the providers window, and a kept
/// timetable that cannot be read is said in the status bar (its reason in
/// the tooltip), not only in the log.
#[test]
fn the_window_shows_a_providers_limit_and_a_timetable_it_cannot_read() {
    use egui_kittest::kittest::Queryable;
    let lib = TempLib::new();
    crate::ui::library(&lib);
    lib.ok(&["limits", "set", "--provider", "beta-nas", "--up", "1M"]);
    let c = rusqlite::Connection::open(lib.db()).unwrap();
    c.execute(
        "INSERT INTO library_settings (key, value) VALUES ('limit_schedule', 'Mon-25:00,1M')",
        [],
    )
    .unwrap();
    drop(c);
    let problems = show(&lib)["problems"].clone();
    assert!(
        problems.to_string().contains("cannot be read"),
        "{problems}"
    );

    let mut h = crate::ui::harness(&lib.db());
    crate::ui::settle(&mut h, "first load", crate::ui::loaded);
    crate::ui::settle_on(&mut h, "the timetable's problem is shown", |h| {
        h.query_by_label("⚠ timetable").is_some()
    });
    h.get_by_label("🗄 Providers").click();
    crate::ui::settle_on(&mut h, "the provider's limit is shown", |h| {
        h.query_by_label_contains("local · limit up 1M/s, down off · ")
            .is_some()
    });
}

/// No more large uploads to a local folder run at once than the machine
/// has cores (issue 14, part 5), whatever the concurrency allows: looked
/// at through their temporary files while a limit keeps them moving.
#[test]
fn large_local_uploads_run_no_more_at_once_than_the_cores() {
    let lib = TempLib::new();
    let files: Vec<_> = (0..6)
        .map(|i| lib.write_file(&format!("video/take-{i}.mov"), 3 * M / 2, 60 + i))
        .collect();
    lib.ok(&["add", lib.path("video").to_str().unwrap()]);
    lib.ok(&["limits", "set", "--up", "4M"]);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let temps = lib.backup_root().join(".breakdex-tmp");
    let mut run = lib
        .cmd()
        .args(["run", "--until-idle", "--concurrency", "8"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run");
    let mut most = 0;
    while run.try_wait().unwrap().is_none() {
        let uploading = (std::fs::read_dir(&temps).into_iter().flatten().flatten())
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.ends_with(".part") && !name.starts_with("catalog-")
            })
            .count();
        most = most.max(uploading);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(run.wait().unwrap().success());
    assert!(
        (1..=cores).contains(&most),
        "{most} at once on {cores} cores"
    );
    for f in &files {
        let copy = object_path(&lib.backup_root(), &hash_of(f));
        assert_eq!(std::fs::read(copy).unwrap(), std::fs::read(f).unwrap());
    }
}
