//! Copy health through the real binary and real folders: the copy-count
//! policy makes exactly the copies it asks for, a scrub finds a corrupt
//! copy and the engine repairs it, a removed provider's copies are made
//! again, and an unplugged drive's copies are not, before its grace time.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::common::{TempLib, assert_no_panic, hash_of, object_path, output_of};

fn arg(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A library with the default provider and two more local folders, `nas`
/// and `usb`, and three files of different sizes.
fn library_of_three(lib: &TempLib) -> Vec<std::path::PathBuf> {
    for name in ["nas", "usb"] {
        let root = lib.path(name);
        lib.ok(&["provider", "add", "local", name, "--root", arg(&root)]);
    }
    let files = lib.path("photos");
    std::fs::create_dir_all(&files).unwrap();
    (1..=3)
        .map(|i| {
            let f = files.join(format!("IMG_{i:04}.jpg"));
            std::fs::write(&f, crate::common::pseudo_random(10_000 * i, i as u64)).unwrap();
            f
        })
        .collect()
}

/// [`library_of_three`] with `--min-copies 2`, added for nas and run: the
/// policy's second copies made.
fn two_copies_each(lib: &TempLib) -> Vec<std::path::PathBuf> {
    let files = library_of_three(lib);
    lib.ok(&["policy", "set", "--min-copies", "2"]);
    let mut add = vec!["add", "--provider", "nas"];
    add.extend(files.iter().map(|f| arg(f)));
    lib.ok(&add);
    run(lib);
    files
}

fn run(lib: &TempLib) -> std::process::Output {
    let o = output_of(
        lib.cmd()
            .args(["run", "--until-idle"])
            .env("BREAKDEX_RETRY_BASE_MS", "20"),
    );
    assert_no_panic(&o);
    o
}

/// `assets --json`, parsed: hash -> the asset.
fn assets(lib: &TempLib, filter: &[&str]) -> BTreeMap<String, Value> {
    let mut args = vec!["assets", "--json"];
    args.extend(filter);
    let o = lib.ok(&args);
    let list: Vec<Value> = serde_json::from_slice(&o.stdout).expect("assets --json is JSON");
    list.into_iter()
        .map(|a| (a["content_hash"].as_str().unwrap().to_string(), a))
        .collect()
}

/// The providers holding a good copy of each asset, sorted.
fn good_copies(lib: &TempLib) -> BTreeMap<String, Vec<String>> {
    assets(lib, &[])
        .into_iter()
        .map(|(hash, a)| {
            let mut on: Vec<String> = (a["copies"].as_array().unwrap().iter())
                .filter(|c| c["verify_status"] == "ok")
                .map(|c| c["provider"].as_str().unwrap().to_string())
                .collect();
            on.sort();
            (hash, on)
        })
        .collect()
}

/// Exactly one repair of a corrupt copy on nas was queued, and it completed.
fn assert_one_repair_of_nas_completed(lib: &TempLib) {
    let repair: Vec<Value> = (lib.ops_json().into_iter())
        .filter(|op| op["reason"] == "repair: the copy on nas was corrupt")
        .collect();
    assert_eq!(repair.len(), 1, "{repair:?}");
    assert_eq!(repair[0]["status"], "completed", "{:?}", repair[0]);
}

fn healths(lib: &TempLib) -> Vec<String> {
    assets(lib, &[])
        .values()
        .map(|a| a["health"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_policy_makes_exactly_its_copies_and_a_scrub_finds_rot_that_is_repaired() {
    let lib = TempLib::new();
    let files = two_copies_each(&lib);

    // Two copies each: the one asked for on nas, and one the policy made.
    let copies = good_copies(&lib);
    assert_eq!(copies.len(), 3);
    for (hash, on) in &copies {
        assert_eq!(on.len(), 2, "{hash}: {on:?}");
        assert!(on.contains(&"nas".to_string()), "{hash}: {on:?}");
    }
    assert_eq!(healths(&lib), ["safe"; 3]);
    let status = lib.status_json();
    assert_eq!(status["health"]["safe"], 3, "{status}");
    let topped: Vec<Value> = (lib.ops_json().into_iter())
        .filter(|op| op["provider_name"] != "nas")
        .collect();
    assert_eq!(topped.len(), 3, "{topped:?}");
    assert!(
        topped
            .iter()
            .all(|op| op["reason"] == "policy: 1 of 2 copies"),
        "{topped:?}"
    );

    // Rot on nas: one byte of one copy flipped.
    let victim = hash_of(&files[1]);
    let object = object_path(&lib.path("nas"), &victim);
    let mut bytes = std::fs::read(&object).unwrap();
    bytes[5000] ^= 0x55;
    std::fs::write(&object, &bytes).unwrap();

    // A scrub that re-reads every copy each second reaches it, marks it
    // damaged, and the engine repairs it from the local bytes.
    lib.ok(&["scrub", "set", "--every", "1s"]);
    std::thread::sleep(Duration::from_millis(1100));
    run(&lib);
    let ops = lib.ops_json();
    let verifies = ops.iter().filter(|op| op["reason"] == "scrub").count();
    assert_eq!(verifies, 6, "every copy re-read once: {ops:?}");
    let found: Vec<&Value> = (ops.iter())
        .filter(|op| op["operation_type"] == "verify" && op["status"] == "failed")
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["content_hash"], victim.as_str());
    assert_one_repair_of_nas_completed(&lib);
    assert_eq!(
        std::fs::read(&object).unwrap(),
        std::fs::read(&files[1]).unwrap(),
        "the copy is byte-identical again"
    );
    assert_eq!(healths(&lib), ["safe"; 3]);
    assert!(assets(&lib, &["--health", "damaged"]).is_empty());
}

#[test]
fn a_removed_providers_assets_are_at_risk_until_the_policy_copies_them_again() {
    let lib = TempLib::new();
    two_copies_each(&lib);
    assert_eq!(healths(&lib), ["safe"; 3]);

    lib.ok(&["provider", "remove", "nas"]);
    assert_eq!(assets(&lib, &["--health", "at-risk"]).len(), 3);
    run(&lib);
    for (hash, on) in good_copies(&lib) {
        assert_eq!(on, ["local-backup", "usb"], "{hash}");
    }
    assert_eq!(healths(&lib), ["safe"; 3]);
}

#[test]
fn an_unplugged_drive_is_not_copied_elsewhere_before_its_grace_time() {
    let lib = TempLib::new();
    two_copies_each(&lib);
    assert_eq!(healths(&lib), ["safe"; 3]);

    // nas unplugged: its copies still count for the policy (nothing goes to
    // usb), but not for the badge.
    std::fs::rename(lib.path("nas"), lib.path("nas-away")).unwrap();
    run(&lib);
    let to_usb = |lib: &TempLib| {
        (lib.ops_json().iter())
            .filter(|op| op["provider_name"] == "usb")
            .count()
    };
    assert_eq!(to_usb(&lib), 0, "no copies made before the grace time");
    assert_eq!(healths(&lib), ["at-risk"; 3]);

    // Once the grace time is over, they are made on usb.
    lib.ok(&["policy", "set", "--offline-grace", "1s"]);
    std::thread::sleep(Duration::from_millis(1100));
    run(&lib);
    assert_eq!(to_usb(&lib), 3);
    for (hash, on) in good_copies(&lib) {
        assert!(on.contains(&"usb".to_string()), "{hash}: {on:?}");
    }

    // Plugged back: it answers again, and everything is safe.
    std::fs::rename(lib.path("nas-away"), lib.path("nas")).unwrap();
    run(&lib);
    assert_eq!(healths(&lib), ["safe"; 3]);
}

#[test]
fn policy_and_scrub_settings_are_kept_and_bad_values_refused() {
    let lib = TempLib::new();
    let show: Value =
        serde_json::from_slice(&lib.ok(&["policy", "show", "--json"]).stdout).unwrap();
    assert_eq!(show["min_copies"], 1);
    assert_eq!(show["offline_grace_secs"], 7 * 86_400);
    lib.ok(&[
        "policy",
        "set",
        "--min-copies",
        "3",
        "--offline-grace",
        "2d",
    ]);
    let show: Value =
        serde_json::from_slice(&lib.ok(&["policy", "show", "--json"]).stdout).unwrap();
    assert_eq!(show["min_copies"], 3);
    assert_eq!(show["offline_grace_secs"], 2 * 86_400);
    for bad in [
        vec!["policy", "set", "--min-copies", "0"],
        vec!["policy", "set"],
        vec!["scrub", "set", "--every", "soon"],
        vec!["scrub", "set", "--budget", "20X"],
        vec!["scrub", "set", "--budget", "1M", "--provider", "nope"],
        vec!["assets", "--health", "fine"],
    ] {
        let o = lib.exec(&bad);
        assert!(!o.status.success(), "{bad:?} is refused");
        assert_no_panic(&o);
    }

    lib.ok(&["scrub", "set", "--every", "14d", "--budget", "5M"]);
    lib.ok(&[
        "scrub",
        "set",
        "--provider",
        "local-backup",
        "--budget",
        "0",
    ]);
    let show: Value = serde_json::from_slice(&lib.ok(&["scrub", "show", "--json"]).stdout).unwrap();
    assert_eq!(show["every_secs"], 14 * 86_400);
    assert_eq!(show["budget_bps"], 5 << 20);
    let own = &show["providers"][0];
    assert_eq!(own["name"], "local-backup");
    assert_eq!(own["budget_bps"], 0, "{show}");
    assert_eq!(
        own["every_secs"],
        14 * 86_400,
        "the library's interval: {show}"
    );
}

/// A corrupt copy on nas of an asset whose local file `lose` took away is
/// repaired from usb's copy, and the local file is left as it is.
fn repaired_from_another_provider(lose: impl Fn(&Path)) {
    let lib = TempLib::new();
    let files = two_copies_each(&lib);
    let victim = hash_of(&files[2]);
    let original = std::fs::read(&files[2]).unwrap();
    lose(&files[2]);
    let local_after = std::fs::read(&files[2]).ok();
    let object = object_path(&lib.path("nas"), &victim);
    let mut bytes = std::fs::read(&object).unwrap();
    bytes[100] ^= 0x01;
    std::fs::write(&object, &bytes).unwrap();

    lib.ok(&["enqueue", "verify", "--provider", "nas", "--hash", &victim]);
    run(&lib);
    assert_one_repair_of_nas_completed(&lib);
    assert_eq!(
        std::fs::read(&object).unwrap(),
        original,
        "byte-identical again"
    );
    assert_eq!(
        std::fs::read(&files[2]).ok(),
        local_after,
        "the local file is left as it is"
    );
    let leftovers: Vec<_> = crate::common::files_under(&lib.files_dir())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".breakdex-tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files removed: {leftovers:?}"
    );
    assert_eq!(healths(&lib), ["safe"; 3]);
}

#[test]
fn with_the_local_file_gone_a_corrupt_copy_is_repaired_from_another_provider() {
    repaired_from_another_provider(|f| std::fs::remove_file(f).unwrap());
}

#[test]
fn with_the_local_file_changed_at_its_size_a_corrupt_copy_is_repaired_from_another_provider() {
    // Edited in place: same size, other bytes (only a read tells).
    repaired_from_another_provider(|f| {
        let len = std::fs::metadata(f).unwrap().len() as usize;
        std::fs::write(f, crate::common::pseudo_random(len, 999)).unwrap();
    });
}

/// The scrub's verifies in the order they were queued: (content hash,
/// status), read from the library.
fn scrub_verifies(lib: &TempLib) -> Vec<(String, String)> {
    let c = lib.read_db();
    let mut stmt = c
        .prepare(
            "SELECT content_hash, status FROM sync_operations
             WHERE operation_type = 'verify' AND reason = 'scrub' ORDER BY rowid",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

#[test]
fn a_scrub_killed_mid_way_picks_up_where_it_was_and_reads_each_copy_once() {
    const FILES: usize = 40;
    let lib = TempLib::new();
    let files: Vec<_> = (0..FILES)
        .map(|i| lib.write_file(&format!("photos/IMG_{i:04}.jpg"), 256 << 10, i as u64 + 1))
        .collect();
    let mut add = vec!["add"];
    add.extend(files.iter().map(|f| arg(f)));
    lib.ok(&add);
    run(&lib);

    // Every copy last verified two days ago, each a second apart in an
    // order unlike the order they were added in: the scrub must read them
    // oldest first.
    let mut oldest_first: Vec<String> = files.iter().map(|f| hash_of(f)).collect();
    oldest_first.sort();
    {
        let c = rusqlite::Connection::open(lib.db()).unwrap();
        for (i, hash) in oldest_first.iter().enumerate() {
            let when = format!("-{} seconds", 2 * 86_400 + FILES - i);
            let n = c
                .execute(
                    "UPDATE asset_copies SET verified_at = strftime('%Y-%m-%d %H:%M:%f', 'now', ?2)
                     WHERE content_hash = ?1",
                    rusqlite::params![hash, when],
                )
                .unwrap();
            assert_eq!(n, 1);
        }
    }

    // A long-running engine at 64 KiB/s: about one 256 KiB copy every 4 s
    // after its first second's credit. It is killed once it has verified 3.
    lib.ok(&["scrub", "set", "--every", "10s", "--budget", "64K"]);
    let mut child = lib
        .cmd()
        .arg("run")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start breakdex run");
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let read_before_kill = loop {
        let done = (scrub_verifies(&lib).into_iter())
            .filter(|(_, s)| s == "completed")
            .count();
        if done >= 3 {
            break done;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the running engine's scrub verified {done} copies in 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let queued_before_kill = scrub_verifies(&lib).len();
    assert!(
        queued_before_kill < FILES / 2,
        "the budget holds the scrub back: {queued_before_kill} queued for {read_before_kill} read"
    );

    // Restarted as a run that ends, with a budget that covers everything:
    // it reads what is due (the copies not read before the kill), each
    // once, and ends.
    lib.ok(&["scrub", "set", "--every", "1d", "--budget", "100M"]);
    run(&lib);
    let verifies = scrub_verifies(&lib);
    let order: Vec<&String> = verifies.iter().map(|(h, _)| h).collect();
    assert_eq!(
        order,
        oldest_first.iter().collect::<Vec<_>>(),
        "each copy read once, oldest verification first, across the kill"
    );
    assert!(
        verifies.iter().all(|(_, s)| s == "completed"),
        "{verifies:?}"
    );
    assert_eq!(healths(&lib), ["safe"; FILES]);
}

#[test]
fn the_scrub_starts_no_verify_while_a_transfer_of_its_engine_runs() {
    let lib = TempLib::new();
    let old: Vec<_> = (0..40)
        .map(|i| lib.write_file(&format!("old/IMG_{i:04}.jpg"), 256 << 10, i as u64 + 1))
        .collect();
    let mut add = vec!["add"];
    add.extend(old.iter().map(|f| arg(f)));
    lib.ok(&add);
    run(&lib);
    {
        let c = rusqlite::Connection::open(lib.db()).unwrap();
        c.execute(
            "UPDATE asset_copies SET verified_at = strftime('%Y-%m-%d %H:%M:%f', 'now', '-2 days')",
            [],
        )
        .unwrap();
    }
    // Every copy is due, with budget to read them all at once; new uploads
    // held to 4 MiB/s take about 2.5 s while the scrub waits.
    lib.ok(&["scrub", "set", "--every", "1d", "--budget", "100M"]);
    lib.ok(&["limits", "set", "--up", "4M"]);
    let new: Vec<_> = (0..20)
        .map(|i| lib.write_file(&format!("new/IMG_{i:04}.jpg"), 512 << 10, 1000 + i as u64))
        .collect();
    let mut add = vec!["add"];
    add.extend(new.iter().map(|f| arg(f)));
    lib.ok(&add);
    run(&lib);

    let c = lib.read_db();
    let times = |sql: &str| -> Vec<(String, String)> {
        let mut stmt = c.prepare(sql).unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    let new_hashes: Vec<String> = new.iter().map(|f| hash_of(f)).collect();
    let uploads: Vec<(String, String)> = {
        let mut stmt = c
            .prepare(
                "SELECT content_hash, started_at, completed_at FROM sync_operations
                 WHERE operation_type = 'upload' AND status = 'completed'",
            )
            .unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<Vec<(String, String, String)>>>()
            .unwrap();
        (rows.into_iter())
            .filter(|(hash, _, _)| new_hashes.contains(hash))
            .map(|(_, start, end)| (start, end))
            .collect()
    };
    let scrubs = times(
        "SELECT started_at, completed_at FROM sync_operations
         WHERE operation_type = 'verify' AND reason = 'scrub' AND status = 'completed'",
    );
    assert_eq!(uploads.len(), 20);
    assert_eq!(
        scrubs.len(),
        40,
        "the scrub read every copy in the same run"
    );
    for (start, _) in &scrubs {
        for (up_start, up_end) in &uploads {
            assert!(
                !(up_start < start && start < up_end),
                "a scrub verify started at {start}, during an upload ({up_start} to {up_end})"
            );
        }
    }
}
