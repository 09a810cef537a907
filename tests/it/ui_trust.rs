//! The window must never say something false: what a new user met in the
//! window (issue 17), each through the real app under egui_kittest, with its
//! own engine where the engine is part of the story.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use breakdex::providers::register::{NewProvider, Target};
use breakdex::store::{OpEvent, OpState, Store};
use breakdex::ui::{Action, App, Command, Request};
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use crate::common::*;
use crate::desktop::op_state;
use crate::ui::{harness, library, loaded, settle};

type H = Harness<'static, App>;

/// The window as `cargo run` opens it: its own engine, running.
fn window_with_engine(lib: &TempLib) -> H {
    let db = lib.db();
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(move |cc| App::new(&db, Some(false), &cc.egui_ctx).expect("app"))
}

/// Steps the window until `done` holds, for at most `limit`.
fn step_until(h: &mut H, limit: Duration, what: &str, done: impl Fn(&App) -> bool) {
    let deadline = Instant::now() + limit;
    while !done(h.state()) {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Adds a local provider through the model thread, as the providers
/// window's form does.
fn add_local_provider(h: &mut H, name: &str, root: PathBuf) {
    let (reply, answer) = std::sync::mpsc::channel();
    h.state().model.send(Request::Act(Action::AddProvider {
        spec: NewProvider {
            name: name.into(),
            concurrency: 4,
            target: Target::Local { root },
        },
        secret: None,
        encrypt: None,
        reply,
    }));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        h.step();
        match answer.try_recv() {
            Ok(Ok(_)) => return,
            Ok(Err(e)) => panic!("the provider was refused: {e}"),
            Err(_) => assert!(Instant::now() < deadline, "no answer to the add"),
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Completed uploads to the provider named `name`.
fn completed_on(lib: &TempLib, name: &str) -> i64 {
    lib.read_db()
        .query_row(
            "SELECT COUNT(*) FROM sync_operations o JOIN sync_providers p ON p.id = o.provider_id
             WHERE p.name = ?1 AND o.status = 'completed'",
            [name],
            |r| r.get(0),
        )
        .unwrap()
}

/// A drive added in the window, unplugged while nine uploads wait for it,
/// and plugged back (its folder made again): the window's own engine
/// uploads all nine within the offline re-check, and the providers panel
/// and the engine agree on whether it is there.
#[test]
fn a_drive_that_comes_back_resumes_under_the_windows_engine() {
    let lib = TempLib::new();
    let mut h = window_with_engine(&lib);
    let usb = lib.path("usb");
    add_local_provider(&mut h, "usb", usb.clone());
    std::fs::remove_dir(&usb).unwrap();
    let files: Vec<PathBuf> = (0..9)
        .map(|i| lib.write_file(&format!("in/f{i}.bin"), 5000 + i, i as u64))
        .collect();
    lib.ok(&["add", "--provider", "usb", lib.path("in").to_str().unwrap()]);
    step_until(
        &mut h,
        Duration::from_secs(30),
        "the panel says usb is offline",
        |app| {
            (app.model.snapshot.providers.iter())
                .any(|p| p.row.name == "usb" && matches!(p.online, Some(Err(_))))
        },
    );
    // Given the time to try at least once, and find the drive missing.
    let tried = Instant::now() + Duration::from_secs(1);
    while Instant::now() < tried {
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(completed_on(&lib, "usb"), 0);
    std::fs::create_dir(&usb).unwrap();
    // The engine looks again within 10 s (OFFLINE_RECHECK); a slow machine
    // gets twice that and more.
    step_until(&mut h, Duration::from_secs(30), "the nine uploads", |_| {
        completed_on(&lib, "usb") == 9
    });
    for f in &files {
        assert_eq!(
            std::fs::read(object_path(&usb, &hash_of(f))).unwrap(),
            std::fs::read(f).unwrap()
        );
    }
    step_until(
        &mut h,
        Duration::from_secs(10),
        "the panel says usb is online",
        |app| {
            (app.model.snapshot.providers.iter())
                .any(|p| p.row.name == "usb" && p.online == Some(Ok(())))
        },
    );
}

/// Esc with Help (or any dialog) open closes it and goes no further: the
/// selected op is not cancelled (under Xvfb, closing Help cancelled it).
#[test]
fn escape_closes_help_and_cancels_nothing() {
    let lib = TempLib::new();
    let store = library(&lib);
    let mut h = harness(&lib.db());
    settle(&mut h, "first load", loaded);
    h.get_by_label("drone.mp4").click();
    h.run_steps(2);
    assert_eq!(h.state().selected.len(), 1);
    h.key_press(Key::F1);
    h.run_steps(3);
    assert!(h.state().help_open);
    h.key_press(Key::Escape);
    h.run_steps(3);
    assert!(!h.state().help_open, "Esc closed Help");
    std::thread::sleep(Duration::from_millis(300));
    h.run_steps(2);
    assert_eq!(
        op_state(&store, "drone.mp4"),
        OpState::Queued,
        "and cancelled nothing"
    );
    // With nothing open, Esc is the row key again.
    h.key_press(Key::Escape);
    settle(&mut h, "cancelled", |_| {
        op_state(&store, "drone.mp4") == OpState::Cancelled
    });
}

/// Esc on several rows asks first; a cancel then reads as cancelled (grey,
/// its own tab), not as a failure: no failure notice, not in the Failed
/// tab, not run again by "Retry all failed", and "—" retries spent.
#[test]
fn a_cancel_asks_first_and_is_not_a_failure() {
    let lib = TempLib::new();
    let store = library(&lib);
    let mut h = harness(&lib.db());
    settle(&mut h, "first load", loaded);
    let failed_tab = |h: &H| h.state().model.snapshot.tab_counts[4 - 1];
    let failed_before = failed_tab(&h);
    h.get_by_label("drone.mp4").click();
    h.run_steps(2);
    h.get_by_label("cat.heic")
        .click_modifiers(Modifiers::COMMAND);
    h.run_steps(2);
    assert_eq!(h.state().selected.len(), 2);

    // Esc asks; Esc again keeps them.
    h.key_press(Key::Escape);
    h.run_steps(3);
    assert!(
        h.query_by_label("Cancel 2 operations?").is_some(),
        "asked first"
    );
    h.key_press(Key::Escape);
    h.run_steps(3);
    assert!(h.query_by_label("Cancel 2 operations?").is_none());
    std::thread::sleep(Duration::from_millis(300));
    h.run_steps(2);
    assert_eq!(op_state(&store, "drone.mp4"), OpState::Queued);

    h.key_press(Key::Escape);
    h.run_steps(3);
    h.get_by_label("Cancel 2 operations").click();
    settle(&mut h, "both cancelled", |_| {
        op_state(&store, "drone.mp4") == OpState::Cancelled
            && op_state(&store, "cat.heic") == OpState::Cancelled
    });
    settle(&mut h, "the window shows them cancelled", |app| {
        app.model.snapshot.tab_counts[5] == 2
    });
    assert!(h.query_by_label("Cancelled (2)").is_some());
    assert_eq!(failed_tab(&h), failed_before, "a cancel is not a failure");
    assert_eq!(h.query_all_by_label("🗙 cancelled").count(), 2);
    assert!(
        !h.state().notices.shown.iter().any(|n| n.failure),
        "no failure notice for a cancel"
    );

    // "Retry all failed" runs the failed one again, not the cancelled ones.
    h.state_mut().command(Command::RetryAllFailed);
    settle(&mut h, "the failed op queued again", |_| {
        op_state(&store, "logo.psd") == OpState::Queued
    });
    assert_eq!(op_state(&store, "drone.mp4"), OpState::Cancelled);
    assert_eq!(op_state(&store, "cat.heic"), OpState::Cancelled);
}

/// Remove of several rows asks first too.
#[test]
fn removing_several_rows_asks_first() {
    let lib = TempLib::new();
    let store = library(&lib);
    let mut h = harness(&lib.db());
    settle(&mut h, "first load", loaded);
    let total = store.counts(None).unwrap().total;
    h.get_by_label("drone.mp4").click();
    h.run_steps(2);
    h.get_by_label("cat.heic")
        .click_modifiers(Modifiers::COMMAND);
    h.run_steps(2);
    h.key_press(Key::Delete);
    h.run_steps(3);
    assert_eq!(
        store.counts(None).unwrap().total,
        total,
        "nothing removed yet"
    );
    h.get_by_label("Remove 2 operations").click();
    settle(&mut h, "both removed", |_| {
        store.counts(None).unwrap().total == total - 2
    });
}

/// An S3 provider at an address where nothing answers: saving it says so
/// in plain words, the providers window never calls it online, and Test
/// gives the same reason as `breakdex status`.
#[test]
fn a_server_that_does_not_answer_is_never_called_online() {
    let lib = TempLib::new();
    let mut h = harness(&lib.db());
    settle(&mut h, "first load", |app| !app.model.snapshot.loading);
    let port = crate::remote::free_port();
    let (reply, answer) = std::sync::mpsc::channel();
    h.state().model.send(Request::Act(Action::AddProvider {
        spec: NewProvider {
            name: "dead-s3".into(),
            concurrency: 4,
            target: Target::S3 {
                endpoint: format!("http://127.0.0.1:{port}"),
                bucket: "photos".into(),
                region: "us-east-1".into(),
                prefix: None,
                path_style: true,
                access_key_id: "AKIA".into(),
            },
        },
        secret: Some(breakdex::secrets::Secret::new("not-a-real-secret")),
        encrypt: None,
        reply,
    }));
    let said = loop {
        h.step();
        if let Ok(said) = answer.try_recv() {
            break said.expect("saved");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let reason = format!("nothing answers at 127.0.0.1:{port}");
    assert!(said.contains(&reason), "the save says so: {said}");
    let status = |app: &App| {
        (app.model.snapshot.providers.iter())
            .find(|p| p.row.name == "dead-s3")
            .map(|p| p.online.clone())
    };
    step_until(
        &mut h,
        Duration::from_secs(30),
        "the panel's verdict",
        |app| matches!(status(app), Some(Some(_))),
    );
    match status(h.state()) {
        Some(Some(Err(why))) => assert!(why.contains(&reason), "{why}"),
        other => panic!("a server that does not answer shown as {other:?}"),
    }
    let id = (h.state().model.snapshot.providers.iter())
        .find(|p| p.row.name == "dead-s3")
        .unwrap()
        .row
        .id
        .clone();
    h.state().model.send(Request::Act(Action::TestProvider(id)));
    step_until(
        &mut h,
        Duration::from_secs(30),
        "the test's verdict",
        |app| (app.model.snapshot.error.as_deref()).is_some_and(|e| e.contains("dead-s3")),
    );
    let error = h.state().model.snapshot.error.clone().unwrap();
    assert!(error.contains(&reason), "{error}");
    // The command line says the same.
    let status = lib.ok(&["status"]);
    assert!(stdout(&status).contains(&reason), "{}", stdout(&status));
}

/// A provider added in the window is offered the existing library, and
/// "Copy them" queues the uploads.
#[test]
fn a_provider_added_in_the_window_is_offered_the_library() {
    let lib = TempLib::new();
    for i in 0..3 {
        lib.write_file(&format!("in/f{i}.bin"), 2000 + i, i as u64);
    }
    lib.ok(&["add", lib.path("in").to_str().unwrap()]);
    let mut h = harness(&lib.db());
    settle(&mut h, "first load", loaded);
    add_local_provider(&mut h, "usb", lib.path("usb"));
    settle(&mut h, "the offer", |app| {
        app.model.snapshot.offer.is_some()
    });
    assert!(
        h.query_by_label_contains("Copy the existing 3 assets")
            .is_some(),
        "the offer says what and how much"
    );
    h.get_by_label("Copy them").click();
    let queued_on_usb = || {
        lib.read_db()
            .query_row(
                "SELECT COUNT(*) FROM sync_operations o JOIN sync_providers p ON p.id = o.provider_id
                 WHERE p.name = 'usb' AND o.operation_type = 'upload'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
    };
    settle(&mut h, "the uploads queued", |_| queued_on_usb() == 3);
    assert!(h.query_by_label("Copy the library?").is_none());
}

/// Dialogs open centred over the window, not pinned under the menu bar;
/// Set priority opens focused and filled with the op's priority.
#[test]
fn dialogs_open_centred_and_set_priority_holds_the_current_value() {
    let lib = TempLib::new();
    let _store = library(&lib);
    let mut h = harness(&lib.db());
    settle(&mut h, "first load", loaded);
    // interview.wav has priority 7 in the fixture.
    h.get_by_label("interview.wav").click();
    h.run_steps(2);
    h.key_press(Key::P);
    h.run_steps(4);
    let screen = h.ctx.content_rect();
    let title = h.get_by_label("Set priority").rect();
    let field = h
        .query_all_by_role(egui::accesskit::Role::TextInput)
        .find(|n| n.is_focused())
        .expect("the priority field has the focus at once");
    assert_eq!(
        field.value().as_deref(),
        Some("7"),
        "filled with the current value"
    );
    assert!(
        (title.center().x - screen.center().x).abs() < 60.0 && title.top() > screen.top() + 150.0,
        "centred: {title:?} in {screen:?}"
    );
    h.key_press(Key::Escape);
    h.run_steps(2);
    h.state_mut().command(Command::Help);
    h.run_steps(4);
    // (The window's title, not the menu entry of the same name.)
    let help = h
        .query_all_by_label("Keyboard shortcuts")
        .map(|n| n.rect())
        .find(|r| r.top() > screen.top() + 60.0)
        .expect("the Help window, below the menu bar");
    assert!(
        (help.center().x - screen.center().x).abs() < 60.0,
        "{help:?} in {screen:?}"
    );
}

/// Search finds what a person types: "CAFE" finds "Café", and a folder's
/// name finds the assets added under it (two IMG_0001.jpg from different
/// folders are told apart by it).
#[test]
fn search_folds_case_and_accents_and_looks_at_folders() {
    let lib = TempLib::new();
    queued_assets(
        &lib,
        &[
            ("Café.jpg", "menus/Café.jpg"),
            ("IMG_0001.jpg", "2026/Trip Lisbon/IMG_0001.jpg"),
            ("IMG_0001.jpg", "2025/porto/IMG_0001.jpg"),
        ],
    );
    let mut h = harness(&lib.db());
    settle(&mut h, "first load", loaded);
    let search = |h: &mut H, text: &str| {
        h.get_by_label("Search:").click();
        h.run_steps(2);
        h.key_press_modifiers(Modifiers::COMMAND, Key::A);
        h.get_by_label("Search:").type_text(text);
        h.run_steps(2);
    };
    search(&mut h, "CAFE");
    settle(&mut h, "CAFE finds Café", |app| {
        let s = &app.model.snapshot;
        s.spec.text == "CAFE" && s.view_len == 1 && s.rows.len() == 1
    });
    assert_eq!(
        h.state().model.snapshot.rows[0].asset_name.as_deref(),
        Some("Café.jpg")
    );
    search(&mut h, "lisbon");
    settle(&mut h, "a folder's name finds its assets", |app| {
        let s = &app.model.snapshot;
        s.spec.text == "lisbon" && s.view_len == 1 && s.rows.len() == 1
    });
    let hash = blake3::hash(b"2026/Trip Lisbon/IMG_0001.jpg")
        .to_hex()
        .to_string();
    assert_eq!(h.state().model.snapshot.rows[0].content_hash, hash);
    // The Folder column tells the two IMG_0001.jpg apart.
    search(&mut h, "IMG_0001");
    settle(&mut h, "both IMG_0001.jpg", |app| {
        let s = &app.model.snapshot;
        s.spec.text == "IMG_0001" && s.view_len == 2 && s.rows.len() == 2
    });
    assert!(h.query_by_label("2026/Trip Lisbon").is_some());
    assert!(h.query_by_label("2025/porto").is_some());
}

/// The op of the fixture in this state.
fn op_in(store: &Store, state: OpState) -> breakdex::store::OpRow {
    let all = store.list_ops(&Default::default()).unwrap();
    all.into_iter()
        .find(|o| o.state == state)
        .expect("the fixture has it")
}

/// Every count of one thing agrees: the status bar says the tabs' numbers
/// (and which of the failed will retry), a running op's bar and its
/// Progress column give one percent, a failed op shows no progress, and an
/// op that an error no retry can fix stopped reads "not retried", not
/// "3 of 3".
#[test]
fn every_count_of_one_thing_agrees() {
    let lib = TempLib::new();
    let mut store = library(&lib);
    // 89.7% done: a bar that rounds would say 90% beside a column's 89%.
    let running = op_in(&store, OpState::InProgress);
    store
        .apply(
            "test",
            &[OpEvent::Progress {
                id: running.id.clone(),
                bytes: running.total_bytes * 897 / 1000,
                total: running.total_bytes,
            }],
        )
        .unwrap();
    let mut h = harness(&lib.db());
    settle(&mut h, "first load", loaded);
    assert!(h.query_by_label("Failed (2)").is_some());
    assert!(
        h.query_by_label(
            "2 queued · 1 active · 2 failed (1 will retry) · 1 completed · 0 cancelled"
        )
        .is_some(),
        "the status bar counts as the tabs do"
    );
    assert!(h.query_by_label_contains("89% · ").is_some(), "the bar");
    assert!(h.query_by_label("89%").is_some(), "its column");
    assert!(h.query_by_label_contains("90%").is_none());
    // Only the completed op is whole; the failed one (its bytes were all
    // sent) shows none.
    assert_eq!(h.query_all_by_label("100%").count(), 1);
    let failed = op_in(&store, OpState::PermanentlyFailed);
    assert_eq!(failed.bytes_transferred, failed.total_bytes);
    assert_eq!((failed.retry_count, failed.failed_attempts), (3, 1));
    assert!(h.query_by_label("not retried").is_some());
    assert!(
        h.query_by_label("1 of 3").is_some(),
        "the one that will retry"
    );
    assert!(h.query_by_label("3 of 3").is_none());

    // Filtered to one provider, the tabs and the status bar still agree.
    let beta = store.providers().unwrap();
    let beta = beta.iter().find(|p| p.name == "beta-nas").unwrap();
    let mut spec = h.state().spec().clone();
    spec.provider = Some(beta.id.clone());
    h.state().model.send(Request::View(spec));
    settle(&mut h, "filtered", |app| {
        app.model.snapshot.spec.provider.is_some() && loaded(app)
    });
    let s = h.state().model.snapshot.clone();
    let c = s.tab_counts;
    let line = format!(
        "beta-nas: {} queued · {} active · {} failed{} · {} completed · {} cancelled",
        c[1],
        c[2],
        c[3],
        if s.retry_pending > 0 {
            format!(" ({} will retry)", s.retry_pending)
        } else {
            String::new()
        },
        c[4],
        c[5]
    );
    assert_eq!(c[0], 3, "beta-nas has half of the six");
    assert!(h.query_by_label(&line).is_some(), "{line}");
}

/// Ops waiting for a provider that is unplugged, or disabled, say so in
/// their Status and in the Queued tab's count, and the time left counts
/// only bytes that can move.
#[test]
fn ops_waiting_for_a_provider_say_why() {
    let lib = TempLib::new();
    let mut store = library(&lib);
    let mut h = harness(&lib.db());
    settle(&mut h, "first load", loaded);
    assert_eq!(h.query_all_by_label("⌛ queued").count(), 2);
    let remaining = h.state().model.snapshot.remaining_bytes;
    std::fs::remove_dir_all(lib.path("alpha-drive")).unwrap();
    settle(&mut h, "alpha-drive found offline", |app| {
        app.model.snapshot.waiting == 1
    });
    assert!(h.query_by_label("⏸ waiting: alpha-drive offline").is_some());
    assert!(h.query_by_label("Queued (2, 1 waiting)").is_some());
    assert_eq!(h.query_all_by_label("⌛ queued").count(), 1);
    assert!(
        h.state().model.snapshot.remaining_bytes < remaining,
        "an offline provider's bytes are not counted in the time left"
    );
    let beta = store.providers().unwrap();
    let beta = beta.iter().find(|p| p.name == "beta-nas").unwrap();
    store.set_provider_enabled(&beta.id, false).unwrap();
    settle(&mut h, "beta-nas disabled", |app| {
        app.model.snapshot.waiting == 2
    });
    assert!(h.query_by_label("⏸ waiting: beta-nas disabled").is_some());
    assert!(
        h.query_by_label(
            "2 queued (2 waiting) · 1 active · 2 failed (1 will retry) · 1 completed · 0 cancelled"
        )
        .is_some()
    );
    assert_eq!(h.state().model.snapshot.remaining_bytes, 0);
}

/// File names in scripts egui's own fonts lack (Japanese, Arabic, Hebrew,
/// Devanagari) are drawn with the system's fonts, found as the real window
/// finds them (eframe's system font provider): the harness panics at a
/// glyph no font has, and each name's glyphs are all there.
#[test]
fn file_names_in_every_script_are_drawn_with_system_fonts() {
    let lib = TempLib::new();
    let names = [
        "東京タワー_夜景.jpg",
        "صورة_العائلة.png",
        "תמונה_משפחתית.jpg",
        "दिल्ली_यात्रा.png",
    ];
    // Each dropped on its own: its path is its name.
    let assets: Vec<(&str, &str)> = names.iter().map(|n| (*n, *n)).collect();
    queued_assets(&lib, &assets);
    let db = lib.db();
    let mut h: H = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(move |cc| {
            cc.egui_ctx.add_font_provider(std::sync::Arc::new(
                egui_system_font_provider::SystemFontProvider::new(),
            ));
            App::new(&db, None, &cc.egui_ctx).expect("app")
        });
    settle(&mut h, "first load", loaded);
    for name in names {
        assert!(h.query_by_label(name).is_some(), "{name} is shown");
        let drawn = h
            .ctx
            .fonts_mut(|f| f.has_glyphs(&egui::FontId::proportional(14.0), name));
        assert!(drawn, "a font has every glyph of {name}");
    }
}

/// "Add files…" on a desktop with no file dialog (no XDG desktop portal,
/// no zenity): the window says so and shows its own dialog, and the files
/// chosen in it are added. The desktop is made so for real: the window runs
/// in a child process with no session bus, no display and no zenity.
#[test]
fn adding_files_works_on_a_desktop_without_a_file_dialog() {
    let home = tempfile::tempdir().unwrap();
    for name in ["a.jpg", "b.jpg"] {
        std::fs::write(home.path().join(name), name.repeat(100)).unwrap();
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "ui_trust::add_files_in_the_windows_own_dialog",
            "--ignored",
            "--nocapture",
        ])
        .env_clear()
        .env("HOME", home.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.contains("1 passed"),
        "{said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The window's half of the test above (run by it, in a bare environment).
#[test]
#[ignore = "run by adding_files_works_on_a_desktop_without_a_file_dialog"]
fn add_files_in_the_windows_own_dialog() {
    let home = PathBuf::from(std::env::var_os("HOME").unwrap());
    let lib = TempLib::new();
    queued_assets(&lib, &[]);
    let mut h = harness(&lib.db());
    settle(&mut h, "first load", |app| !app.model.snapshot.loading);
    h.state_mut().command(Command::AddFiles);
    step_until(
        &mut h,
        Duration::from_secs(20),
        "the window says there is no file dialog",
        |app| (app.notices.shown.iter()).any(|n| n.title == "This desktop has no file dialog"),
    );
    h.run_steps(2);
    h.get_by_label("🗋 a.jpg").click();
    h.run_steps(2);
    h.get_by_label("🗋 b.jpg").click_modifiers(Modifiers::CTRL);
    h.run_steps(2);
    h.get_by_label("Open").click();
    settle(&mut h, "both files queued", |app| {
        app.model.snapshot.tab_counts[1] == 2
    });
    let names: Vec<String> = (h.state().model.snapshot.rows.iter())
        .filter_map(|r| r.asset_name.clone())
        .collect();
    assert!(names.contains(&"a.jpg".to_string()) && names.contains(&"b.jpg".to_string()));
    // The next pick goes straight to the window's own dialog.
    assert!(h.state().picker.desktop_has_none);
    h.state_mut().command(Command::AddFiles);
    h.run_steps(2);
    assert!(h.query_by_label("🗋 a.jpg").is_some());
    assert!(home.join("a.jpg").exists());
}

/// At 900 points wide the grid's columns are all in the window (none behind
/// a sideways scroll), the name keeps the width it wants, and the two least
/// useful (the hash, the time it was queued) are left out, said at the end
/// of the header; and the providers window's S3 form can be scrolled to its
/// Save button at 900x600.
#[test]
fn a_900_point_window_shows_every_column_and_reaches_save() {
    let lib = TempLib::new();
    library(&lib);
    let db = lib.db();
    let mut h: H = Harness::builder()
        .with_size(egui::vec2(900.0, 600.0))
        .build_eframe(move |cc| App::new(&db, None, &cc.egui_ctx).expect("app"));
    settle(&mut h, "first load", loaded);
    for header in [
        "Asset",
        "Folder",
        "Provider",
        "Operation",
        "Status",
        "Priority",
        "Progress",
        "Retries",
        "Size",
        "Started",
        "Completed",
    ] {
        let rect = h.get_by_label(header).rect();
        assert!(
            rect.right() <= 900.0 && rect.width() > 10.0,
            "{header} at {rect:?}"
        );
    }
    let name = h.get_by_label("Asset").rect();
    let provider = h.get_by_label("Folder").rect();
    assert!(
        provider.left() - name.left() >= 170.0,
        "the name's column is {} wide",
        provider.left() - name.left()
    );
    for gone in ["Hash", "Created"] {
        assert!(h.query_by_label(gone).is_none(), "{gone} is shown");
    }
    // The end of the header says how many are left out (its tooltip, which).
    let more = h.get_by_label("+2").rect();
    assert!(more.right() <= 900.0, "+2 at {more:?}");
    h.state_mut().command(Command::Providers);
    h.run_steps(3);
    h.get_by_label("➕ Add a provider…").click();
    h.run_steps(3);
    h.get_by_label("S3-compatible").click();
    h.run_steps(3);
    h.get_by_label("Save").scroll_to_me();
    h.run_steps(3);
    let save = h.get_by_label("Save").rect();
    assert!(
        save.bottom() <= 600.0 && save.top() >= 0.0,
        "Save at {save:?}"
    );
}

/// A library with a local provider "usb" and an upload queued to it of each
/// asset, given as (name, the path it was added under); a path's bytes make
/// its hash.
fn queued_assets(lib: &TempLib, assets: &[(&str, &str)]) -> Store {
    use breakdex::store::{AssetPath, ManifestEntry, NewOp, OpType};
    let mut store = Store::open(&lib.db()).unwrap();
    let usb = lib.path("usb");
    std::fs::create_dir_all(&usb).unwrap();
    let provider = store
        .add_provider(
            "usb",
            breakdex::store::ProviderKind::Local,
            &serde_json::json!({ "root": usb }),
            4,
        )
        .unwrap()
        .id;
    let (mut entries, mut paths, mut ops) = (Vec::new(), Vec::new(), Vec::new());
    for (name, path) in assets {
        let hash = blake3::hash(path.as_bytes()).to_hex().to_string();
        entries.push(ManifestEntry {
            content_hash: hash.clone(),
            size_bytes: 100,
            original_name: name.to_string(),
            local_path: None,
            media_type: "image/jpeg".into(),
            added_at: String::new(),
        });
        paths.push(AssetPath {
            content_hash: hash.clone(),
            path: path.to_string(),
        });
        ops.push(NewOp {
            content_hash: hash,
            provider_id: provider.clone(),
            operation_type: OpType::Upload,
            priority: 0,
            total_bytes: 100,
        });
    }
    store.record_assets(&entries, &paths).unwrap();
    store.enqueue(&ops).unwrap();
    store
}
