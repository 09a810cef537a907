//! A provider that fills up (issue 14, part 4): a local folder on a real
//! 5 MB tmpfs (mounted by the test, which needs root; skipped with a
//! message otherwise). Its uploads wait as "full" without spending their
//! tries and without leaving temporary files, and go on their own once the
//! file system has room again. And an engine's start removes temporary
//! files no op owns.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{TempLib, files_under, hash_of, is_root, object_path};

/// 1.5 MB: three fit in 5 MiB, four never do.
const SIZE: usize = 1_500_000;

fn arg(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A tmpfs mounted on a folder, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`5m`) on `dir`, if this process may.
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        if !is_root() {
            return None;
        }
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "tmpfs",
                arg(dir),
            ])
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }

    /// Gives it room: the same file system, larger, as when files are
    /// deleted on a full drive.
    fn grow(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}"), arg(&self.0)])
            .status()
            .expect("mount -o remount");
        assert!(status.success(), "remount {size}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").args(["-l", arg(&self.0)]).status();
    }
}

/// The library's upload ops (`ops --json`).
fn uploads(lib: &TempLib) -> Vec<serde_json::Value> {
    let mut ops = lib.ops_json();
    ops.retain(|o| o["operation_type"] == "upload");
    ops
}

/// How many uploads completed.
fn landed(lib: &TempLib) -> usize {
    (uploads(lib).iter())
        .filter(|o| o["status"] == "completed")
        .count()
}

/// The uploads' temporary files in a provider's folder (not the catalog's,
/// which an engine killed while writing one may leave).
fn temp_files(root: &Path) -> Vec<PathBuf> {
    let mut files = files_under(&root.join(".breakdex-tmp"));
    files.retain(|f| {
        !f.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("catalog-")
    });
    files
}

#[test]
fn a_full_folder_holds_its_uploads_without_leftovers_and_they_go_once_it_has_room() {
    let mut lib = TempLib::new();
    let root = lib.path("small");
    let Some(fs) = Tmpfs::mount(&root, "5m") else {
        eprintln!("skipped: mounting a 5 MB tmpfs needs root");
        return;
    };
    lib.ok(&["provider", "remove", "local-backup"]);
    lib.ok(&["provider", "add", "local", "small", "--root", arg(&root)]);
    let files: Vec<PathBuf> = (0..6)
        .map(|i| lib.write_file(&format!("photos/IMG_{i}.raw"), SIZE, 40 + i))
        .collect();
    lib.ok(&["add", arg(&lib.path("photos"))]);
    lib.env
        .push(("BREAKDEX_FULL_RECHECK_MS".into(), "500".into()));

    // A run that ends when idle: what fits lands, the rest waits for room,
    // and the run says so (exit 3: work waits for a provider).
    lib.run_that_waits("provider 'small' is full (");
    let ops = uploads(&lib);
    let done = ops.iter().filter(|o| o["status"] == "completed").count();
    let waiting: Vec<_> = ops.iter().filter(|o| o["status"] == "queued").collect();
    assert!((1..=3).contains(&done), "{ops:#?}");
    assert_eq!(done + waiting.len(), 6, "{ops:#?}");
    for op in &waiting {
        assert_eq!(op["retry_count"], 0, "no try spent: {op}");
        let why = op["error_message"].as_str().unwrap_or_default();
        assert!(why.contains("No space left on device"), "{op}");
    }
    assert!(temp_files(&root).is_empty(), "{:?}", temp_files(&root));

    let status = lib.status_json();
    let small = &status["providers"][0];
    let words = small["full"]["words"].as_str().unwrap_or_default();
    let waiting_mb = format!("{:.1} MB waiting", (waiting.len() * SIZE) as f64 / 1e6);
    assert!(
        words.starts_with("full (") && words.contains(" free, ") && words.contains(&waiting_mb),
        "{small}"
    );
    assert_eq!(small["waiting_upload_bytes"], (waiting.len() * SIZE) as u64);
    let text = String::from_utf8(lib.ok(&["status"]).stdout).unwrap();
    assert!(text.contains(words), "{text}");

    // The window says the same: in the status bar, and as the reason each
    // waiting upload waits (its engine left off: this looks only).
    {
        use egui_kittest::kittest::Queryable;
        let mut h = crate::ui::harness(&lib.db());
        crate::ui::settle_on(&mut h, "the full provider is shown", |h| {
            h.query_by_label(&format!("⚠ small {words}")).is_some()
        });
        assert_eq!(
            h.query_all_by_label("⏸ waiting: small full").count(),
            waiting.len()
        );
    }

    // An engine that stays: it tries them again at its start (one more may
    // fit: the first run's uploads met the full disk side by side), finds
    // no room for the rest, holds them, and looks again every half second.
    let mut engine = lib
        .cmd()
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run");
    std::thread::sleep(Duration::from_secs(2));
    assert!(landed(&lib) <= 3, "no more than fits");
    assert!(lib.status_json()["providers"][0]["full"].is_object());

    fs.grow("20m");
    let grown = Instant::now();
    while landed(&lib) < 6 && grown.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = engine.kill();
    let _ = engine.wait();
    assert_eq!(landed(&lib), 6, "all landed after room came back");
    for f in &files {
        let copy = object_path(&root, &hash_of(f));
        assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(f).unwrap());
    }
    let ops = uploads(&lib);
    assert!(ops.iter().all(|o| o["retry_count"] == 0), "{ops:#?}");
    let status = lib.status_json();
    assert_eq!(status["providers"][0]["full"], serde_json::Value::Null);
    assert!(temp_files(&root).is_empty(), "{:?}", temp_files(&root));
}

