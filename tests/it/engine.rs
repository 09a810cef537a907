//! The engine against a real local-folder provider: the four operations,
//! retries, offline providers, pause, rescue, and what `asset_copies` says
//! after each.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use breakdex::engine::{self, Control, EngineConfig, RunSummary};
use breakdex::library;
use breakdex::providers::object_key;
use breakdex::setup;
use breakdex::store::{NewOp, OpQuery, OpState, OpType, ProviderKind, ProviderRow, Store};

use crate::common::{TempLib, files_under, hash_of, provider_files};

/// A library with one local provider ("remote") and some files to add.
struct Lib {
    lib: TempLib,
    store: Store,
    provider: ProviderRow,
}

impl Lib {
    fn new() -> Lib {
        let lib = TempLib::new();
        let mut store = Store::open(&lib.db()).unwrap();
        std::fs::create_dir_all(lib.path("remote")).unwrap();
        let provider = store
            .add_provider(
                "remote",
                ProviderKind::Local,
                &serde_json::json!({"root": lib.path("remote")}),
                4,
            )
            .unwrap();
        Lib {
            lib,
            store,
            provider,
        }
    }

    fn config(&self) -> EngineConfig {
        let mut c = EngineConfig::new(&self.lib.db(), &setup::library_dir(&self.lib.db()));
        c.until_idle = true;
        c.retry.base = Duration::from_millis(10);
        c
    }

    fn run(&self) -> RunSummary {
        engine::start(self.config()).unwrap().join().unwrap()
    }

    /// Adds files of the given sizes; returns their paths and hashes.
    fn add(&mut self, sizes: &[usize]) -> Vec<(PathBuf, String)> {
        let paths: Vec<PathBuf> = sizes
            .iter()
            .enumerate()
            .map(|(i, &len)| {
                self.lib
                    .write_file(&format!("src/file{i}.bin"), len, i as u64 + 1)
            })
            .collect();
        let report = library::import(
            &mut self.store,
            &paths,
            &library::Rules::none(),
            std::slice::from_ref(&self.provider),
            0,
        )
        .unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        paths
            .into_iter()
            .map(|p| {
                let h = hash_of(&p);
                (p, h)
            })
            .collect()
    }

    fn remote(&self, hash: &str) -> PathBuf {
        self.lib.path("remote").join(object_key(hash))
    }

    fn enqueue(&mut self, op: OpType, hash: &str) {
        let created = self
            .store
            .enqueue(&[NewOp {
                content_hash: hash.into(),
                provider_id: self.provider.id.clone(),
                operation_type: op,
                priority: 0,
                total_bytes: 0,
            }])
            .unwrap();
        assert_eq!(created.len(), 1);
    }

    fn ops(&self, state: OpState) -> Vec<breakdex::store::OpRow> {
        self.store
            .list_ops(&OpQuery {
                state: Some(state),
                ..OpQuery::default()
            })
            .unwrap()
    }
}

#[test]
fn upload_verify_download_delete_keep_asset_copies_true() {
    let mut l = Lib::new();
    let files = l.add(&[0, 10, 5 << 20, 9 << 20]);
    let summary = l.run();
    assert_eq!((summary.completed, summary.failed), (4, 0));
    for (path, hash) in &files {
        assert_eq!(
            std::fs::read(l.remote(hash)).unwrap(),
            std::fs::read(path).unwrap()
        );
        let copies = l.store.copies_of(hash).unwrap();
        assert_eq!(copies.len(), 1);
        assert_eq!(copies[0].verify_status, "ok");
        assert_eq!(copies[0].remote_key, object_key(hash));
    }
    // Nothing but the objects on the provider.
    assert_eq!(provider_files(&l.lib.path("remote")).len(), 4);

    // Verify all.
    for (_, hash) in &files {
        l.enqueue(OpType::Verify, hash);
    }
    assert_eq!(l.run().completed, 4);
    assert!(
        l.store.copies_of(&files[2].1).unwrap()[0]
            .verified_at
            .is_some()
    );

    // Download one whose local file is gone: it comes back into the library folder.
    let (path, hash) = &files[3];
    std::fs::remove_file(path).unwrap();
    l.enqueue(OpType::Download, hash);
    assert_eq!(l.run().completed, 1);
    let local = l.store.asset(hash).unwrap().unwrap().local_path.unwrap();
    assert!(Path::new(&local).starts_with(setup::library_dir(&l.lib.db())));
    assert_eq!(hash_of(Path::new(&local)), *hash);

    // Delete one remote copy; its local file is there, so that is allowed.
    l.enqueue(OpType::DeleteRemote, &files[1].1);
    assert_eq!(l.run().completed, 1);
    assert!(!l.remote(&files[1].1).exists());
    assert!(l.store.copies_of(&files[1].1).unwrap().is_empty());
    // Deleting what is already gone is a success.
    l.enqueue(OpType::DeleteRemote, &files[1].1);
    assert_eq!(l.run().completed, 1);
}

