//! Crashes and company: an engine killed again and again in the middle of its
//! work loses nothing and leaves nothing behind, and two engines on the same
//! library share the queue without running an op twice.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::{
    COMMAND_TIMEOUT, TempLib, assert_success, files_under, object_path, output_of, provider_files,
    pseudo_random, run_summary, stderr, stdout,
};

/// Writes `count` files under `in/`: mostly small ones, and every `big_every`-th
/// one of several MiB, so that uploads of every size are in flight at any time.
/// Returns the files with their content hashes.
fn make_files(lib: &TempLib, count: usize, big_every: usize) -> Vec<(PathBuf, String)> {
    // One block of noise, cut differently for each big file, keeps this fast
    // in a debug build; a unique header makes every file's content unique.
    let noise = pseudo_random(9 << 20, 42);
    (0..count)
        .map(|i| {
            let body: &[u8] = if i % big_every == big_every - 1 {
                let len = (2 << 20) + (i * 131_071) % (5 << 20);
                let start = (i * 65_537) % (noise.len() - len);
                &noise[start..start + len]
            } else {
                let len = (i * 7_919) % 48_000;
                let start = (i * 4_099) % (noise.len() - len);
                &noise[start..start + len]
            };
            let path = lib.path(&format!("in/d{:02}/f{i:04}.bin", i % 16));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let mut f = std::fs::File::create(&path).unwrap();
            f.write_all(format!("file {i}\n").as_bytes()).unwrap();
            f.write_all(body).unwrap();
            drop(f);
            let hash = blake3::hash(&std::fs::read(&path).unwrap())
                .to_hex()
                .to_string();
            (path, hash)
        })
        .collect()
}

/// Adds the files to a new library (one upload each to `local-backup`).
fn library_with(count: usize, big_every: usize) -> (TempLib, Vec<(PathBuf, String)>) {
    let lib = TempLib::new();
    let files = make_files(&lib, count, big_every);
    let o = lib.ok(&["add", lib.path("in").to_str().unwrap()]);
    assert!(
        stdout(&o).contains(&format!("({count} uploads queued)")),
        "{}",
        stdout(&o)
    );
    (lib, files)
}