#[test]
fn a_starting_engine_removes_temporary_files_no_live_op_owns() {
    let lib = TempLib::new();
    let f = lib.write_file("photos/a.raw", 200_000, 7);
    lib.ok(&["add", arg(&f)]);
    let ops = lib.ops_json();
    let live = ops[0]["id"].as_str().unwrap().to_string();
    let tmp = lib.backup_root().join(".breakdex-tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    // A crash's leftover (no such op), and a file that is not a temporary
    // upload (left alone).
    let orphan = tmp.join("0123456789abcdef0123456789abcdef.part");
    std::fs::write(&orphan, vec![7u8; 100_000]).unwrap();
    let other = tmp.join("notes.txt");
    std::fs::write(&other, b"not ours").unwrap();
    // The catalog's own temporary files are not ops': another engine may
    // be writing one. One left two hours ago (an engine killed while it
    // wrote a segment) goes.
    let catalog = tmp.join("catalog-0123456789abcdef0123456789abcdef.part");
    std::fs::write(&catalog, b"a segment being written").unwrap();
    let stale = tmp.join("catalog-fedcba9876543210fedcba9876543210.part");
    std::fs::write(&stale, b"a segment left by a crash").unwrap();
    let two_hours_ago = std::time::SystemTime::now() - Duration::from_secs(7200);
    (std::fs::File::options().write(true).open(&stale).unwrap())
        .set_modified(two_hours_ago)
        .unwrap();
    // The live op's own leftover is kept until its attempt writes over it;
    // here it lands, which takes its temporary file away.
    std::fs::write(tmp.join(format!("{live}.part")), b"partial").unwrap();

    lib.ok(&["run", "--until-idle"]);
    assert!(!orphan.exists(), "the orphan is removed");
    assert!(other.exists(), "what is not a temporary upload stays");
    assert!(catalog.exists(), "a catalog segment being written stays");
    assert!(!stale.exists(), "a catalog segment left two hours ago goes");
    assert!(!tmp.join(format!("{live}.part")).exists());
    let copy = object_path(&lib.backup_root(), &hash_of(&f));
    assert_eq!(std::fs::read(copy).unwrap(), std::fs::read(&f).unwrap());
}