#[test]
fn the_last_good_copy_of_an_asset_without_local_bytes_is_not_deleted() {
    let mut l = Lib::new();
    let files = l.add(&[1000]);
    l.run();
    std::fs::remove_file(&files[0].0).unwrap();
    l.enqueue(OpType::DeleteRemote, &files[0].1);
    let summary = l.run();
    assert_eq!(summary.failed, 1);
    let failed = l.ops(OpState::PermanentlyFailed);
    assert!(
        failed[0]
            .error_message
            .as_deref()
            .unwrap()
            .contains("last good copy"),
        "{:?}",
        failed[0].error_message
    );
    assert!(l.remote(&files[0].1).exists());
}

#[test]
fn verify_reports_corrupt_and_missing_copies_and_the_engine_repairs_them() {
    let mut l = Lib::new();
    let files = l.add(&[4096, 4096]);
    l.run();
    let corrupt = l.remote(&files[0].1);
    let mut bytes = std::fs::read(&corrupt).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&corrupt, &bytes).unwrap();
    std::fs::remove_file(l.remote(&files[1].1)).unwrap();
    l.enqueue(OpType::Verify, &files[0].1);
    l.enqueue(OpType::Verify, &files[1].1);
    // The verifies fail and say why; the repairs (uploads from the local
    // bytes) complete in the same run.
    let summary = l.run();
    assert_eq!((summary.completed, summary.failed), (2, 2));
    let messages: Vec<String> = l
        .ops(OpState::PermanentlyFailed)
        .into_iter()
        .filter_map(|r| r.error_message)
        .collect();
    assert!(
        messages.iter().any(|m| m.contains("corrupt")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("missing")),
        "{messages:?}"
    );
    let mut reasons: Vec<String> = l
        .ops(OpState::Completed)
        .into_iter()
        .filter_map(|r| r.reason)
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            "repair: the copy on remote was corrupt",
            "repair: the copy on remote was missing"
        ]
    );
    for (_, hash) in &files {
        assert_eq!(l.store.copies_of(hash).unwrap()[0].verify_status, "ok");
        assert_eq!(hash_of(&l.remote(hash)), *hash, "byte-identical again");
    }
    // One repair per finding: another run queues nothing.
    assert_eq!(l.run().completed, 0);
}

#[test]
fn a_source_that_changed_fails_at_once_and_leaves_nothing_behind() {
    let mut l = Lib::new();
    let files = l.add(&[50_000, 50_000]);
    std::fs::write(&files[0].0, b"something else entirely").unwrap();
    std::fs::remove_file(&files[1].0).unwrap();
    let summary = l.run();
    assert_eq!((summary.failed, summary.retried), (2, 0));
    let failed = l.ops(OpState::PermanentlyFailed);
    let text: Vec<&str> = failed
        .iter()
        .filter_map(|r| r.error_message.as_deref())
        .collect();
    assert!(
        text.iter().any(|m| m.contains("source changed")),
        "{text:?}"
    );
    assert!(
        text.iter().any(|m| m.contains("source missing")),
        "{text:?}"
    );
    assert!(files_under(&l.lib.path("remote")).is_empty());
}

