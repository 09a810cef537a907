//! What a desktop app is expected to do, in the real window through
//! egui_kittest: the menu, keyboard shortcuts and their Help window, notices
//! when the queue finishes or an op fails; and the log file a window run
//! leaves in the log folder.

use std::time::Duration;

use breakdex::store::{OpEvent, OpState, Retry, Store};
use breakdex::ui::{Command, SHORTCUTS, Tab};
use egui::{Key, Modifiers};
use egui_kittest::kittest::Queryable;

use crate::common::TempLib;
use crate::ui::{harness, library, loaded, settle};

pub(crate) fn op_state(store: &Store, name: &str) -> OpState {
    store
        .list_ops(&Default::default())
        .unwrap()
        .into_iter()
        .find(|r| r.asset_name.as_deref() == Some(name))
        .unwrap()
        .state
}

#[test]
fn f1_opens_a_help_window_listing_every_shortcut() {
    let lib = TempLib::new();
    let _store = library(&lib);
    let mut h = harness(&lib.db());
    settle(&mut h, "first load", loaded);
    assert!(h.query_by_label("Keyboard shortcuts").is_none());
    h.key_press(Key::F1);
    h.run_steps(3);
    for s in SHORTCUTS {
        let what = match s.command {
            Command::ShowTab(_) => format!("Show the {} tab", s.what),
            _ => s.what.to_string(),
        };
        assert!(
            h.query_all_by_label(&what).next().is_some(),
            "the help window lists {what:?}"
        );
    }
    assert!(
        h.query_all_by_label("Ctrl+O").next().is_some(),
        "keys are shown"
    );
}

#[test]
fn keys_act_on_the_selected_rows_and_switch_tabs() {
    let lib = TempLib::new();
    let store = library(&lib);
    let mut h = harness(&lib.db());
    settle(&mut h, "first load", loaded);
    assert_eq!(op_state(&store, "logo.psd"), OpState::PermanentlyFailed);
    // R without a selection does nothing.
    h.key_press(Key::R);
    h.run_steps(5);
    std::thread::sleep(Duration::from_millis(300));
    h.run_steps(2);
    assert_eq!(op_state(&store, "logo.psd"), OpState::PermanentlyFailed);

    h.get_by_label("logo.psd").click();
    h.run_steps(2);
    assert_eq!(h.state().selected.len(), 1);
    h.key_press(Key::R);
    settle(&mut h, "R retries the selected op", |_| {
        op_state(&store, "logo.psd") == OpState::Queued
    });

    h.key_press_modifiers(Modifiers::COMMAND, Key::Num4);
    settle(&mut h, "Ctrl+4 shows the Failed tab", |app| {
        app.spec().tab == Tab::Failed
    });
    h.key_press_modifiers(Modifiers::COMMAND, Key::Num1);
    settle(&mut h, "Ctrl+1 shows every op", |app| {
        app.spec().tab == Tab::All
    });
}

#[test]
fn the_help_menu_opens_about_with_version_and_paths() {
    let lib = TempLib::new();
    let _store = library(&lib);
    let mut h = harness(&lib.db());
    settle(&mut h, "first load", loaded);
    h.get_by_label("Help").hover();
    h.run_steps(2);
    h.get_by_label("Help").click();
    h.run_steps(3);
    h.get_by_label("About Breakdex").click();
    h.run_steps(3);
    let version = format!("Breakdex {}", env!("CARGO_PKG_VERSION"));
    assert!(h.query_by_label(&version).is_some(), "{version} is shown");
    let db = lib.db().display().to_string();
    assert!(h.query_by_label(&db).is_some(), "the library path is shown");
}

#[test]
fn the_window_tells_when_the_queue_finishes_and_when_an_op_fails() {
    let lib = TempLib::new();
    let mut store = library(&lib);
    // The fixture's completed op is from before the window opened (the
    // timestamps are in milliseconds): it is not counted as this window's.
    std::thread::sleep(Duration::from_millis(5));
    let mut h = harness(&lib.db());
    settle(&mut h, "first load", loaded);
    assert!(
        h.state().notices.shown.is_empty(),
        "nothing to tell at start"
    );

    // Another process (here: the test) runs the rest of the queue: the
    // running op and the two queued ones complete, the one waiting to retry
    // is cancelled.
    let providers: Vec<(String, usize)> = store
        .providers()
        .unwrap()
        .into_iter()
        .map(|p| (p.id, 10))
        .collect();
    let mut claimed = store
        .claim("test", Duration::from_secs(600), &providers)
        .unwrap();
    let running = store
        .list_ops(&Default::default())
        .unwrap()
        .into_iter()
        .filter(|r| r.state == OpState::InProgress && !claimed.iter().any(|c| c.id == r.id))
        .collect::<Vec<_>>();
    assert_eq!((claimed.len(), running.len()), (2, 1));
    let waiting = store
        .list_ops(&Default::default())
        .unwrap()
        .into_iter()
        .find(|r| r.state == OpState::RetryPending)
        .unwrap();
    let mut events: Vec<OpEvent> = claimed
        .drain(..)
        .map(|op| (op.id, op.total_bytes))
        .chain(running.into_iter().map(|r| (r.id, r.total_bytes)))
        .map(|(id, bytes)| OpEvent::Finished {
            id,
            bytes,
            change: None,
            failure: None,
            started: None,
            ended: std::time::SystemTime::now(),
        })
        .collect();
    store.apply("test", &events).unwrap();
    events.clear();
    // The one waiting to retry is run again, and fails for good.
    store.retry_now(std::slice::from_ref(&waiting.id)).unwrap();
    let again = store
        .claim("test", Duration::from_secs(600), &providers)
        .unwrap();
    assert_eq!(again.len(), 1);
    let failed = OpEvent::Finished {
        id: again[0].id.clone(),
        bytes: 0,
        change: None,
        failure: Some((Some("access denied by the server".into()), Retry::Never)),
        started: None,
        ended: std::time::SystemTime::now(),
    };
    store.apply("test", &[failed]).unwrap();
    assert_eq!(store.counts(None).unwrap().completed, 4);

    settle(&mut h, "the notices", |app| app.notices.shown.len() >= 2);
    assert!(h.query_by_label("⚠ The queue is finished").is_some());
    assert!(
        h.query_by_label("3 operations completed, 1 failed: they are in the Failed tab.")
            .is_some(),
        "the finish notice counts what happened since the window opened"
    );
    assert!(h.query_by_label_contains("An operation failed").is_some());
    assert!(
        h.query_all_by_label_contains(": access denied by the server")
            .next()
            .is_some(),
        "the failure notice gives the reason"
    );
    // A click on × dismisses one.
    let before = h.state().notices.shown.len();
    h.get_all_by_label("×").next().unwrap().click();
    h.run_steps(2);
    assert_eq!(h.state().notices.shown.len(), before - 1);
}

#[test]
fn a_window_run_logs_to_the_log_folder_and_reports_a_missing_display() {
    let lib = TempLib::new();
    let logs = lib.path("logs");
    let out = lib
        .cmd()
        .env("BREAKDEX_LOG_DIR", &logs)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("XDG_RUNTIME_DIR", lib.path("no-runtime"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "no display: the window cannot open");
    assert!(
        stderr.contains("cannot open the window"),
        "a plain reason: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let files: Vec<_> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("breakdex.") && name.ends_with(".log"),
        "{name}"
    );
    let log = std::fs::read_to_string(&files[0]).unwrap();
    assert!(log.contains("opening the window on"), "{log}");
    assert!(log.contains("cannot open the window"), "{log}");
}
