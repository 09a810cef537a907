//! The real window driven through egui_kittest (headless, no GPU): sorting,
//! the seed's state indicators, drops, and row actions that reach the database.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use breakdex::store::{
    ManifestEntry, NewOp, OpEvent, OpRow, OpState, OpType, ProviderKind, Retry, SortKey, Store,
};
use breakdex::ui::App;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use crate::common::TempLib;

/// A file dropped on the window, as the windowing backend hands it over.
#[derive(Debug)]
pub(crate) struct Dropped(pub(crate) PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

const LEASE: Duration = Duration::from_secs(600);

/// A library with ops in every state of the seed's table, and a second provider.
pub(crate) fn library(lib: &TempLib) -> Store {
    let mut store = Store::open(&lib.db()).unwrap();
    let mut providers = Vec::new();
    for name in ["beta-nas", "alpha-drive"] {
        std::fs::create_dir_all(lib.path(name)).unwrap();
        providers.push(
            store
                .add_provider(
                    name,
                    ProviderKind::Local,
                    &serde_json::json!({"root": lib.path(name)}),
                    4,
                )
                .unwrap()
                .id,
        );
    }
    let names = [
        "mountain.jpg",
        "beach.raw",
        "interview.wav",
        "logo.psd",
        "drone.mp4",
        "cat.heic",
    ];
    let mut entries = Vec::new();
    let mut ops = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let hash = blake3::hash(name.as_bytes()).to_hex().to_string();
        entries.push(ManifestEntry {
            content_hash: hash.clone(),
            size_bytes: 1000 * (i as i64 + 1),
            original_name: name.to_string(),
            local_path: None,
            media_type: "application/octet-stream".into(),
            added_at: String::new(),
        });
        ops.push(NewOp {
            content_hash: hash,
            provider_id: providers[i % 2].clone(),
            operation_type: [OpType::Upload, OpType::Verify, OpType::Download][i % 3],
            priority: [3, 0, 7, 1, 5, 2][i],
            total_bytes: 1000 * (i as i64 + 1),
        });
    }
    store.record_assets(&entries, &[]).unwrap();
    let ids = store.enqueue(&ops).unwrap();
    // Claim everything but the last two (which stay queued), then move each
    // claimed op to its state.
    let wants: Vec<(String, usize)> = providers.iter().map(|p| (p.clone(), 10)).collect();
    let claimed = store.claim("test", LEASE, &wants).unwrap();
    let keep_queued: Vec<&String> = ids[4..].iter().collect();
    let mut events = Vec::new();
    let mut nth = 0;
    for op in claimed {
        if keep_queued.contains(&&op.id) {
            events.push(OpEvent::Finished {
                id: op.id,
                bytes: 0,
                change: None,
                failure: Some((None, Retry::Release(Duration::ZERO))),
                started: None,
                ended: std::time::SystemTime::now(),
            });
            continue;
        }
        let failure = match nth {
            0 => None,
            1 => Some((
                Some("timed out talking to the NAS".to_string()),
                Retry::Backoff(Duration::from_secs(600)),
            )),
            2 => Some((
                Some("source changed: logo.psd no longer matches".to_string()),
                Retry::Never,
            )),
            _ => {
                events.push(OpEvent::Progress {
                    id: op.id,
                    bytes: op.total_bytes * 2 / 5,
                    total: op.total_bytes,
                });
                continue;
            }
        };
        nth += 1;
        events.push(OpEvent::Finished {
            id: op.id,
            bytes: op.total_bytes,
            change: None,
            failure,
            started: None,
            ended: std::time::SystemTime::now(),
        });
    }
    store.apply("test", &events).unwrap();
    let counts = store.counts(None).unwrap();
    assert_eq!(
        (
            counts.queued,
            counts.in_progress,
            counts.retry_pending,
            counts.permanently_failed,
            counts.completed
        ),
        (2, 1, 1, 1, 1),
        "the fixture covers every state"
    );
    store
}

pub(crate) fn harness(db: &Path) -> Harness<'static, App> {
    let db = db.to_owned();
    Harness::builder()
        .with_size(egui::vec2(1500.0, 700.0))
        .build_eframe(move |cc| App::new(&db, None, &cc.egui_ctx).expect("app"))
}

/// Steps the window until `done` holds (the model answers on its own thread).
pub(crate) fn settle(h: &mut Harness<'static, App>, what: &str, done: impl Fn(&App) -> bool) {
    settle_on(h, what, |h| done(h.state()));
}