#[test]
fn transient_errors_are_retried_with_backoff_then_fail_for_good() {
    let mut l = Lib::new();
    let files = l.add(&[1234]);
    // A file where the objects folder should be: every rename fails.
    std::fs::write(l.lib.path("remote/objects"), b"in the way").unwrap();
    let summary = l.run();
    assert_eq!(
        (summary.retried, summary.failed, summary.completed),
        (2, 1, 0)
    );
    let row = &l.ops(OpState::PermanentlyFailed)[0];
    assert_eq!(row.retry_count, 3);
    assert!(
        row.error_message
            .as_deref()
            .unwrap()
            .contains("provider 'remote'")
    );
    // Fixed, retried by hand: it goes through.
    std::fs::remove_file(l.lib.path("remote/objects")).unwrap();
    l.store.retry_all_failed().unwrap();
    assert_eq!(l.run().completed, 1);
    assert!(l.remote(&files[0].1).exists());
    assert!(files_under(&l.lib.path("remote/.breakdex-tmp")).is_empty());
}

#[test]
fn an_offline_provider_makes_ops_wait_without_spending_retries() {
    let mut l = Lib::new();
    l.add(&[100, 200]);
    let root = l.lib.path("remote");
    std::fs::rename(&root, l.lib.path("unplugged")).unwrap();
    let summary = l.run();
    assert_eq!(
        (summary.completed, summary.failed, summary.retried),
        (0, 0, 0)
    );
    assert!(
        summary.offline[0].contains("offline"),
        "{:?}",
        summary.offline
    );
    let queued = l.ops(OpState::Queued);
    assert_eq!(queued.len(), 2);
    assert!(queued.iter().all(|r| r.retry_count == 0));
    // Plugged back in.
    std::fs::rename(l.lib.path("unplugged"), &root).unwrap();
    let summary = l.run();
    assert_eq!(summary.completed, 2);
    assert!(summary.offline.is_empty());
}

#[test]
fn higher_priority_runs_first() {
    let mut l = Lib::new();
    let low = l.lib.write_file("low.bin", 2 << 20, 1);
    let high = l.lib.write_file("high.bin", 2 << 20, 2);
    let p = std::slice::from_ref(&l.provider);
    let none = library::Rules::none();
    library::import(&mut l.store, std::slice::from_ref(&low), &none, p, 0).unwrap();
    library::import(&mut l.store, std::slice::from_ref(&high), &none, p, 5).unwrap();
    let mut config = l.config();
    config.concurrency = 1;
    engine::start(config).unwrap().join().unwrap();
    let done = l.ops(OpState::Completed);
    let started = |name: &str| {
        done.iter()
            .find(|r| r.asset_name.as_deref() == Some(name))
            .and_then(|r| r.started_at.clone())
            .unwrap()
    };
    assert!(started("high.bin") <= started("low.bin"));
}

#[test]
fn ops_of_a_dead_engine_are_rescued_at_once() {
    let mut l = Lib::new();
    let files = l.add(&[10, 20, 30]);
    let pid = l.provider.id.clone();
    let claimed = l
        .store
        .claim("ghost-engine", Duration::from_secs(3600), &[(pid, 10)])
        .unwrap();
    assert_eq!(claimed.len(), 3);
    let summary = l.run();
    assert_eq!((summary.rescued, summary.completed), (3, 3));
    for (_, h) in &files {
        assert!(l.remote(h).exists());
    }
}

