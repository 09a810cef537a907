//! Watched folders on the real file system, with real inotify events: the
//! watcher (started in-process as the engine starts it, with a short settle
//! time) takes what is there, new files once they settled, a changed file as
//! a new content, a rename without hashing or uploading again, a deletion
//! without losing copies, and waits for a folder that went away instead of
//! taking its files as deleted; a restart rescans and hashes only what
//! changed. `watch add|list|remove|pause|resume` through the binary, and a
//! `breakdex run` that uploads what lands in a watched folder.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use breakdex::watch::{WatchConfig, Watcher};
use serde_json::Value;

use crate::common::{
    COMMAND_TIMEOUT, TempLib, assert_failure, hash_of, object_path, pseudo_random, stderr, stdout,
};

/// Long enough for any event and settle time on a loaded machine; the
/// tests wait for what they expect, never for a fixed time.
const PATIENCE: Duration = Duration::from_secs(60);

fn watcher(lib: &TempLib) -> Watcher {
    Watcher::start(
        &lib.db(),
        WatchConfig {
            settle: Duration::from_millis(150),
        },
    )
    .unwrap()
}

/// Waits until `what` holds, or fails saying what was awaited.
fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "waited {PATIENCE:?} for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `watched_files`: recorded path -> content hash.
fn taken(lib: &TempLib) -> BTreeMap<String, String> {
    let db = lib.read_db();
    let mut stmt = db
        .prepare("SELECT path, content_hash FROM watched_files")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

fn count(lib: &TempLib, sql: &str) -> i64 {
    lib.read_db().query_row(sql, [], |r| r.get(0)).unwrap()
}

fn uploads(lib: &TempLib) -> i64 {
    count(
        lib,
        "SELECT COUNT(*) FROM sync_operations WHERE operation_type = 'upload'",
    )
}

/// Where the library says an asset's local bytes are.
fn local_path(lib: &TempLib, hash: &str) -> Option<String> {
    lib.read_db()
        .query_row(
            "SELECT local_path FROM asset_manifest WHERE content_hash = ?1",
            [hash],
            |r| r.get(0),
        )
        .unwrap()
}

fn paths_of(lib: &TempLib, hash: &str) -> Vec<String> {
    let db = lib.read_db();
    let mut stmt = db
        .prepare("SELECT path FROM asset_paths WHERE content_hash = ?1 ORDER BY id")
        .unwrap();
    stmt.query_map([hash], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

fn list_json(lib: &TempLib) -> Value {
    serde_json::from_slice(&lib.ok(&["watch", "list", "--json"]).stdout).unwrap()
}

fn folder_state(lib: &TempLib) -> (String, Option<String>) {
    let list = list_json(lib);
    let f = &list["folders"][0];
    (
        f["state"].as_str().unwrap().to_string(),
        f["problem"].as_str().map(str::to_string),
    )
}

/// A library with a watched folder `Pictures` holding two photos.
fn watched_pictures(lib: &TempLib) -> std::path::PathBuf {
    lib.write_file("Pictures/2026/a.jpg", 3000, 1);
    lib.write_file("Pictures/2026/b.jpg", 4000, 2);
    let dir = lib.path("Pictures");
    lib.ok(&["watch", "add", dir.to_str().unwrap()]);
    dir
}

#[test]
fn what_is_there_new_changed_renamed_and_deleted_files_are_taken_as_they_settle() {
    let lib = TempLib::new();
    let dir = watched_pictures(&lib);
    let w = watcher(&lib);
    until("the first rescan to take both photos", || {
        taken(&lib).len() == 2
    });
    assert_eq!(uploads(&lib), 2);
    until("the folder to be watching", || {
        folder_state(&lib).0 == "watching"
    });
    assert_eq!(folder_state(&lib).1, None, "watched by file events");

    // A new file is taken once it settled (how long a file waits is the
    // settle time's unit tests'); litter the exclude rules leave out is not.
    std::fs::create_dir_all(dir.join("2026/node_modules/pkg")).unwrap();
    std::fs::write(dir.join("2026/node_modules/pkg/x.js"), b"x").unwrap();
    let c = dir.join("2026/c.jpg");
    std::fs::write(dir.join("2026/c.jpg.part"), b"half").unwrap();
    std::fs::write(&c, pseudo_random(6000, 3)).unwrap();
    let c_hash = hash_of(&c);
    until("the new photo", || {
        taken(&lib).get("Pictures/2026/c.jpg") == Some(&c_hash)
    });
    assert_eq!(uploads(&lib), 3);
    assert!(!taken(&lib).contains_key("Pictures/2026/c.jpg.part"));
    assert!(
        !taken(&lib).keys().any(|p| p.contains("node_modules")),
        "nothing under an excluded folder: {:?}",
        taken(&lib)
    );

    // A rename records the new path for the same content: no hashing into
    // a new asset, no upload.
    std::fs::rename(&c, dir.join("2026/c-renamed.jpg")).unwrap();
    until("the renamed path", || {
        taken(&lib).contains_key("Pictures/2026/c-renamed.jpg")
    });
    until("the old path to be gone", || {
        !taken(&lib).contains_key("Pictures/2026/c.jpg")
    });
    assert_eq!(uploads(&lib), 3, "a rename uploads nothing");
    assert_eq!(
        paths_of(&lib, &c_hash),
        ["Pictures/2026/c.jpg", "Pictures/2026/c-renamed.jpg"]
    );
    // A folder renamed: every file's new path, nothing uploaded.
    std::fs::rename(dir.join("2026"), dir.join("2026-trip")).unwrap();
    until("the renamed folder's paths", || {
        let t = taken(&lib);
        t.keys().all(|p| p.starts_with("Pictures/2026-trip/")) && t.len() == 3
    });
    assert_eq!(uploads(&lib), 3, "a folder renamed uploads nothing");
    let a = dir.join("2026-trip/a.jpg");
    let local = local_path(&lib, &hash_of(&a)).unwrap();
    assert_eq!(Path::new(&local), a, "its local bytes are where they went");

    // A changed file is a new content; the old one and its upload stay.
    let old_hash = hash_of(&a);
    std::fs::write(&a, pseudo_random(3500, 9)).unwrap();
    let new_hash = hash_of(&a);
    until("the changed photo's new content", || {
        taken(&lib).get("Pictures/2026-trip/a.jpg") == Some(&new_hash)
    });
    assert_eq!(uploads(&lib), 4);
    assert_eq!(
        count(&lib, "SELECT COUNT(*) FROM asset_manifest"),
        4,
        "the old content is kept beside the new"
    );
    assert!(paths_of(&lib, &new_hash).contains(&"Pictures/2026-trip/a.jpg".to_string()));
    assert!(paths_of(&lib, &old_hash).contains(&"Pictures/2026-trip/a.jpg".to_string()));
    assert_eq!(
        local_path(&lib, &old_hash),
        None,
        "the old content's bytes are not there any more"
    );

    // A deleted file is forgotten by the watch; its asset and paths stay
    // (a restore brings it back), with no local bytes.
    let b = dir.join("2026-trip/b.jpg");
    let b_hash = hash_of(&b);
    std::fs::remove_file(&b).unwrap();
    until("the deletion", || {
        !taken(&lib).contains_key("Pictures/2026-trip/b.jpg")
    });
    assert_eq!(local_path(&lib, &b_hash), None);
    assert!(!paths_of(&lib, &b_hash).is_empty());
    w.finish();
}

#[test]
fn a_folder_that_goes_away_is_waited_for_and_none_of_its_files_is_forgotten() {
    let lib = TempLib::new();
    let dir = watched_pictures(&lib);
    let w = watcher(&lib);
    until("the first rescan", || taken(&lib).len() == 2);
    // The drive is pulled: the folder is not there.
    let away = lib.path("Pictures.away");
    std::fs::rename(&dir, &away).unwrap();
    until("the folder to wait", || folder_state(&lib).0 == "waiting");
    let (_, problem) = folder_state(&lib);
    assert!(
        problem.as_deref().unwrap().contains("is not there"),
        "{problem:?}"
    );
    assert_eq!(taken(&lib).len(), 2, "nothing taken as deleted");
    // An empty folder made at its path is not its drive either... it is a
    // folder on the same device here, so this is the plugged-back case: the
    // drive comes back with a new photo on it.
    std::fs::write(away.join("2026/new.jpg"), pseudo_random(2000, 5)).unwrap();
    std::fs::rename(&away, &dir).unwrap();
    until("the new photo after the folder came back", || {
        taken(&lib).contains_key("Pictures/2026/new.jpg")
    });
    assert_eq!(taken(&lib).len(), 3);
    assert_eq!(uploads(&lib), 3);
    until("the folder to be watching again", || {
        folder_state(&lib).0 == "watching"
    });
    w.finish();
}

#[test]
fn a_folder_on_another_device_than_it_was_added_from_is_waited_for() {
    let lib = TempLib::new();
    let dir = watched_pictures(&lib);
    let w = watcher(&lib);
    until("the first rescan", || taken(&lib).len() == 2);
    w.finish();
    // As if the drive it was added from were unplugged and its empty mount
    // point left: the folder there is on another device.
    rusqlite::Connection::open(lib.db())
        .unwrap()
        .execute("UPDATE watched_folders SET device = device + 1", [])
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::create_dir(&dir).unwrap();
    let w = watcher(&lib);
    until("the folder to wait", || folder_state(&lib).0 == "waiting");
    assert!(
        folder_state(&lib)
            .1
            .unwrap()
            .contains("on another drive than when it was added"),
    );
    // Give it time to do the wrong thing, and look again: what was taken
    // is still there.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(taken(&lib).len(), 2, "an empty mount point deletes nothing");
    w.finish();
}

/// A file that was on another device than the folder above it is now (a
/// drive mounted inside the watched folder, and pulled out: its mount point
/// is left, empty, on the watched folder's device) is not taken as deleted;
/// a file deleted beside it is.
#[test]
fn a_file_of_a_drive_mounted_inside_that_was_pulled_out_is_not_taken_as_deleted() {
    let lib = TempLib::new();
    let dir = watched_pictures(&lib);
    let w = watcher(&lib);
    until("the first rescan", || taken(&lib).len() == 2);
    // As if a.jpg had been on a drive mounted at 2026/.
    rusqlite::Connection::open(lib.db())
        .unwrap()
        .execute(
            "UPDATE watched_files SET device = device + 1 WHERE path = 'Pictures/2026/a.jpg'",
            [],
        )
        .unwrap();
    std::fs::remove_file(dir.join("2026/a.jpg")).unwrap();
    std::fs::remove_file(dir.join("2026/b.jpg")).unwrap();
    until("the deletion of b.jpg", || {
        !taken(&lib).contains_key("Pictures/2026/b.jpg")
    });
    assert!(
        taken(&lib).contains_key("Pictures/2026/a.jpg"),
        "a file whose drive is away is not deleted"
    );
    w.finish();
    // A rescan says the same.
    let scanned = stdout(&lib.ok(&["watch", "scan"]));
    assert!(scanned.contains("0 forgotten"), "{scanned}");
    assert!(taken(&lib).contains_key("Pictures/2026/a.jpg"));
}

#[test]
fn a_restart_rescans_and_hashes_only_what_changed() {
    let lib = TempLib::new();
    let dir = watched_pictures(&lib);
    for i in 0..20 {
        lib.write_file(&format!("Pictures/old/{i}.jpg"), 500, 100 + i);
    }
    let w = watcher(&lib);
    until("the first rescan", || taken(&lib).len() == 22);
    until("the first rescan to end", || {
        list_json(&lib)["folders"][0]["scanned_at"].is_string()
    });
    w.finish();
    // While nothing watches: one new file, one changed, one deleted, and a
    // file that keeps its size and time but is read (opened) only.
    std::fs::write(dir.join("old/new.jpg"), pseudo_random(700, 7)).unwrap();
    std::fs::write(dir.join("old/3.jpg"), pseudo_random(500, 77)).unwrap();
    std::fs::remove_file(dir.join("old/4.jpg")).unwrap();
    let _ = std::fs::read(dir.join("old/5.jpg")).unwrap();
    // Times in the past, so the rescan need not wait for them to settle.
    for name in ["old/new.jpg", "old/3.jpg"] {
        let f = std::fs::File::options()
            .write(true)
            .open(dir.join(name))
            .unwrap();
        f.set_modified(std::time::SystemTime::now() - Duration::from_secs(60))
            .unwrap();
    }
    // The rescan a watcher makes at its start, from the command line: it
    // says what it found.
    let assets_before = count(&lib, "SELECT COUNT(*) FROM asset_manifest");
    let scanned = stdout(&lib.ok(&["watch", "scan"]));
    assert!(
        scanned.contains(
            "20 unchanged, 1 forgotten (deleted; their copies stay), \
             added 2 files (2 uploads queued)"
        ),
        "only the new and the changed file are hashed: {scanned}"
    );
    let t = taken(&lib);
    assert!(t.contains_key("Pictures/old/new.jpg") && !t.contains_key("Pictures/old/4.jpg"));
    assert_eq!(t["Pictures/old/3.jpg"], hash_of(&dir.join("old/3.jpg")));
    assert_eq!(
        count(&lib, "SELECT COUNT(*) FROM asset_manifest"),
        assets_before + 2
    );
    assert_eq!(uploads(&lib), 24);
    // A watcher started now finds nothing to do but watch.
    let w = watcher(&lib);
    until("the watcher's own rescan", || {
        folder_state(&lib).0 == "watching"
    });
    assert_eq!(uploads(&lib), 24);
    w.finish();
    let again = stdout(&lib.ok(&["watch", "scan"]));
    assert!(again.contains("22 unchanged, 0 forgotten"), "{again}");
}

/// A watched folder that holds the library itself (a watched home folder):
/// what Breakdex writes (the database, its journal and locks, the default
/// provider's objects) is never taken, or every write would be a new
/// content to upload; a photo with a time in the future (a camera's clock)
/// is taken.
#[test]
fn breakdex_own_files_are_never_taken_and_a_future_time_is_no_reason_to_wait() {
    let lib = TempLib::new();
    let photo = lib.write_file("in/a.jpg", 3000, 1);
    let later = lib.write_file("in/from-a-wrong-clock.jpg", 2000, 2);
    std::fs::File::options()
        .write(true)
        .open(&later)
        .unwrap()
        .set_modified(std::time::SystemTime::now() + Duration::from_secs(86_400))
        .unwrap();
    lib.ok(&["watch", "add", lib.dir.path().to_str().unwrap()]);
    let w = watcher(&lib);
    let name = std::fs::canonicalize(lib.dir.path())
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    until("both photos", || {
        let t = taken(&lib);
        t.contains_key(&format!("{name}/in/a.jpg"))
            && t.contains_key(&format!("{name}/in/from-a-wrong-clock.jpg"))
    });
    // The engine's work shows in the database and the provider's folder.
    lib.ok(&["run", "--until-idle"]);
    assert!(object_path(&lib.backup_root(), &hash_of(&photo)).is_file());
    lib.write_file("in/b.jpg", 1000, 3);
    until("the next photo", || {
        taken(&lib).contains_key(&format!("{name}/in/b.jpg"))
    });
    let t = taken(&lib);
    assert_eq!(t.len(), 3, "only the photos: {:?}", t.keys());
    w.finish();
}

#[test]
fn watch_add_list_pause_resume_remove_and_what_they_refuse() {
    let lib = TempLib::new();
    let dir = lib.path("Pictures");
    std::fs::create_dir_all(dir.join("inner")).unwrap();
    let file = lib.write_file("loose.jpg", 10, 1);
    let d = dir.to_str().unwrap();

    let missing = lib.exec(&["watch", "add", lib.path("nope").to_str().unwrap()]);
    assert_failure(&missing, "watch add of a missing folder");
    assert!(
        stderr(&missing).contains("no such folder"),
        "{}",
        stderr(&missing)
    );
    let not_dir = lib.exec(&["watch", "add", file.to_str().unwrap()]);
    assert_failure(&not_dir, "watch add of a file");
    assert!(stderr(&not_dir).contains("not a folder"));
    let unknown = lib.exec(&["watch", "add", d, "--provider", "nope"]);
    assert_failure(&unknown, "watch add to an unknown provider");
    assert!(stderr(&unknown).contains("nope"), "{}", stderr(&unknown));

    let added = lib.ok(&[
        "watch",
        "add",
        d,
        "--provider",
        "local-backup",
        "--priority",
        "5",
    ]);
    assert!(stdout(&added).contains("watching"), "{}", stdout(&added));
    assert!(
        stderr(&added).contains("nothing watches it now"),
        "no window or run is open: {}",
        stderr(&added)
    );
    let again = lib.exec(&["watch", "add", &format!("{d}/")]);
    assert_failure(&again, "watch add twice");
    assert!(stderr(&again).contains("watched already"));
    let inner = lib.exec(&["watch", "add", dir.join("inner").to_str().unwrap()]);
    assert_failure(&inner, "watch add of a folder inside one");
    assert!(stderr(&inner).contains("inside the watched folder"));
    let outer = lib.exec(&["watch", "add", lib.dir.path().to_str().unwrap()]);
    assert_failure(&outer, "watch add of a folder holding one");
    assert!(stderr(&outer).contains("holds the watched folder"));

    let list = list_json(&lib);
    assert_eq!(list["watched_now"], false);
    let f = &list["folders"][0];
    let real = std::fs::canonicalize(&dir).unwrap();
    assert_eq!(f["path"], real.to_str().unwrap());
    assert_eq!(f["providers"], serde_json::json!(["local-backup"]));
    assert_eq!(
        (f["priority"].as_i64(), f["paused"].as_bool()),
        (Some(5), Some(false))
    );
    assert_eq!(f["files"], 0);
    let text = stdout(&lib.ok(&["watch", "list"]));
    assert!(text.contains("not watched now"), "{text}");

    lib.ok(&["watch", "pause", d]);
    assert_eq!(list_json(&lib)["folders"][0]["paused"], true);
    lib.ok(&["watch", "resume", d]);
    assert_eq!(list_json(&lib)["folders"][0]["paused"], false);
    lib.ok(&["watch", "remove", d]);
    assert_eq!(list_json(&lib)["folders"], serde_json::json!([]));
    let gone = lib.exec(&["watch", "remove", d]);
    assert_failure(&gone, "watch remove of a folder not watched");
    assert!(stderr(&gone).contains("is not a watched folder"));
}

/// `breakdex run` (no `--until-idle`) watches: a photo that lands in the
/// watched folder is on the provider a little later.
#[test]
fn breakdex_run_uploads_what_lands_in_a_watched_folder() {
    let lib = TempLib::new();
    let dir = lib.path("Pictures");
    std::fs::create_dir_all(&dir).unwrap();
    lib.ok(&["watch", "add", dir.to_str().unwrap()]);
    let mut run = lib
        .cmd()
        .args(["run"])
        .env("BREAKDEX_WATCH_SETTLE_MS", "100")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    until("the run to watch", || {
        list_json(&lib)["watched_now"] == true
    });
    let photo = dir.join("IMG_1.jpg");
    std::fs::write(&photo, pseudo_random(20_000, 11)).unwrap();
    let object = object_path(&lib.backup_root(), &hash_of(&photo));
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    while !object.is_file() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = run.kill();
    let _ = run.wait();
    assert!(
        object.is_file(),
        "the photo was uploaded to {}",
        object.display()
    );
    assert_eq!(
        std::fs::read(&object).unwrap(),
        std::fs::read(&photo).unwrap()
    );
}