/// Steps the window until `done` holds of the window, state or tree.
pub(crate) fn settle_on(
    h: &mut Harness<'static, App>,
    what: &str,
    done: impl Fn(&Harness<'static, App>) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        h.step();
        if done(h) {
            // One more frame so the tree shows what the state says.
            h.step();
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub(crate) fn loaded(app: &App) -> bool {
    let s = &app.model.snapshot;
    !s.loading && s.rows.len() == s.view_len && s.view_len > 0
}

fn order_holds(rows: &[OpRow], key: SortKey, descending: bool) -> bool {
    let value = |r: &OpRow| -> String {
        match key {
            SortKey::AssetName => r.asset_name.clone().unwrap_or_default(),
            SortKey::Provider => r.provider_name.clone(),
            SortKey::OperationType => r.operation_type.as_str().into(),
            SortKey::Status => format!("{}", r.state as u8),
            SortKey::Priority => format!("{:020}", r.priority + 1_000_000),
            // As the column shows it: no progress ("—") before any.
            SortKey::Progress => format!(
                "{:020}",
                match r.state {
                    OpState::Completed => 1_000_001,
                    OpState::InProgress if r.total_bytes > 0 => {
                        1 + r.bytes_transferred * 1_000_000 / r.total_bytes
                    }
                    _ => 0,
                }
            ),
            SortKey::Retries => format!("{:020}", r.failed_attempts),
            SortKey::Size => format!("{:020}", r.total_bytes),
            SortKey::CreatedAt => format!("{:020}", r.rowid),
            SortKey::StartedAt => r.started_at.clone().unwrap_or_default(),
            SortKey::CompletedAt => r.completed_at.clone().unwrap_or_default(),
            SortKey::ContentHash => r.content_hash.clone(),
            SortKey::QueueOrder => unreachable!(),
        }
    };
    rows.windows(2).all(|w| {
        let (a, b) = (value(&w[0]), value(&w[1]));
        if descending { a >= b } else { a <= b }
    })
}

#[test]
fn every_column_sorts_both_ways_by_clicking_its_header() {
    let lib = TempLib::new();
    library(&lib);
    let mut h = harness(&lib.db());
    settle(&mut h, "first load", loaded);
    let columns = [
        ("Asset", SortKey::AssetName),
        ("Provider", SortKey::Provider),
        ("Operation", SortKey::OperationType),
        ("Status", SortKey::Status),
        ("Priority", SortKey::Priority),
        ("Progress", SortKey::Progress),
        ("Retries", SortKey::Retries),
        ("Size", SortKey::Size),
        ("Created", SortKey::CreatedAt),
        ("Started", SortKey::StartedAt),
        ("Completed", SortKey::CompletedAt),
        ("Hash", SortKey::ContentHash),
    ];
    for (label, key) in columns {
        h.get_by_label(label).click();
        settle(&mut h, label, |app| {
            let s = &app.model.snapshot;
            s.spec.sort == key && !s.spec.descending && loaded(app)
        });
        assert!(
            order_holds(&h.state().model.snapshot.rows, key, false),
            "{label} ascending"
        );
        // The active column shows its direction.
        h.get_by_label(&format!("{label} ⏶")).click();
        settle(&mut h, label, |app| {
            let s = &app.model.snapshot;
            s.spec.sort == key && s.spec.descending && loaded(app)
        });
        assert!(
            order_holds(&h.state().model.snapshot.rows, key, true),
            "{label} descending"
        );
        assert!(h.query_by_label(&format!("{label} ⏷")).is_some());
    }
}

#[test]
fn each_state_shows_its_indicator() {
    let lib = TempLib::new();
    library(&lib);
    let mut h = harness(&lib.db());
    settle(&mut h, "first load", loaded);
    assert_eq!(
        h.query_all_by_label("⌛ queued").count(),
        2,
        "pending_in_queue"
    );
    assert!(
        h.query_by_label_contains("40% · ").is_some(),
        "progress bar with percent and bytes"
    );
    assert!(
        h.query_by_label_contains("⟳ retry in").is_some(),
        "retry-pending indicator"
    );
    assert!(h.query_by_label("⚠ failed").is_some(), "error badge");
    assert!(
        h.query_by_label("source changed: logo.psd no longer matches")
            .is_some(),
        "its reason"
    );
    assert!(h.query_by_label("✔ done").is_some(), "completed mark");
    // Tabs count each state.
    assert!(h.query_by_label("Failed (2)").is_some());
    assert!(h.query_by_label("Active (1)").is_some());
}

#[test]
fn retry_and_cancel_from_the_context_menu_change_the_database() {
    let lib = TempLib::new();
    let store = library(&lib);
    let mut h = harness(&lib.db());
    settle(&mut h, "first load", loaded);
    let failed_id = |store: &Store| {
        store
            .list_ops(&Default::default())
            .unwrap()
            .into_iter()
            .find(|r| r.asset_name.as_deref() == Some("logo.psd"))
            .unwrap()
    };
    assert_eq!(failed_id(&store).state, OpState::PermanentlyFailed);
    h.get_by_label("logo.psd").click_secondary();
    h.run_steps(3);
    h.get_by_label("⟳ Retry now").click();
    settle(&mut h, "retry reaches the database", |_| {
        failed_id(&store).state == OpState::Queued
    });
    assert_eq!(failed_id(&store).retry_count, 0);

    let cancel_target = |store: &Store| {
        store
            .list_ops(&Default::default())
            .unwrap()
            .into_iter()
            .find(|r| r.asset_name.as_deref() == Some("drone.mp4"))
            .unwrap()
    };
    assert_eq!(cancel_target(&store).state, OpState::Queued);
    h.get_by_label("drone.mp4").click_secondary();
    h.run_steps(3);
    h.get_by_label("🗙 Cancel").click();
    settle(&mut h, "cancel reaches the database", |_| {
        cancel_target(&store).state == OpState::Cancelled
    });
    assert_eq!(
        cancel_target(&store).error_message.as_deref(),
        Some("cancelled by the user")
    );
}

#[test]
fn dropping_files_and_a_folder_queues_their_uploads() {
    let lib = TempLib::new();
    let store = library(&lib);
    let one = lib.write_file("drop/one.jpg", 3000, 11);
    lib.write_file("drop/album/two.jpg", 4000, 12);
    lib.write_file("drop/album/deeper/three.jpg", 5000, 13);
    let mut h = harness(&lib.db());
    settle(&mut h, "first load", loaded);
    let before = store.counts(None).unwrap().total;
    h.input_mut().dropped_files.push(Arc::new(Dropped(one)));
    h.input_mut()
        .dropped_files
        .push(Arc::new(Dropped(lib.path("drop/album"))));
    h.step();
    // Three files, each to both enabled providers.
    settle(&mut h, "uploads queued", |app| {
        !app.importing() && store.counts(None).unwrap().total == before + 6
    });
    let uploads: Vec<OpRow> = store
        .list_ops(&Default::default())
        .unwrap()
        .into_iter()
        .filter(|r| r.operation_type == OpType::Upload && r.state == OpState::Queued)
        .collect();
    for name in ["one.jpg", "two.jpg", "three.jpg"] {
        assert_eq!(
            uploads
                .iter()
                .filter(|r| r.asset_name.as_deref() == Some(name))
                .count(),
            2,
            "{name}"
        );
    }
    settle(&mut h, "the grid shows them", |app| {
        app.model.snapshot.view_len == before as usize + 6
    });
}

#[test]
fn a_drop_leaves_out_what_the_exclude_rules_say_and_the_status_bar_says_how_much() {
    let lib = TempLib::new();
    let store = library(&lib);
    lib.write_file("drop/one.jpg", 3000, 21);
    lib.write_file("drop/.DS_Store", 100, 22);
    lib.write_file("drop/node_modules/x.js", 100, 23);
    let mut h = harness(&lib.db());
    settle(&mut h, "first load", loaded);
    let before = store.counts(None).unwrap().total;
    h.input_mut()
        .dropped_files
        .push(Arc::new(Dropped(lib.path("drop"))));
    h.step();
    settle(&mut h, "the import ends", |app| {
        !app.importing() && store.counts(None).unwrap().total == before + 2
    });
    h.query_by_label(
        "added 1 file (2 uploads queued), 1 file and 1 folder skipped by exclude rules",
    )
    .expect("the status bar says what the drop added and what it left out");
}

#[test]
fn the_exclude_rules_window_checks_each_line_and_saves_the_list() {
    use egui::{Key, Modifiers};
    use egui_kittest::kittest::NodeT;
    let lib = TempLib::new();
    let _store = library(&lib);
    let mut h = harness(&lib.db());
    settle(&mut h, "first load", loaded);
    h.get_by_label("File").click();
    h.run_steps(2);
    h.get_by_label("Exclude rules…").click();
    settle_on(&mut h, "the defaults show", |h| {
        h.query_by_label("Patterns, one per line")
            .and_then(|n| n.value())
            .is_some_and(|v| v.contains(".DS_Store"))
    });
    h.get_by_label("Patterns, one per line").focus();
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.get_by_label("Patterns, one per line")
        .type_text("*.xmp\n{oops\ncache/");
    h.run_steps(3);
    assert!(
        h.query_by_label_contains("line 2: \"{oops\" is not a valid pattern")
            .is_some(),
        "the bad line is named"
    );
    assert!(h.get_by_label("Save").accesskit_node().is_disabled());
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.get_by_label("Patterns, one per line")
        .type_text("*.xmp\n\ncache/\n*.xmp");
    h.run_steps(3);
    h.get_by_label("Save").click();
    let check = Store::open(&lib.db()).unwrap();
    settle(&mut h, "the list is saved and the window closes", |_| {
        check.exclude_patterns().unwrap().is_some()
    });
    h.run_steps(5);
    assert_eq!(
        check.exclude_patterns().unwrap(),
        Some(vec!["*.xmp".to_string(), "cache/".to_string()]),
        "blank lines and the repeat are dropped"
    );
    assert!(h.query_by_label("Patterns, one per line").is_none());
}

#[test]
fn the_history_window_shows_each_providers_days_and_sets_the_retention() {
    use egui::{Key, Modifiers};
    use egui_kittest::kittest::NodeT;
    let lib = TempLib::new();
    let store = library(&lib);
    let mut h = harness(&lib.db());
    settle(&mut h, "first load", loaded);
    h.get_by_label("Queue").click();
    h.run_steps(2);
    h.get_by_label("History…").click();
    settle_on(&mut h, "the history shows", |h| {
        h.query_by_label("Keep completed operations for").is_some()
    });
    h.run_steps(2);
    // The fixture's one completed download and its two failed attempts, as
    // the reports counted them, under the providers' names.
    let daily = store.daily("2000-01-01").unwrap();
    let downloads: i64 = daily.iter().map(|d| d.totals.downloaded_ops).sum();
    let failed: i64 = daily.iter().map(|d| d.totals.failed_attempts).sum();
    assert_eq!((downloads, failed), (1, 2), "{daily:?}");
    assert!(
        h.query_by_label(
            "uploaded 0 · downloaded 1 (3.0 kB)\nverified 0 · deleted 0 · failed attempts 1"
        )
        .is_some()
    );
    assert_eq!(
        h.get_by_label("Keep completed operations for")
            .value()
            .as_deref(),
        Some("30d")
    );

    let field = "Keep completed operations for";
    h.get_by_label(field).focus();
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.get_by_label(field).type_text("soon");
    h.run_steps(3);
    assert!(h.query_by_label_contains("is not a duration").is_some());
    assert!(h.get_by_label("Save").accesskit_node().is_disabled());
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.get_by_label(field).type_text("7d");
    h.run_steps(3);
    h.get_by_label("Save").click();
    settle(&mut h, "the retention is kept", |_| {
        store.history_keep().unwrap() == Some(Duration::from_secs(7 * 86_400))
    });
    // The window says so (and so does the status bar).
    settle_on(&mut h, "the save is confirmed", |h| {
        h.query_all_by_label("completed operations are kept for 1w")
            .count()
            > 0
    });
}

#[test]
fn hovering_files_shows_the_drop_target() {
    let lib = TempLib::new();
    library(&lib);
    let mut h = harness(&lib.db());
    settle(&mut h, "first load", loaded);
    h.input_mut()
        .hovered_files
        .push(egui::HoveredFile::default());
    h.step();
    let painted = h
        .output()
        .shapes
        .iter()
        .any(|s| format!("{:?}", s.shape).contains("Drop files or folders"));
    assert!(painted, "the drop target is painted while files hover");
}

/// A retry whose time has come while no engine runs it (paused, or run by
/// nobody) reads "retrying" and stays so: the window asks to be drawn again
/// for nothing. (It asked every millisecond: an idle window spun a core and
/// a half at a million ops, the renderer included.)
#[test]
fn an_overdue_retry_does_not_keep_the_window_drawing() {
    let lib = TempLib::new();
    let _store = library(&lib);
    let overdue = rusqlite::Connection::open(lib.db())
        .unwrap()
        .execute(
            "UPDATE sync_operations SET next_attempt_at = '2000-01-01 00:00:00.000'
             WHERE status = 'failed' AND retry_count < max_retries",
            [],
        )
        .unwrap();
    assert!(overdue > 0);
    let mut h = harness(&lib.db());
    settle(&mut h, "the queue is read", loaded);
    let rows = &h.state().model.snapshot.rows;
    assert!(
        rows.iter().any(|r| r.state == OpState::RetryPending),
        "a retry shown"
    );
    assert_eq!(h.state().next_look(), None);
}
