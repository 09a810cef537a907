//! A pause that pauses (issue 14, part 3): `breakdex pause` stops the
//! transfers of an engine of the same library within a second (no more
//! bytes reach the provider's folder), the upload goes on from where it
//! stopped after `breakdex resume`; a provider alone pauses too; a run that
//! ends when idle says the library is paused; the window's Pause is the
//! library's. The uploads are held to 1 MiB/s, so that the 8 MiB file is
//! still moving when it is paused, whatever the machine.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{TempLib, hash_of, object_path, size_of, stderr};

const M: usize = 1 << 20;

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn upload_status(lib: &TempLib) -> String {
    let ops = lib.ops_json();
    ops.iter()
        .find(|o| o["operation_type"] == "upload")
        .map(|o| o["status"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default()
}

#[test]
fn pause_stops_a_running_engines_transfer_within_a_second_and_resume_goes_on_from_there() {
    let lib = TempLib::new();
    let f = lib.write_file("video/clip.mov", 8 * M, 21);
    lib.ok(&["add", f.to_str().unwrap()]);
    let part = lib.upload_part();
    lib.ok(&["limits", "set", "--up", "1M"]);
    let copy = object_path(&lib.backup_root(), &hash_of(&f));
    let mut engine = lib
        .cmd()
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run");
    wait_for("2 MiB up", || size_of(&part).unwrap_or(0) >= 2 * M as u64);

    let o = lib.ok(&["pause"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("paused"));
    let paused = Instant::now();
    std::thread::sleep(Duration::from_millis(1000));
    let held = size_of(&part).expect("the paused upload keeps what it wrote");
    std::thread::sleep(Duration::from_millis(2000));
    assert_eq!(size_of(&part), Some(held), "no bytes moved after 1 s");
    assert!(held < 8 * M as u64 && !copy.exists());
    assert_eq!(upload_status(&lib), "queued", "handed back to the queue");
    let status = lib.status_json();
    assert_eq!(status["paused"], true);
    assert!(paused.elapsed() < Duration::from_secs(10));

    // A run that ends when idle has nothing to do while the library is paused.
    lib.run_that_waits("the library is paused");
    assert_eq!(size_of(&part), Some(held));

    // Resumed: from what was kept (from zero, at 1 MiB/s, the file would
    // pass through every size below for seconds).
    lib.ok(&["resume"]);
    let mut least = held;
    wait_for("the copy lands", || {
        if let Some(size) = size_of(&part) {
            least = least.min(size);
        }
        copy.exists()
    });
    let _ = engine.kill();
    let _ = engine.wait();
    assert!(least >= held, "went back to {least} of {held}");
    assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(&f).unwrap());
    assert_eq!(lib.status_json()["paused"], false);
}

#[test]
fn a_provider_alone_is_paused_and_resumed() {
    let lib = TempLib::new();
    let nas = lib.path("nas");
    lib.ok(&[
        "provider",
        "add",
        "local",
        "nas",
        "--root",
        nas.to_str().unwrap(),
    ]);
    let f = lib.write_file("photos/a.jpg", 300_000, 3);
    lib.ok(&["add", f.to_str().unwrap()]);
    lib.ok(&["pause", "--provider", "nas"]);
    lib.run_that_waits("provider 'nas' is paused");
    let hash = hash_of(&f);
    assert!(
        object_path(&lib.backup_root(), &hash).exists(),
        "the other goes on"
    );
    assert!(!object_path(&nas, &hash).exists());
    let status = lib.status_json();
    let of = |name: &str| {
        (status["providers"].as_array().unwrap().iter())
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(of("nas")["paused"], true);
    assert_eq!(of("local-backup")["paused"], false);
    let text = String::from_utf8(lib.ok(&["status"]).stdout).unwrap();
    assert!(
        text.lines()
            .any(|l| l.contains("nas") && l.contains("paused")),
        "{text}"
    );
    let o = lib.exec(&["pause", "--provider", "nope"]);
    assert!(
        stderr(&o).contains("no provider named 'nope'"),
        "{}",
        stderr(&o)
    );

    lib.ok(&["resume", "--provider", "nas"]);
    lib.ok(&["run", "--until-idle"]);
    assert_eq!(
        std::fs::read(object_path(&nas, &hash)).unwrap(),
        std::fs::read(&f).unwrap()
    );
}

/// The window's Pause is the library's (a command-line run keeps it), and
/// a `breakdex resume` shows in the window.
#[test]
fn the_windows_pause_is_the_librarys() {
    use egui_kittest::kittest::Queryable;
    let lib = TempLib::new();
    crate::ui::library(&lib);
    let mut h = crate::ui::harness(&lib.db());
    crate::ui::settle(&mut h, "first load", crate::ui::loaded);
    h.get_by_label("⏸ Pause").click();
    crate::ui::settle_on(&mut h, "the button says Resume", |h| {
        h.query_by_label("▶ Resume").is_some()
    });
    wait_for("the library is paused", || {
        lib.status_json()["paused"] == true
    });
    lib.ok(&["resume"]);
    crate::ui::settle_on(&mut h, "the window follows", |h| {
        h.query_by_label("⏸ Pause").is_some()
    });
}

#[test]
fn one_op_is_paused_by_a_prefix_of_its_id_and_resumed() {
    let lib = TempLib::new();
    let a = lib.write_file("photos/a.jpg", 200_000, 31);
    let b = lib.write_file("photos/b.jpg", 200_000, 32);
    lib.ok(&["add", a.to_str().unwrap(), b.to_str().unwrap()]);
    let ops = lib.ops_json();
    let of = |f: &Path| {
        let hash = hash_of(f);
        (ops.iter().find(|o| o["content_hash"] == hash.as_str()))
            .and_then(|o| o["id"].as_str())
            .unwrap()
            .to_string()
    };
    let (id_a, id_b) = (of(&a), of(&b));
    // The shortest start of a's id that b's does not share, and 4 more.
    let shared = (id_a.chars().zip(id_b.chars()))
        .take_while(|(x, y)| x == y)
        .count();
    let prefix = &id_a[..(shared + 4).min(32)];
    let o = lib.ok(&["pause", "--op", prefix]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 op paused"));
    let o = lib.exec(&["pause", "--op", "0000"]);
    assert!(
        stderr(&o).contains("no op's id starts with 0000"),
        "{}",
        stderr(&o)
    );

    // The run does b and ends: a paused op is no work.
    lib.ok(&["run", "--until-idle"]);
    let root = lib.backup_root();
    assert!(object_path(&root, &hash_of(&b)).exists());
    assert!(!object_path(&root, &hash_of(&a)).exists());
    let paused: Vec<_> = (lib.ops_json().into_iter())
        .filter(|o| o["paused_at"].is_string())
        .collect();
    assert_eq!(paused.len(), 1);
    assert_eq!(paused[0]["id"], id_a.as_str());
    assert_eq!(paused[0]["status"], "queued");

    lib.ok(&["resume", "--op", &id_a]);
    lib.ok(&["run", "--until-idle"]);
    assert_eq!(
        std::fs::read(object_path(&root, &hash_of(&a))).unwrap(),
        std::fs::read(&a).unwrap()
    );
}

/// The row menu pauses an op and resumes it; the Status column says so.
#[test]
fn the_row_menu_pauses_and_resumes_an_op() {
    use egui_kittest::kittest::Queryable;
    let lib = TempLib::new();
    let store = crate::ui::library(&lib);
    let drone = |store: &breakdex::store::Store| {
        (store.list_ops(&Default::default()).unwrap().into_iter())
            .find(|r| r.asset_name.as_deref() == Some("drone.mp4"))
            .unwrap()
    };
    let mut h = crate::ui::harness(&lib.db());
    crate::ui::settle(&mut h, "first load", crate::ui::loaded);
    h.get_by_label("drone.mp4").click_secondary();
    h.run_steps(3);
    // The row menu's (the toolbar has a "⏸ Pause" of the library's too).
    (h.query_all_by_label("⏸ Pause").last())
        .expect("the menu's Pause")
        .click();
    crate::ui::settle(&mut h, "the pause reaches the library", |_| {
        drone(&store).paused_at.is_some()
    });
    crate::ui::settle_on(&mut h, "the row says it is paused", |h| {
        h.query_by_label("⏸ waiting: paused").is_some()
    });
    h.get_by_label("drone.mp4").click_secondary();
    h.run_steps(3);
    h.get_by_label("⏸ Resume").click();
    crate::ui::settle(&mut h, "the resume reaches the library", |_| {
        drone(&store).paused_at.is_none()
    });
}