fn start_run(lib: &TempLib) -> Child {
    lib.cmd()
        .args(["run", "--until-idle", "--concurrency", "4"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start breakdex run")
}

/// What must hold once every op has run: each op completed once, every
/// object byte-identical to its source, nothing else on the provider (no
/// temporary upload left), one good copy recorded per asset, and a sound
/// database.
fn assert_all_done_and_clean(lib: &TempLib, files: &[(PathBuf, String)]) {
    let n = files.len() as i64;
    assert_eq!(
        lib.status_counts(),
        (0, 0, n, 0),
        "(queued, in progress, completed, failed)"
    );
    let db = lib.read_db();
    let ops: i64 = db
        .query_row("SELECT COUNT(*) FROM sync_operations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ops, n, "one op per file, no more");
    let bad: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM sync_operations
             WHERE bytes_transferred != total_bytes OR lease_owner IS NOT NULL
                OR started_at IS NULL OR completed_at IS NULL OR error_message IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(bad, 0, "completed ops are whole and released");
    let copies: BTreeMap<String, String> = {
        let mut stmt = db
            .prepare("SELECT content_hash, verify_status FROM asset_copies")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    assert_eq!(copies.len(), files.len());
    assert!(copies.values().all(|s| s == "ok"));
    let integrity: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    drop(db);

    let root = lib.backup_root();
    for (path, hash) in files {
        let remote = object_path(&root, hash);
        let got = std::fs::read(&remote)
            .unwrap_or_else(|e| panic!("{} has no object: {e}", path.display()));
        assert!(
            got == std::fs::read(path).unwrap(),
            "{} differs from its source",
            remote.display()
        );
    }
    let mut expected: Vec<PathBuf> = files.iter().map(|(_, h)| object_path(&root, h)).collect();
    expected.sort();
    let found = provider_files(&root);
    let stray: Vec<&PathBuf> = found.iter().filter(|p| !expected.contains(p)).collect();
    assert!(stray.is_empty(), "stray files on the provider: {stray:?}");
    assert_eq!(found.len(), expected.len());
}

/// The lock files of engines, beside the database.
fn engine_locks(lib: &TempLib) -> Vec<PathBuf> {
    files_under(&lib.path("library.db.engines"))
}

#[test]
fn killed_runs_lose_nothing_and_leave_nothing_behind() {
    const KILLS: usize = 4;
    let (lib, files) = library_with(400, 10);
    let total = files.len() as i64;
    // Each run is killed once it has completed this many more ops: the
    // kills are spread over the first half of the queue.
    let step = total / (2 * KILLS as i64);
    let tmp = lib.backup_root().join(".breakdex-tmp");
    let mut parts_seen_at_kill = 0;

    for kill in 1..=KILLS {
        let (_, _, done_before, _) = lib.status_counts();
        let target = done_before + step;
        let mut child = start_run(&lib);
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let o = child.wait_with_output().unwrap();
                panic!(
                    "run {kill} ended by itself ({status}) before it could be killed: {} {}",
                    stdout(&o),
                    stderr(&o)
                );
            }
            let (_, in_progress, completed, failed) = lib.status_counts();
            assert_eq!(failed, 0, "no op fails");
            if completed >= target && in_progress > 0 {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("run {kill} made no progress: {completed} completed, target {target}");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert_eq!(
            status.signal(),
            Some(libc::SIGKILL),
            "run {kill} was killed, not ended: {status}"
        );
        let parts = files_under(&tmp).len();
        if parts > 0 {
            parts_seen_at_kill += 1;
        }
        let (_, in_progress, completed, _) = lib.status_counts();
        eprintln!(
            "kill {kill}: {completed}/{total} completed, {in_progress} left in progress, \
             {parts} partial uploads on the provider"
        );
        assert!(in_progress > 0, "the kill left ops in progress to rescue");
    }
    eprintln!("{parts_seen_at_kill} of {KILLS} kills left partial uploads behind");

    // A run to the end rescues the dead engines' ops at once and finishes.
    let (_, _, done_before, _) = lib.status_counts();
    let o = output_of(
        lib.cmd()
            .args(["run", "--until-idle", "--concurrency", "4"]),
    );
    assert_success(&o, "the last run");
    let summary = run_summary(&o);
    assert_eq!(summary["failed"], 0, "{summary}");
    assert_eq!(summary["retried"], 0, "{summary}");
    assert!(
        summary["rescued"].as_i64().unwrap() >= 1,
        "the last killed run's ops were rescued: {summary}"
    );
    assert_eq!(
        summary["completed"].as_i64().unwrap(),
        total - done_before,
        "each remaining op completed exactly once: {summary}"
    );
    assert_all_done_and_clean(&lib, &files);
    assert_eq!(
        engine_locks(&lib),
        Vec::<PathBuf>::new(),
        "the dead engines' lock files are cleared once their ops are rescued"
    );
}

#[test]
fn two_runs_at_once_share_the_queue_and_run_each_op_once() {
    let (lib, files) = library_with(300, 15);
    let total = files.len() as i64;
    // Test instrumentation: log every claim (an op going to in_progress)
    // with its engine, to count how often each op was taken.
    rusqlite::Connection::open(lib.db())
        .unwrap()
        .execute_batch(
            "CREATE TABLE test_claims (op_id TEXT NOT NULL, owner TEXT);
             CREATE TRIGGER test_log_claims AFTER UPDATE OF status ON sync_operations
             WHEN NEW.status = 'in_progress' AND OLD.status != 'in_progress'
             BEGIN INSERT INTO test_claims VALUES (NEW.id, NEW.lease_owner); END;",
        )
        .unwrap();

    let children = [start_run(&lib), start_run(&lib)];
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let outputs: Vec<std::process::Output> = children
        .into_iter()
        .map(|mut child| {
            while child.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    panic!("a run did not end within {COMMAND_TIMEOUT:?}");
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            child.wait_with_output().unwrap()
        })
        .collect();

    let mut completed = 0;
    for (i, o) in outputs.iter().enumerate() {
        assert_success(o, &format!("run {i}"));
        let s = run_summary(o);
        eprintln!("run {i}: {s}");
        assert_eq!(s["failed"], 0, "{s}");
        assert_eq!(s["retried"], 0, "no attempt failed: {s}");
        assert_eq!(
            s["rescued"], 0,
            "neither run took the other for dead and took its ops: {s}"
        );
        completed += s["completed"].as_i64().unwrap();
    }
    assert_eq!(
        completed, total,
        "the two runs completed every op exactly once between them"
    );
    assert_all_done_and_clean(&lib, &files);
    assert_eq!(engine_locks(&lib), Vec::<PathBuf>::new());

    let db = lib.read_db();
    let (claims, distinct): (i64, i64) = db
        .query_row(
            "SELECT COUNT(*), COUNT(DISTINCT op_id) FROM test_claims",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(distinct, total, "every op was claimed");
    assert_eq!(claims, total, "no op was claimed twice");
    let per_owner: Vec<(String, i64)> = db
        .prepare("SELECT owner, COUNT(*) FROM test_claims GROUP BY owner")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    eprintln!("claims per engine: {per_owner:?}");
}