#[test]
fn pause_holds_the_queue_and_resume_runs_it() {
    let mut l = Lib::new();
    let mut config = l.config();
    config.until_idle = false;
    let handle = engine::start(config).unwrap();
    handle.send(Control::Pause);
    l.add(&[100, 200, 300]);
    // Two housekeeping rounds: a paused engine claims nothing.
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(l.store.counts(None).unwrap().queued, 3);
    handle.send(Control::Resume);
    let deadline = Instant::now() + Duration::from_secs(30);
    while l.store.counts(None).unwrap().completed < 3 {
        assert!(Instant::now() < deadline, "resumed engine did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    handle.send(Control::Stop);
    assert_eq!(handle.join().unwrap().completed, 3);
}

#[test]
fn downloads_never_leave_the_library_folder() {
    let mut l = Lib::new();
    let files = l.add(&[777]);
    l.run();
    let hash = &files[0].1;
    std::fs::remove_file(&files[0].0).unwrap();
    // A hostile name, as if it came from elsewhere.
    rusqlite::Connection::open(l.lib.db())
        .unwrap()
        .execute(
            "UPDATE asset_manifest SET original_name = '../../../escaped.bin' WHERE content_hash = ?1",
            [hash],
        )
        .unwrap();
    l.enqueue(OpType::Download, hash);
    assert_eq!(l.run().completed, 1);
    let libdir = setup::library_dir(&l.lib.db());
    assert_eq!(hash_of(&libdir.join("escaped.bin")), *hash);
    assert!(!l.lib.path("escaped.bin").exists());
    assert!(
        !l.lib
            .dir
            .path()
            .parent()
            .unwrap()
            .join("escaped.bin")
            .exists()
    );
    assert_eq!(
        engine::safe_file_name("..", hash),
        *hash,
        "a bare .. becomes the hash"
    );
}

#[test]
fn files_are_recorded_in_batches_in_the_order_given_while_others_are_hashed() {
    let mut l = Lib::new();
    let mut paths: Vec<PathBuf> = (0..300)
        .map(|i| {
            if i % 37 == 5 {
                l.lib.path(&format!("in/missing-{i}.bin"))
            } else {
                l.lib.write_file(&format!("in/{i}.bin"), 100 + i, i as u64)
            }
        })
        .collect();
    // A big file early on: the other thread hashes many small ones meanwhile.
    paths[10] = l.lib.write_file("in/big.bin", 24 << 20, 999);
    let mut batches = Vec::new();
    let found: Vec<library::FoundFile> = paths
        .iter()
        .map(|p| library::FoundFile {
            path: p.clone(),
            recorded: p.file_name().unwrap().to_string_lossy().into_owned(),
        })
        .collect();
    let report = library::hash_and_record(
        &mut l.store,
        &found,
        std::slice::from_ref(&l.provider),
        0,
        7,
        |b| batches.push((b.range.clone(), b.problems.len(), b.enqueued)),
    )
    .unwrap();

    // Batches of at least 7 (but for the last one), and at most 16 times
    // that, cover every file once, in order.
    let mut next = 0;
    for (range, _, _) in &batches {
        assert_eq!(range.start, next, "batches {batches:?}");
        assert!(range.len() >= 7 || range.end == paths.len(), "{range:?}");
        assert!(range.len() <= 7 * 16, "{range:?}");
        next = range.end;
    }
    assert_eq!(next, paths.len());
    let present: Vec<PathBuf> = paths.iter().filter(|p| p.exists()).cloned().collect();
    let missing = paths.len() - present.len();
    assert_eq!(missing, 8);
    assert_eq!(batches.iter().map(|b| b.1).sum::<usize>(), missing);
    assert_eq!(report.problems.len(), missing);
    assert!(report.problems.iter().all(|p| p.contains("missing-")));
    assert_eq!(batches.iter().map(|b| b.2).sum::<usize>(), present.len());
    assert_eq!(report.enqueued, present.len());
    // Listed, and queued, in the order given.
    let listed: Vec<PathBuf> = report.files.iter().map(|f| f.path.clone()).collect();
    assert_eq!(listed, present);
    let queued: Vec<String> = rusqlite::Connection::open(l.lib.db())
        .unwrap()
        .prepare("SELECT content_hash FROM sync_operations ORDER BY rowid")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let hashes: Vec<String> = present.iter().map(|p| hash_of(p)).collect();
    assert_eq!(queued, hashes);
}
