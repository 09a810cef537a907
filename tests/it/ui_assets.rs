//! The Assets view of the real window (egui_kittest) over a library made by
//! the real binary and real folders: one asset in each health, the tabs'
//! and the status bar's counts, filters and sorting, and row actions that
//! reach the database (and the refusal to delete an asset's last verified
//! copy).

use std::path::Path;

use breakdex::store::{Health, OpStatus, OpType, Store};
use breakdex::ui::{App, AssetSort, View};
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

use crate::common::{TempLib, assert_no_panic, hash_of, output_of};
use crate::ui::{harness, settle};

fn arg(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The four files and their hashes: `safe` has two verified copies (the
/// policy's number), `at_risk` lost its copy on usb (deleted by a person,
/// so the engine leaves it), `damaged` has a copy found corrupt, `local` was
/// added after the run and has no copy yet.
struct Fixture {
    safe: String,
    at_risk: String,
    damaged: String,
    local: String,
}

fn library(lib: &TempLib) -> Fixture {
    // Two providers only: the new library's own folder goes.
    lib.ok(&["provider", "remove", "local-backup"]);
    for name in ["nas", "usb"] {
        let root = lib.path(name);
        lib.ok(&["provider", "add", "local", name, "--root", arg(&root)]);
    }
    lib.ok(&["policy", "set", "--min-copies", "2"]);
    let file = |i: u64| lib.write_file(&format!("photos/IMG_{i:04}.jpg"), 5_000 * i as usize, i);
    let files: Vec<_> = (1..=4).map(file).collect();
    let hashes: Vec<String> = files.iter().map(|f| hash_of(f)).collect();
    lib.ok(&[
        "add",
        "--provider",
        "nas",
        arg(&files[0]),
        arg(&files[1]),
        arg(&files[2]),
    ]);
    run(lib);
    lib.ok(&[
        "enqueue",
        "delete_remote",
        "--provider",
        "usb",
        "--hash",
        &hashes[1],
    ]);
    run(lib);
    // What a scrub that found the copy on usb rotten records (the window
    // runs no engine here, so nothing repairs it meanwhile).
    let conn = rusqlite::Connection::open(lib.db()).unwrap();
    let changed = conn
        .execute(
            "UPDATE asset_copies SET verify_status = 'corrupt'
             WHERE content_hash = ?1 AND provider_id = (SELECT id FROM sync_providers WHERE name = 'usb')",
            [&hashes[2]],
        )
        .unwrap();
    assert_eq!(changed, 1);
    lib.ok(&["add", "--provider", "nas", arg(&files[3])]);
    Fixture {
        safe: hashes[0].clone(),
        at_risk: hashes[1].clone(),
        damaged: hashes[2].clone(),
        local: hashes[3].clone(),
    }
}

fn run(lib: &TempLib) {
    let o = output_of(
        lib.cmd()
            .args(["run", "--until-idle"])
            .env("BREAKDEX_RETRY_BASE_MS", "20"),
    );
    assert_no_panic(&o);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// The window, switched to the Assets view with its shortcut, once every
/// asset of its view is read and shown.
fn assets_window(lib: &TempLib) -> Harness<'static, App> {
    let mut h = harness(&lib.db());
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::A);
    settle(&mut h, "the assets are read", shown);
    assert_eq!(h.state().view, View::Assets);
    h
}

fn shown(app: &App) -> bool {
    let s = &app.assets.snapshot;
    !s.loading && s.view_len > 0 && s.rows.len() == s.view_len
}

fn health_of(app: &App, hash: &str) -> Option<Health> {
    (app.assets.snapshot.rows.iter())
        .find(|r| r.row.content_hash == hash)
        .map(|r| r.health)
}

/// The ops of `kind` on the provider named `provider` for `hash`, queued.
fn queued(store: &Store, kind: OpType, provider: &str, hash: &str) -> usize {
    let id = store.require_provider(provider).unwrap().id;
    (store.list_ops(&Default::default()).unwrap().into_iter())
        .filter(|o| {
            o.operation_type == kind
                && o.provider_id == id
                && o.content_hash == hash
                && o.status == OpStatus::Queued
        })
        .count()
}

#[test]
fn each_asset_shows_its_health_and_the_counts_agree_everywhere() {
    let lib = TempLib::new();
    let f = library(&lib);
    let mut h = assets_window(&lib);
    let app = h.state();
    assert_eq!(health_of(app, &f.safe), Some(Health::Safe));
    assert_eq!(health_of(app, &f.at_risk), Some(Health::AtRisk));
    assert_eq!(health_of(app, &f.damaged), Some(Health::Damaged));
    assert_eq!(health_of(app, &f.local), Some(Health::LocalOnly));
    for badge in ["✔ safe", "⚠ at risk", "✖ damaged", "🖴 local only"] {
        assert_eq!(h.query_all_by_label(badge).count(), 1, "{badge}");
    }
    for tab in [
        "All (4)",
        "Safe (1)",
        "At risk (1)",
        "Damaged (1)",
        "Local only (1)",
    ] {
        assert!(h.query_by_label(tab).is_some(), "tab {tab}");
    }
    assert!(h.query_by_label("Assets (4)").is_some());
    // The status bar's line, and the command line, say the same.
    assert!(
        h.query_by_label("1 safe · 1 at risk · 1 damaged · 1 local only")
            .is_some()
    );
    let status: serde_json::Value =
        serde_json::from_slice(&lib.ok(&["status", "--json"]).stdout).unwrap();
    for key in ["safe", "at-risk", "damaged", "local-only"] {
        assert_eq!(status["health"][key], 1, "{key}: {status}");
    }
    // Copies: the safe asset counts two of two enabled providers; the
    // damaged one holds two but only one counts.
    assert_eq!(h.query_all_by_label("2 of 2").count(), 1);
    assert!(h.query_by_label("1 of 2 · 2 held").is_some());
    // The first path, with its folder.
    assert!(h.query_by_label_contains("IMG_0001.jpg").is_some());

    // A tab shows only its health.
    h.get_by_label("Damaged (1)").click();
    settle(&mut h, "the damaged tab", |app| {
        let s = &app.assets.snapshot;
        s.spec.health == Some(Health::Damaged) && s.view_len == 1 && s.rows.len() == 1
    });
    assert_eq!(
        h.state().assets.snapshot.rows[0].row.content_hash,
        f.damaged
    );
    h.get_by_label("All (4)").click();
    settle(&mut h, "all again", |app| {
        app.assets.snapshot.view_len == 4 && shown(app)
    });

    // Back in the queue, an op the engine queued on its own says why.
    h.get_by_label_contains("Queue (").click();
    settle(&mut h, "the queue", |app| {
        app.view == View::Queue && crate::ui::loaded(app)
    });
    assert_eq!(
        h.query_all_by_label("upload (policy)").count(),
        3,
        "the policy's second copies, on usb"
    );
}

#[test]
fn health_sorts_the_worst_first_and_search_finds_a_path() {
    let lib = TempLib::new();
    let f = library(&lib);
    let mut h = assets_window(&lib);
    h.get_by_label("Health").click();
    settle(&mut h, "sorted by health", |app| {
        app.assets.snapshot.spec.sort == AssetSort::Health && shown(app)
    });
    let order: Vec<Health> = (h.state().assets.snapshot.rows.iter())
        .map(|r| r.health)
        .collect();
    assert_eq!(
        order,
        [
            Health::Damaged,
            Health::AtRisk,
            Health::LocalOnly,
            Health::Safe
        ]
    );
    h.get_by_label("Health ⏶").click();
    settle(&mut h, "reversed", |app| {
        app.assets.snapshot.spec.descending && shown(app)
    });
    assert_eq!(h.state().assets.snapshot.rows[0].health, Health::Safe);

    // The search field filters the view shown: here the assets.
    h.get_by_label("Search:").click();
    h.get_by_label("Search:").type_text("img_0004");
    settle(&mut h, "the search", |app| {
        let s = &app.assets.snapshot;
        s.spec.text == "img_0004" && s.view_len == 1 && s.rows.len() == 1
    });
    assert_eq!(h.state().assets.snapshot.rows[0].row.content_hash, f.local);
    assert_eq!(
        h.state().spec().text,
        "",
        "the queue's own search is untouched"
    );
}

/// What the view's rows show of the column sorted by `sort`, in their order.
fn column_values(app: &App, sort: AssetSort) -> Vec<(i64, String)> {
    (app.assets.snapshot.rows.iter())
        .map(|r| match sort {
            AssetSort::Name => (0, r.row.first_path.clone().unwrap_or_default()),
            AssetSort::Size => (r.row.size_bytes, String::new()),
            AssetSort::Added => (r.row.rowid, String::new()),
            AssetSort::Copies => (
                (r.counted as i64) << 16 | r.row.copies.len() as i64,
                String::new(),
            ),
            AssetSort::Verified => (r.oldest_verified_s.map_or(-1, i64::from), String::new()),
            AssetSort::Health => {
                let worst_first = [
                    Health::Damaged,
                    Health::AtRisk,
                    Health::LocalOnly,
                    Health::Safe,
                ];
                let rank = worst_first.iter().position(|h| *h == r.health).unwrap();
                (rank as i64, String::new())
            }
        })
        .collect()
}

#[test]
fn every_column_sorts_its_rows_both_ways() {
    let lib = TempLib::new();
    library(&lib);
    let mut h = assets_window(&lib);
    // (Added last: the view starts sorted by it.)
    for (label, sort) in [
        ("Asset", AssetSort::Name),
        ("Size", AssetSort::Size),
        ("Copies", AssetSort::Copies),
        ("Oldest verification", AssetSort::Verified),
        ("Health", AssetSort::Health),
        ("Added", AssetSort::Added),
    ] {
        h.get_by_label(label).click();
        settle(&mut h, label, |app| {
            let spec = &app.assets.snapshot.spec;
            spec.sort == sort && !spec.descending && shown(app)
        });
        let up = column_values(h.state(), sort);
        assert_eq!(up.len(), 4);
        assert!(up.is_sorted(), "{label}: {up:?}");
        assert!(
            up.first() != up.last(),
            "{label} tells the assets apart: {up:?}"
        );
        h.get_by_label(&format!("{label} ⏶")).click();
        settle(&mut h, label, |app| {
            let spec = &app.assets.snapshot.spec;
            spec.sort == sort && spec.descending && shown(app)
        });
        let mut down = column_values(h.state(), sort);
        down.reverse();
        assert!(down.is_sorted(), "{label}, reversed: {down:?}");
        assert_eq!(down.first(), up.first(), "{label}");
        assert_eq!(down.last(), up.last(), "{label}");
    }
}

#[test]
fn row_actions_queue_verifies_uploads_and_deletes_but_never_of_the_last_verified_copy() {
    let lib = TempLib::new();
    let f = library(&lib);
    let store = Store::open(&lib.db()).unwrap();
    let mut h = assets_window(&lib);

    // Verify now: one verify per copy.
    h.get_by_label("IMG_0001.jpg").click_secondary();
    h.run_steps(3);
    h.get_by_label("✔ Verify now").click();
    settle(&mut h, "the verifies are queued", |_| {
        queued(&store, OpType::Verify, "nas", &f.safe) == 1
            && queued(&store, OpType::Verify, "usb", &f.safe) == 1
    });

    // Upload to: the local-only asset, to usb.
    h.get_by_label("IMG_0004.jpg").click_secondary();
    h.run_steps(3);
    h.get_by_label("Upload to").click();
    h.run_steps(3);
    h.get_by_label("usb").click();
    settle(&mut h, "the upload is queued", |_| {
        queued(&store, OpType::Upload, "usb", &f.local) == 1
    });

    // Delete the copy on: the at-risk asset's copy on nas is its last
    // verified one, so the entry is refused (shown, not clickable).
    h.get_by_label("IMG_0002.jpg").click_secondary();
    h.run_steps(3);
    h.get_by_label("Delete the copy on").click();
    h.run_steps(3);
    let nas = h.get_by_label("nas");
    assert!(
        nas.accesskit_node().is_disabled(),
        "the last verified copy cannot be deleted"
    );
    nas.click();
    h.key_press(Key::Escape);
    h.run_steps(3);

    // Selected with the safe asset, the model still refuses it, says why,
    // and deletes only the copy that is not the last.
    h.get_by_label("IMG_0001.jpg").click();
    h.get_by_label("IMG_0002.jpg")
        .click_modifiers(Modifiers::COMMAND);
    h.run_steps(3);
    h.get_by_label("IMG_0002.jpg").click_secondary();
    h.run_steps(3);
    h.get_by_label("Delete the copy on (2 assets)").click();
    h.run_steps(3);
    h.get_by_label("nas").click();
    settle(&mut h, "the refusal is said", |app| {
        (app.assets.snapshot.error.as_deref()).is_some_and(|e| e.contains("only verified copy"))
    });
    assert_eq!(queued(&store, OpType::DeleteRemote, "nas", &f.safe), 1);
    assert_eq!(queued(&store, OpType::DeleteRemote, "nas", &f.at_risk), 0);
    assert!(
        h.query_by_label_contains("IMG_0002.jpg: it is the only verified copy")
            .is_some(),
        "the status bar says which and why"
    );
}

#[test]
fn the_policy_set_in_the_window_is_kept_and_judges_the_badges() {
    let lib = TempLib::new();
    let f = library(&lib);
    let store = Store::open(&lib.db()).unwrap();
    let mut h = assets_window(&lib);
    h.get_by_label("⚙ Policy: 2 copies").click();
    h.run_steps(3);
    // A bad value says why, and Save waits for a good one.
    h.get_by_label("Copies to keep of each asset").focus();
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.get_by_label("Copies to keep of each asset")
        .type_text("0");
    h.run_steps(3);
    assert!(h.query_by_label("a whole number, 1 or more").is_some());
    assert!(h.get_by_label("Save").accesskit_node().is_disabled());
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.get_by_label("Copies to keep of each asset")
        .type_text("1");
    h.run_steps(3);
    h.get_by_label("Save").click();
    settle(&mut h, "the policy is kept and the badges follow", |app| {
        health_of(app, &f.at_risk) == Some(Health::Safe)
    });
    assert_eq!(store.policy().unwrap().min_copies, 1);
    assert_eq!(
        store.scrub().unwrap().every.as_secs(),
        30 * 86_400,
        "the rest kept"
    );
    assert!(h.query_by_label("⚙ Policy: 1 copy").is_some());
    assert!(
        h.query_by_label("2 safe · 0 at risk · 1 damaged · 1 local only")
            .is_some()
    );
}
