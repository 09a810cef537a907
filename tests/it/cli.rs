//! The command line, driven through the real binary: bad input is reported
//! path by path with a clear reason while good files in the same call are
//! still imported; libraries that are not ours are refused and left alone;
//! and the four operations work end to end.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::common::{
    TempLib, assert_failure, assert_no_panic, assert_success, files_under, hash_of, object_path,
    output_of, provider_files, run_summary, stderr, stderr_line_with, stdout,
};

/// A path as a command-line argument.
fn arg(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `add paths...`.
fn add(lib: &TempLib, paths: &[&Path]) -> Output {
    let mut args = vec!["add"];
    args.extend(paths.iter().map(|p| arg(p)));
    lib.exec(&args)
}

/// `run --until-idle`, with fast retries.
fn run(lib: &TempLib) -> Output {
    output_of(
        lib.cmd()
            .args(["run", "--until-idle", "--concurrency", "4"])
            .env("BREAKDEX_RETRY_BASE_MS", "20"),
    )
}

/// Content hash -> local path, as `asset_manifest` records them.
fn manifest(lib: &TempLib) -> BTreeMap<String, Option<String>> {
    let db = lib.read_db();
    let mut stmt = db
        .prepare("SELECT content_hash, local_path FROM asset_manifest")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// Content hash -> verify_status of every copy on any provider.
fn copies(lib: &TempLib) -> BTreeMap<String, String> {
    let db = lib.read_db();
    let mut stmt = db
        .prepare("SELECT content_hash, verify_status FROM asset_copies")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// The content hashes of the queued uploads, each once; panics if one is
/// queued twice.
fn uploaded_hashes(lib: &TempLib) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    for op in lib.ops_json() {
        assert_eq!(op["operation_type"], "upload", "{op}");
        let hash = op["content_hash"].as_str().unwrap().to_string();
        assert!(set.insert(hash.clone()), "{hash} queued twice");
    }
    set
}

fn set_of<'a>(hashes: impl IntoIterator<Item = &'a String>) -> BTreeSet<String> {
    hashes.into_iter().cloned().collect()
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Gives a path its mode back when dropped, so the temporary folder can be
/// removed even by a user that is not root.
struct RestoreMode(PathBuf, u32);

impl Drop for RestoreMode {
    fn drop(&mut self) {
        let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(self.1));
    }
}

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
    assert_eq!(rc, 0, "mkfifo {}", path.display());
}

/// Every entry directly in a folder, by name.
fn names_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

// ---------------------------------------------------------------------------
// Bad input to `add`.

#[test]
fn a_missing_path_is_reported_and_the_good_files_are_imported() {
    let lib = TempLib::new();
    let good = lib.write_file("in/good.bin", 1000, 1);
    let other = lib.write_file("in/other.bin", 2000, 2);
    let missing = lib.path("in/not-there.bin");

    let o = add(&lib, &[&good, &missing, &other]);
    assert_failure(&o, "add with a missing path");
    let line = stderr_line_with(&o, "not-there.bin");
    assert!(line.contains("no such file or folder"), "{line}");
    assert_eq!(
        stderr(&o).lines().count(),
        1,
        "one line per problem: {}",
        stderr(&o)
    );
    assert!(stdout(&o).contains("added 2 files"), "{}", stdout(&o));
    assert_eq!(
        uploaded_hashes(&lib),
        set_of(&[hash_of(&good), hash_of(&other)])
    );
}

#[test]
fn a_fifo_is_skipped_without_blocking() {
    let lib = TempLib::new();
    let good = lib.write_file("in/good.bin", 1000, 1);
    let fifo = lib.path("in/pipe");
    mkfifo(&fifo);
    let lone_fifo = lib.path("lone-pipe");
    mkfifo(&lone_fifo);

    // The folder holding the fifo, and a fifo named directly. A command that
    // opened the fifo would block forever; output_of fails the test then.
    let o = add(&lib, &[&lib.path("in"), &lone_fifo]);
    assert_failure(&o, "add with fifos");
    for needle in ["in/pipe", "lone-pipe"] {
        let line = stderr_line_with(&o, needle);
        assert!(
            line.contains("named pipe (fifo)") && line.contains("not a regular file"),
            "{line}"
        );
    }
    assert_eq!(uploaded_hashes(&lib), set_of(&[hash_of(&good)]));
}

#[test]
fn symbolic_link_loops_are_reported_and_not_followed() {
    let lib = TempLib::new();
    let a = lib.write_file("in/a.bin", 1000, 1);
    let b = lib.write_file("in/sub/b.bin", 2000, 2);
    // A link to itself, and a folder link to its own parent.
    std::os::unix::fs::symlink("me-loop", lib.path("in/me-loop")).unwrap();
    std::os::unix::fs::symlink("..", lib.path("in/sub/up-loop")).unwrap();

    let o = add(&lib, &[&lib.path("in"), &lib.path("in/me-loop")]);
    assert_failure(&o, "add with link loops");
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("/me-loop")).collect();
    assert_eq!(lines.len(), 2, "once walking, once named: {}", stderr(&o));
    for line in lines {
        assert!(line.contains("symbolic link loop"), "{line}");
    }
    let line = stderr_line_with(&o, "/up-loop");
    assert!(line.contains("symbolic link loop"), "{line}");
    assert_eq!(uploaded_hashes(&lib), set_of(&[hash_of(&a), hash_of(&b)]));
    // Each file recorded once, under its own path (not .../up-loop/...).
    let m = manifest(&lib);
    assert_eq!(m.len(), 2);
    assert_eq!(m[&hash_of(&b)].as_deref(), Some(arg(&b)));

    // Adding only the subfolder follows the link to the parent once, and the
    // way back into the subfolder is the loop.
    let lib2 = TempLib::new();
    let a2 = lib2.write_file("in/a.bin", 1000, 1);
    let b2 = lib2.write_file("in/sub/b.bin", 2000, 2);
    std::os::unix::fs::symlink("..", lib2.path("in/sub/up-loop")).unwrap();
    let o = add(&lib2, &[&lib2.path("in/sub")]);
    assert_failure(&o, "add of a folder holding a link to its parent");
    let line = stderr_line_with(&o, "/up-loop/sub");
    assert!(line.contains("symbolic link loop"), "{line}");
    assert_eq!(
        uploaded_hashes(&lib2),
        set_of(&[hash_of(&a2), hash_of(&b2)])
    );
}

#[test]
fn a_folder_reached_twice_without_a_loop_is_not_a_problem() {
    let lib = TempLib::new();
    let a = lib.write_file("in/a.bin", 1000, 1);
    let b = lib.write_file("in/sub/b.bin", 2000, 2);
    // A second way into the same folder, which is not a loop.
    std::os::unix::fs::symlink("sub", lib.path("in/alias")).unwrap();

    let o = add(&lib, &[&lib.path("in"), &lib.path("in/sub")]);
    assert_success(&o, "add of a folder and its subfolder");
    assert_eq!(stderr(&o), "", "nothing to report");
    assert!(stdout(&o).contains("added 2 files"), "{}", stdout(&o));
    assert_eq!(uploaded_hashes(&lib), set_of(&[hash_of(&a), hash_of(&b)]));
}

#[test]
fn a_dangling_link_is_reported() {
    let lib = TempLib::new();
    let good = lib.write_file("in/good.bin", 1000, 1);
    std::os::unix::fs::symlink("gone-target", lib.path("in/dangling")).unwrap();

    let o = add(&lib, &[&lib.path("in")]);
    assert_failure(&o, "add with a dangling link");
    let line = stderr_line_with(&o, "in/dangling");
    assert!(
        line.contains("link to something that does not exist"),
        "{line}"
    );
    assert_eq!(uploaded_hashes(&lib), set_of(&[hash_of(&good)]));
}

/// A library that the `nobody` user can use, with its database created.
fn shared_library() -> TempLib {
    let lib = TempLib::shared();
    lib.ok(&["provider", "list"]);
    chmod(&lib.db(), 0o666);
    lib
}

#[test]
fn an_unreadable_file_is_reported_and_the_good_files_are_imported() {
    let lib = shared_library();
    let good = lib.write_file("in/good.bin", 1000, 1);
    let secret = lib.write_file("in/secret.bin", 3000, 3);
    let secret_hash = hash_of(&secret);
    chmod(&secret, 0o000);
    let _restore = RestoreMode(secret.clone(), 0o644);

    let o = output_of(lib.cmd_unprivileged().args(["add", arg(&lib.path("in"))]));
    assert_failure(&o, "add with an unreadable file");
    let line = stderr_line_with(&o, "secret.bin");
    assert!(line.contains("permission denied"), "{line}");
    assert_eq!(uploaded_hashes(&lib), set_of(&[hash_of(&good)]));
    assert!(
        !manifest(&lib).contains_key(&secret_hash),
        "the unreadable file must not be recorded"
    );
}

#[test]
fn an_unreadable_folder_is_reported_and_the_good_files_are_imported() {
    let lib = shared_library();
    let good = lib.write_file("in/good.bin", 1000, 1);
    let inner = lib.write_file("in/locked/inner.bin", 3000, 3);
    let inner_hash = hash_of(&inner);
    let locked = lib.path("in/locked");
    chmod(&locked, 0o000);
    let _restore = RestoreMode(locked.clone(), 0o755);

    // The folder around it, the locked folder itself, and a file inside it.
    let o = output_of(lib.cmd_unprivileged().args([
        "add",
        arg(&lib.path("in")),
        arg(&locked),
        arg(&inner),
    ]));
    assert_failure(&o, "add with an unreadable folder");
    let err = stderr(&o);
    let folder_lines: Vec<&str> = err
        .lines()
        .filter(|l| l.ends_with("in/locked: the folder cannot be read (permission denied)"))
        .collect();
    assert_eq!(
        folder_lines.len(),
        1,
        "reported once, though reached twice: {}",
        stderr(&o)
    );
    let line = stderr_line_with(&o, "inner.bin");
    assert!(line.contains("permission denied"), "{line}");
    assert_eq!(uploaded_hashes(&lib), set_of(&[hash_of(&good)]));
    assert!(!manifest(&lib).contains_key(&inner_hash));
}

// ---------------------------------------------------------------------------
// Bad providers.

#[test]
fn a_provider_root_that_is_a_file_is_refused() {
    let lib = TempLib::new();
    let file = lib.write_file("not-a-folder", 100, 1);
    let before = std::fs::read(&file).unwrap();

    for root in [file.clone(), file.join("below")] {
        let o = lib.exec(&["provider", "add", "local", "X", "--root", arg(&root)]);
        assert_failure(&o, "provider add with a file as root");
        let line = stderr_line_with(&o, "not-a-folder");
        assert!(line.contains("is a file, not a folder"), "{line}");
    }
    assert_eq!(std::fs::read(&file).unwrap(), before);
    let list: Vec<Value> =
        serde_json::from_slice(&lib.ok(&["provider", "list", "--json"]).stdout).unwrap();
    let names: Vec<&str> = list.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["local-backup"]);
}

#[test]
fn an_unknown_provider_name_is_refused() {
    let lib = TempLib::new();
    let good = lib.write_file("in/good.bin", 1000, 1);

    let o = lib.exec(&["add", arg(&good), "--provider", "nope"]);
    assert_failure(&o, "add --provider nope");
    let line = stderr_line_with(&o, "'nope'");
    assert!(
        line.contains("no provider named 'nope'") && line.contains("local-backup"),
        "the message names the known providers: {line}"
    );
    assert!(lib.ops_json().is_empty(), "nothing queued");
    assert!(manifest(&lib).is_empty(), "nothing recorded");

    // With a good file recorded, enqueueing on an unknown provider is refused too.
    lib.ok(&["add", arg(&good)]);
    let o = lib.exec(&["enqueue", "verify", "--provider", "nope"]);
    assert_failure(&o, "enqueue verify --provider nope");
    let line = stderr_line_with(&o, "'nope'");
    assert!(line.contains("no provider named 'nope'"), "{line}");
    let o = lib.exec(&[
        "enqueue",
        "verify",
        "--provider",
        "local-backup",
        "--hash",
        "0123abcd",
    ]);
    assert_failure(&o, "enqueue verify --hash unknown");
    assert!(
        stderr_line_with(&o, "0123abcd").contains("no asset with hash"),
        "{}",
        stderr(&o)
    );
    assert_eq!(lib.ops_json().len(), 1, "only the upload");
}

// ---------------------------------------------------------------------------
// Databases that are not Breakdex libraries.

/// Every command, run against a `--db` that must be refused: each fails
/// saying `expect`, and the folder holding it is left exactly as it was.
fn assert_refused_untouched(lib: &TempLib, expect: &str) {
    let db = lib.db();
    let before_bytes = std::fs::read(&db).unwrap();
    let before_names = names_in(lib.dir.path());
    let good = lib.path("in/good.bin");
    let root = lib.path("new-root");
    let commands: Vec<Vec<&str>> = vec![
        vec!["add", arg(&good)],
        vec!["run", "--until-idle"],
        vec!["status", "--json"],
        vec!["ops", "--json"],
        vec!["provider", "list"],
        vec!["provider", "add", "local", "X", "--root", arg(&root)],
        vec!["enqueue", "verify", "--provider", "local-backup"],
    ];
    for args in commands {
        let o = lib.exec(&args);
        let what = format!("breakdex {}", args.join(" "));
        assert_failure(&o, &what);
        let line = stderr_line_with(&o, arg(&db));
        assert!(
            line.contains("is not a Breakdex library") && line.contains(expect),
            "{what}: {line}"
        );
        assert!(line.contains("left untouched"), "{what}: {line}");
        assert!(
            std::fs::read(&db).unwrap() == before_bytes,
            "{what} changed the file"
        );
        assert_eq!(
            names_in(lib.dir.path()),
            before_names,
            "{what} created files beside it (-wal, -shm, -journal, folders)"
        );
    }
}

#[test]
fn a_db_that_is_not_sqlite_is_refused_and_left_untouched() {
    let mut fake_header = b"SQLite format 3\0".to_vec();
    fake_header.extend(crate::common::pseudo_random(4000, 9));
    let contents: Vec<(&str, Vec<u8>)> = vec![
        ("text", b"my shopping list\neggs\nmilk\n".to_vec()),
        ("random bytes", crate::common::pseudo_random(5000, 7)),
        ("zeros", vec![0u8; 4096]),
        ("a SQLite header then garbage", fake_header),
    ];
    for (what, bytes) in contents {
        let lib = TempLib::new();
        lib.write_file("in/good.bin", 100, 1);
        std::fs::write(lib.db(), &bytes).unwrap();
        eprintln!("--db holding {what}");
        assert_refused_untouched(&lib, "not a SQLite database");
    }
}

#[test]
fn a_db_that_is_a_folder_is_refused() {
    let lib = TempLib::new();
    std::fs::create_dir(lib.db()).unwrap();
    let o = lib.exec(&["status"]);
    assert_failure(&o, "status on a folder");
    assert!(
        stderr_line_with(&o, "library.db").contains("it is a folder"),
        "{}",
        stderr(&o)
    );
    assert!(names_in(&lib.db()).is_empty());
}

/// Makes a SQLite database of another program at `path`.
fn other_program_db(path: &Path, setup: &str) {
    let c = rusqlite::Connection::open(path).unwrap();
    c.execute_batch(setup).unwrap();
    c.execute_batch(
        "CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT);
         INSERT INTO photos (name) VALUES ('cat.jpg'), ('dog.jpg');",
    )
    .unwrap();
}

#[test]
fn a_sqlite_db_of_another_program_is_refused_and_left_untouched() {
    let lib = TempLib::new();
    lib.write_file("in/good.bin", 100, 1);
    other_program_db(&lib.db(), "");
    assert_refused_untouched(&lib, "SQLite database of another program");
}

#[test]
fn a_sqlite_db_of_another_program_with_a_user_version_is_refused_and_left_untouched() {
    let lib = TempLib::new();
    lib.write_file("in/good.bin", 100, 1);
    other_program_db(&lib.db(), "PRAGMA user_version = 1;");
    assert_refused_untouched(&lib, "another program");
}

#[test]
fn a_sqlite_db_of_another_program_in_wal_mode_is_left_untouched() {
    let lib = TempLib::new();
    lib.write_file("in/good.bin", 100, 1);
    let db = lib.db();
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch("PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;")
            .unwrap();
        c.execute_batch("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT);")
            .unwrap();
        c.execute_batch("INSERT INTO photos (name) VALUES ('cat.jpg');")
            .unwrap();
        // The other program is still running: its WAL is not checkpointed.
        std::mem::forget(c);
    }
    let mut wal = db.clone().into_os_string();
    wal.push("-wal");
    let wal = PathBuf::from(wal);
    let wal_before = std::fs::read(&wal).expect("a -wal file");
    assert_refused_untouched(&lib, "another program");
    assert_eq!(std::fs::read(&wal).unwrap(), wal_before);
}

// ---------------------------------------------------------------------------
// The happy path and the four operations.

/// The seed card's columns: the keys of every `ops --json` object.
const SEED_COLUMNS: [&str; 14] = [
    "id",
    "content_hash",
    "provider_id",
    "operation_type",
    "status",
    "priority",
    "retry_count",
    "max_retries",
    "error_message",
    "bytes_transferred",
    "total_bytes",
    "created_at",
    "started_at",
    "completed_at",
];

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_timestamp(v: &Value) -> bool {
    // YYYY-MM-DD HH:MM:SS[.fff]
    v.as_str().is_some_and(|s| {
        let b = s.as_bytes();
        b.len() >= 19 && b[4] == b'-' && b[7] == b'-' && b[10] == b' ' && b[13] == b':'
    })
}

fn provider_id(lib: &TempLib, name: &str) -> String {
    let list: Vec<Value> =
        serde_json::from_slice(&lib.ok(&["provider", "list", "--json"]).stdout).unwrap();
    list.iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no provider {name}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The counts of `status --json`, without the providers.
fn counts(lib: &TempLib) -> Value {
    let mut s = lib.status_json();
    s.as_object_mut().unwrap().remove("providers");
    s.as_object_mut().unwrap().remove("health");
    s
}

fn expect_counts(queued: i64, completed: i64, failed: i64, total: i64) -> Value {
    serde_json::json!({
        "queued": queued, "in_progress": 0, "retry_pending": 0,
        "permanently_failed": failed, "completed": completed, "cancelled": 0, "total": total,
        "paused": false,
    })
}

#[test]
fn happy_path_end_to_end() {
    let lib = TempLib::new();
    let files = vec![
        lib.write_file("photos/empty.bin", 0, 1),
        lib.write_file("photos/small.jpg", 1000, 2),
        lib.write_file("photos/2026/big.raw", (3 << 20) + 7, 3),
        lib.write_file("photos/2026/deep/name with spaces é.png", 70_000, 4),
        lib.write_file("photos/same-as-small.jpg", 1000, 2),
    ];
    let hashes: BTreeSet<String> = files.iter().map(|f| hash_of(f)).collect();
    assert_eq!(hashes.len(), 4, "two files share their content");

    let o = add(&lib, &[&lib.path("photos")]);
    assert_success(&o, "add a folder");
    assert_eq!(stderr(&o), "");
    assert!(
        stdout(&o).contains("added 5 files (4 uploads queued)"),
        "{}",
        stdout(&o)
    );

    let backup = provider_id(&lib, "local-backup");
    let ops = lib.ops_json();
    assert_eq!(ops.len(), 4);
    for op in &ops {
        let obj = op.as_object().expect("an object per op");
        for key in SEED_COLUMNS {
            assert!(obj.contains_key(key), "ops --json lacks {key}: {op}");
        }
        assert!(is_hex(op["id"].as_str().unwrap(), 32), "{op}");
        assert!(hashes.contains(op["content_hash"].as_str().unwrap()));
        assert_eq!(op["provider_id"], backup.as_str());
        assert_eq!(op["operation_type"], "upload");
        assert_eq!(op["status"], "queued");
        assert_eq!(op["priority"], 0);
        assert_eq!(op["retry_count"], 0);
        assert_eq!(op["max_retries"], 3);
        assert_eq!(op["error_message"], Value::Null);
        assert_eq!(op["bytes_transferred"], 0);
        assert!(is_timestamp(&op["created_at"]), "{op}");
        assert_eq!(op["started_at"], Value::Null);
        assert_eq!(op["completed_at"], Value::Null);
    }
    assert_eq!(counts(&lib), expect_counts(4, 0, 0, 4));

    let o = run(&lib);
    assert_success(&o, "run --until-idle");
    assert_eq!(
        run_summary(&o),
        serde_json::json!({"completed": 4, "failed": 0, "retried": 0, "rescued": 0, "offline": [], "full": [], "paused": [],
            "restored": 0, "restore_notes": [],
            "catalog_segments": 1, "catalog_entries": 4, "catalog_problems": [],
            "history_removed": 0})
    );
    assert_eq!(
        lib.status_json()["health"],
        serde_json::json!({"safe": 4, "at-risk": 0, "damaged": 0, "local-only": 0})
    );

    // Every object byte-identical to its source, and nothing else on the provider.
    let root = lib.backup_root();
    for f in &files {
        assert_eq!(
            std::fs::read(object_path(&root, &hash_of(f))).unwrap(),
            std::fs::read(f).unwrap(),
            "{}",
            f.display()
        );
    }
    let mut expected: Vec<PathBuf> = hashes.iter().map(|h| object_path(&root, h)).collect();
    expected.sort();
    assert_eq!(provider_files(&root), expected, "only the objects");

    let sizes: BTreeMap<String, u64> = files
        .iter()
        .map(|f| (hash_of(f), std::fs::metadata(f).unwrap().len()))
        .collect();
    for op in lib.ops_json() {
        assert_eq!(op["status"], "completed", "{op}");
        let size = sizes[op["content_hash"].as_str().unwrap()];
        assert_eq!(op["total_bytes"], size, "{op}");
        assert_eq!(op["bytes_transferred"], size, "{op}");
        assert_eq!(op["error_message"], Value::Null);
        assert!(is_timestamp(&op["started_at"]) && is_timestamp(&op["completed_at"]));
        let (c, s, d) = (
            op["created_at"].as_str().unwrap(),
            op["started_at"].as_str().unwrap(),
            op["completed_at"].as_str().unwrap(),
        );
        assert!(c <= s && s <= d, "{op}");
    }
    assert_eq!(counts(&lib), expect_counts(0, 4, 0, 4));
    let status = lib.status_json();
    let p = &status["providers"][0];
    assert_eq!(p["name"], "local-backup");
    assert_eq!(p["online"], true);
    assert_eq!(p["counts"]["completed"], 4);
    let copies = copies(&lib);
    assert_eq!(set_of(copies.keys()), hashes);
    assert!(copies.values().all(|s| s == "ok"));

    // Filters.
    let completed: Vec<Value> =
        serde_json::from_slice(&lib.ok(&["ops", "--status", "completed", "--json"]).stdout)
            .unwrap();
    assert_eq!(completed.len(), 4);
    let queued: Vec<Value> =
        serde_json::from_slice(&lib.ok(&["ops", "--status", "queued", "--json"]).stdout).unwrap();
    assert!(queued.is_empty());
    // The plain listings work too.
    let text = stdout(&lib.ok(&["ops"]));
    assert!(text.contains("small.jpg"));
    // Each line starts with its op's whole id, which tells it apart.
    let mut ids: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let ops = lib.ops_json();
    let mut json_ids: Vec<&str> = ops.iter().map(|o| o["id"].as_str().unwrap()).collect();
    ids.sort();
    json_ids.sort();
    assert_eq!(ids, json_ids, "{text}");
    assert!(stdout(&lib.ok(&["status"])).contains("completed 4"));
}

#[test]
fn add_queues_one_upload_per_enabled_provider_or_the_named_ones() {
    let lib = TempLib::new();
    let nas_root = lib.path("nas");
    let o = lib.ok(&["provider", "add", "local", "nas", "--root", arg(&nas_root)]);
    assert!(stdout(&o).contains("added provider 'nas'"));
    assert!(nas_root.is_dir(), "the root is created");
    let both = lib.write_file("in/both.bin", 5000, 1);
    let only_nas = lib.write_file("only/nas.bin", 6000, 2);

    lib.ok(&["add", arg(&both)]);
    lib.ok(&["add", arg(&only_nas), "--provider", "nas"]);
    let ops = lib.ops_json();
    let mut pairs: Vec<(String, String)> = ops
        .iter()
        .map(|o| {
            (
                o["content_hash"].as_str().unwrap().to_string(),
                o["provider_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    pairs.sort();
    let (backup, nas) = (provider_id(&lib, "local-backup"), provider_id(&lib, "nas"));
    let mut expected = vec![
        (hash_of(&both), backup.clone()),
        (hash_of(&both), nas.clone()),
        (hash_of(&only_nas), nas.clone()),
    ];
    expected.sort();
    assert_eq!(pairs, expected);

    assert_success(&run(&lib), "run");
    for (root, f) in [
        (lib.backup_root(), &both),
        (nas_root.clone(), &both),
        (nas_root.clone(), &only_nas),
    ] {
        assert_eq!(
            std::fs::read(object_path(&root, &hash_of(f))).unwrap(),
            std::fs::read(f).unwrap()
        );
    }
    assert!(!object_path(&lib.backup_root(), &hash_of(&only_nas)).exists());
}

/// A library with these files uploaded to `local-backup`.
fn uploaded(lib: &TempLib, files: &[(&str, usize, u64)]) -> Vec<(PathBuf, String)> {
    let paths: Vec<PathBuf> = files
        .iter()
        .map(|(name, len, seed)| lib.write_file(&format!("in/{name}"), *len, *seed))
        .collect();
    let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    assert_success(&add(lib, &refs), "add");
    assert_success(&run(lib), "run");
    paths
        .into_iter()
        .map(|p| {
            let h = hash_of(&p);
            (p, h)
        })
        .collect()
}

/// The ops of one type, newest last.
fn ops_of(lib: &TempLib, kind: &str) -> Vec<Value> {
    lib.ops_json()
        .into_iter()
        .filter(|o| o["operation_type"] == kind)
        .collect()
}

fn verified_at(lib: &TempLib, hash: &str) -> Option<String> {
    lib.read_db()
        .query_row(
            "SELECT verified_at FROM asset_copies WHERE content_hash = ?1",
            [hash],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn enqueue_verify_checks_copies_and_reports_missing_and_corrupt_ones() {
    let lib = TempLib::new();
    let files = uploaded(
        &lib,
        &[
            ("a.bin", 10_000, 1),
            ("b.bin", 20_000, 2),
            ("c.bin", 30_000, 3),
        ],
    );
    let root = lib.backup_root();
    let before: Vec<Option<String>> = files.iter().map(|(_, h)| verified_at(&lib, h)).collect();

    let o = lib.ok(&["enqueue", "verify", "--provider", "local-backup"]);
    assert!(stdout(&o).contains("queued 3 verify ops"), "{}", stdout(&o));
    let o = run(&lib);
    assert_success(&o, "run verify");
    assert_eq!(run_summary(&o)["completed"], 3);
    for ((_, h), old) in files.iter().zip(&before) {
        let now = verified_at(&lib, h);
        assert!(
            now.is_some() && now > *old,
            "verified_at moves on: {old:?} -> {now:?}"
        );
    }

    // Damage one copy, remove another: verify says so, and the engine
    // repairs both from the local bytes in the same run.
    let (a, b) = (&files[0].1, &files[1].1);
    let a_obj = object_path(&root, a);
    let mut bytes = std::fs::read(&a_obj).unwrap();
    bytes[5000] ^= 0xff;
    std::fs::write(&a_obj, &bytes).unwrap();
    std::fs::remove_file(object_path(&root, b)).unwrap();
    lib.ok(&["enqueue", "verify", "--provider", "local-backup"]);
    let o = run(&lib);
    assert_failure(&o, "verify of a damaged and a missing copy");
    assert_eq!(o.status.code(), Some(1));
    let s = run_summary(&o);
    assert_eq!(
        (s["completed"].as_i64(), s["failed"].as_i64()),
        (Some(3), Some(2))
    );
    let failed: Vec<Value> = serde_json::from_slice(
        &lib.ok(&["ops", "--status", "permanently_failed", "--json"])
            .stdout,
    )
    .unwrap();
    assert_eq!(failed.len(), 2);
    for op in &failed {
        let msg = op["error_message"].as_str().unwrap();
        if op["content_hash"] == a.as_str() {
            assert!(msg.contains("a.bin") && msg.contains("corrupt"), "{msg}");
        } else {
            assert_eq!(op["content_hash"], b.as_str());
            assert!(msg.contains("b.bin") && msg.contains("missing"), "{msg}");
        }
    }
    let copies = copies(&lib);
    for (_, h) in &files {
        assert_eq!(copies[h], "ok");
    }
    assert_eq!(hash_of(&a_obj), *a, "repaired");
    assert_eq!(hash_of(&object_path(&root, b)), *b, "repaired");
    let repairs: Vec<Value> = (lib.ops_json().into_iter())
        .filter(|op| {
            op["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("repair: "))
        })
        .collect();
    assert_eq!(repairs.len(), 2, "{repairs:?}");
}

#[test]
fn enqueue_download_brings_a_copy_into_the_library_files_folder() {
    let lib = TempLib::new();
    let files = uploaded(
        &lib,
        &[
            ("gone.tif", (2 << 20) + 3, 1),
            ("here.tif", 5000, 2),
            ("taken.txt", 700, 3),
        ],
    );
    let original: Vec<Vec<u8>> = files
        .iter()
        .map(|(p, _)| std::fs::read(p).unwrap())
        .collect();
    let files_dir = lib.files_dir();

    // The local file is gone: it comes back into the library folder.
    std::fs::remove_file(&files[0].0).unwrap();
    // Its name is taken in the library folder by other bytes.
    std::fs::remove_file(&files[2].0).unwrap();
    std::fs::create_dir_all(&files_dir).unwrap();
    std::fs::write(files_dir.join("taken.txt"), b"other bytes").unwrap();

    let mut args = vec!["enqueue", "download", "--provider", "local-backup"];
    for (_, h) in &files {
        args.extend(["--hash", h.as_str()]);
    }
    let o = lib.ok(&args);
    assert!(
        stdout(&o).contains("queued 3 download ops"),
        "{}",
        stdout(&o)
    );
    let o = run(&lib);
    assert_success(&o, "run download");
    assert_eq!(run_summary(&o)["completed"], 3);

    let gone = files_dir.join("gone.tif");
    assert_eq!(std::fs::read(&gone).unwrap(), original[0]);
    let beside = files_dir.join(format!("taken ({}).txt", &files[2].1[..12]));
    assert_eq!(std::fs::read(&beside).unwrap(), original[2]);
    assert_eq!(
        std::fs::read(files_dir.join("taken.txt")).unwrap(),
        b"other bytes",
        "a file already there is never overwritten"
    );
    // The local file that is still there and intact is not downloaded again.
    assert!(!files_dir.join("here.tif").exists());
    let m = manifest(&lib);
    assert_eq!(m[&files[0].1].as_deref(), Some(arg(&gone)));
    assert_eq!(m[&files[1].1].as_deref(), Some(arg(&files[1].0)));
    assert_eq!(m[&files[2].1].as_deref(), Some(arg(&beside)));
    // Nothing else in the library folder (an empty temporary folder at most).
    let mut expected = vec![gone, beside, files_dir.join("taken.txt")];
    expected.sort();
    assert_eq!(files_under(&files_dir), expected);
}

#[test]
fn enqueue_delete_remote_removes_the_object_but_never_the_last_good_copy() {
    let lib = TempLib::new();
    let files = uploaded(
        &lib,
        &[("keep-local.bin", 9000, 1), ("lost-local.bin", 8000, 2)],
    );
    let root = lib.backup_root();
    let (kept, lost) = (&files[0], &files[1]);

    // The local file is there: the remote copy may go.
    lib.ok(&[
        "enqueue",
        "delete_remote",
        "--provider",
        "local-backup",
        "--hash",
        &kept.1,
    ]);
    let o = run(&lib);
    assert_success(&o, "run delete_remote");
    assert_eq!(run_summary(&o)["completed"], 1);
    assert!(!object_path(&root, &kept.1).exists());
    assert!(!copies(&lib).contains_key(&kept.1));

    // Already gone counts as success.
    lib.ok(&[
        "enqueue",
        "delete_remote",
        "--provider",
        "local-backup",
        "--hash",
        &kept.1,
    ]);
    assert_success(&run(&lib), "delete of what is gone");

    // The local file is gone and this is the only good copy: refused.
    std::fs::remove_file(&lost.0).unwrap();
    lib.ok(&[
        "enqueue",
        "delete_remote",
        "--provider",
        "local-backup",
        "--hash",
        &lost.1,
    ]);
    let o = run(&lib);
    assert_failure(&o, "delete of the last good copy");
    assert_eq!(o.status.code(), Some(1));
    let op = ops_of(&lib, "delete_remote")
        .into_iter()
        .find(|o| o["content_hash"] == lost.1.as_str())
        .unwrap();
    assert_eq!(op["status"], "failed");
    assert_eq!(
        op["retry_count"], op["max_retries"],
        "no retries burnt on it"
    );
    let msg = op["error_message"].as_str().unwrap();
    assert!(
        msg.contains("refused") && msg.contains("last good copy") && msg.contains("lost-local.bin"),
        "{msg}"
    );
    assert_eq!(
        hash_of(&object_path(&root, &lost.1)),
        lost.1,
        "the copy is still there"
    );
    assert_eq!(copies(&lib)[&lost.1], "ok");
}

#[test]
fn a_source_changed_after_add_fails_permanently_and_leaves_nothing_behind() {
    let lib = TempLib::new();
    let same_size = lib.write_file("in/same-size.bin", 100_000, 1);
    let grown = lib.write_file("in/grown.bin", 50_000, 2);
    let shrunk = lib.write_file("in/shrunk.bin", (5 << 20) + 1, 3);
    let deleted = lib.write_file("in/deleted.bin", 4000, 4);
    let good = lib.write_file("in/good.bin", 6000, 5);
    assert_success(&add(&lib, &[&lib.path("in")]), "add");

    std::fs::write(&same_size, crate::common::pseudo_random(100_000, 99)).unwrap();
    let mut g = std::fs::read(&grown).unwrap();
    g.extend_from_slice(b"more");
    std::fs::write(&grown, g).unwrap();
    let s = std::fs::read(&shrunk).unwrap();
    std::fs::write(&shrunk, &s[..s.len() - 1]).unwrap();
    std::fs::remove_file(&deleted).unwrap();

    let o = run(&lib);
    assert_failure(&o, "run with changed sources");
    assert_eq!(o.status.code(), Some(1));
    let s = run_summary(&o);
    assert_eq!(
        (
            s["completed"].as_i64(),
            s["failed"].as_i64(),
            s["retried"].as_i64()
        ),
        (Some(1), Some(4), Some(0)),
        "{s}"
    );
    let changed = ["same-size.bin", "grown.bin", "shrunk.bin"];
    for op in lib.ops_json() {
        let name = lib
            .read_db()
            .query_row(
                "SELECT original_name FROM asset_manifest WHERE content_hash = ?1",
                [op["content_hash"].as_str().unwrap()],
                |r| r.get::<_, String>(0),
            )
            .unwrap();
        if name == "good.bin" {
            assert_eq!(op["status"], "completed");
            continue;
        }
        assert_eq!(op["status"], "failed", "{op}");
        assert_eq!(op["retry_count"], op["max_retries"], "failed at once: {op}");
        let msg = op["error_message"].as_str().unwrap();
        if changed.contains(&name.as_str()) {
            assert!(
                msg.contains("source changed") && msg.contains(&name),
                "{msg}"
            );
        } else {
            assert_eq!(name, "deleted.bin");
            assert!(
                msg.contains("source missing") && msg.contains(&name),
                "{msg}"
            );
        }
    }
    assert_eq!(
        provider_files(&lib.backup_root()),
        vec![object_path(&lib.backup_root(), &hash_of(&good))],
        "nothing but the good object, no temporary file"
    );
    assert_eq!(set_of(copies(&lib).keys()), set_of(&[hash_of(&good)]));
}

#[test]
fn priority_orders_the_queue_and_the_runs() {
    let lib = TempLib::new();
    // Added from lowest to highest age order, not in priority order.
    let specs = [("low", 0), ("high", 5), ("negative", -3), ("mid", 2)];
    for (i, (name, priority)) in specs.iter().enumerate() {
        let f = lib.write_file(&format!("in/{name}.bin"), 8 << 20, i as u64 + 1);
        let p = priority.to_string();
        lib.ok(&["add", arg(&f), "--priority", &p]);
    }
    let name_of = |op: &Value| -> String {
        lib.read_db()
            .query_row(
                "SELECT original_name FROM asset_manifest WHERE content_hash = ?1",
                [op["content_hash"].as_str().unwrap()],
                |r| r.get(0),
            )
            .unwrap()
    };
    let listed: Vec<(String, i64)> = lib
        .ops_json()
        .iter()
        .map(|o| (name_of(o), o["priority"].as_i64().unwrap()))
        .collect();
    let expected: Vec<(String, i64)> = [("high", 5), ("mid", 2), ("low", 0), ("negative", -3)]
        .iter()
        .map(|(n, p)| (format!("{n}.bin"), *p))
        .collect();
    assert_eq!(listed, expected, "ops lists the queue order");

    // One op at a time: each starts once the one before it ended, in
    // priority order. (Each op moves 8 MiB, so it lasts well over the
    // timestamps' millisecond: a wrong order cannot hide in a tie.)
    let o = output_of(
        lib.cmd()
            .args(["run", "--until-idle", "--concurrency", "1"]),
    );
    assert_success(&o, "run --concurrency 1");
    let ops = lib.ops_json();
    for pair in ops.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let (a_start, a_end, b_start) = (
            a["started_at"].as_str().unwrap(),
            a["completed_at"].as_str().unwrap(),
            b["started_at"].as_str().unwrap(),
        );
        assert!(
            a_start <= a_end && a_end <= b_start,
            "{} (priority {}) ran {a_start}..{a_end}, {} (priority {}) started {b_start}",
            name_of(a),
            a["priority"],
            name_of(b),
            b["priority"]
        );
    }
}

#[test]
fn adding_the_same_content_again_queues_no_second_upload() {
    let lib = TempLib::new();
    let f = lib.write_file("in/photo.jpg", 50_000, 1);
    let o = lib.ok(&["add", arg(&f)]);
    assert!(stdout(&o).contains("(1 upload queued)"), "{}", stdout(&o));

    // Again while the upload is queued, and under another name.
    let o = lib.ok(&["add", arg(&f)]);
    assert!(stdout(&o).contains("(0 uploads queued)"), "{}", stdout(&o));
    let copy = lib.path("elsewhere/copy.jpg");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(&f, &copy).unwrap();
    let o = lib.ok(&["add", arg(&copy)]);
    assert!(stdout(&o).contains("(0 uploads queued)"), "{}", stdout(&o));
    assert_eq!(lib.ops_json().len(), 1);

    assert_success(&run(&lib), "run");
    // Again once the provider holds it.
    let o = lib.ok(&["add", arg(&f), arg(&copy)]);
    assert!(stdout(&o).contains("(0 uploads queued)"), "{}", stdout(&o));
    let ops = lib.ops_json();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0]["status"], "completed");
    assert_eq!(manifest(&lib).len(), 1, "one row per content");
    let o = run(&lib);
    assert_success(&o, "run with nothing to do");
    assert_eq!(run_summary(&o)["completed"], 0);
    assert_no_panic(&o);
}

#[test]
fn a_relative_db_path_records_paths_that_hold_from_any_folder() {
    let lib = TempLib::new();
    let photo = lib.write_file("in/photo.jpg", 40_000, 1);
    let hash = hash_of(&photo);
    // Everything below runs in the library's folder with `--db library.db`.
    let here = |args: &[&str]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_breakdex"));
        c.current_dir(lib.dir.path())
            .env_remove("BREAKDEX_DB")
            .env_remove("RUST_LOG")
            .args(["--db", "library.db"])
            .args(args);
        let o = output_of(&mut c);
        assert_success(&o, &format!("breakdex --db library.db {}", args.join(" ")));
        o
    };
    here(&["add", "in/photo.jpg"]);
    here(&["run", "--until-idle"]);
    std::fs::remove_file(&photo).unwrap();
    here(&["enqueue", "download", "--provider", "local-backup"]);
    here(&["run", "--until-idle"]);

    let downloaded = lib.files_dir().join("photo.jpg");
    assert_eq!(hash_of(&downloaded), hash);
    assert_eq!(
        manifest(&lib)[&hash].as_deref(),
        Some(arg(&downloaded)),
        "the manifest records where the bytes are, as an absolute path"
    );
    // Seen from elsewhere, the local bytes are there: the remote copy may go.
    let o = output_of(lib.cmd().current_dir("/").args([
        "enqueue",
        "delete_remote",
        "--provider",
        "local-backup",
    ]));
    assert_success(&o, "enqueue delete_remote");
    let o = output_of(lib.cmd().current_dir("/").args(["run", "--until-idle"]));
    assert_success(
        &o,
        "delete_remote of a copy whose local file is in the library",
    );
    assert!(!object_path(&lib.backup_root(), &hash).exists());
}

#[test]
fn an_offline_provider_makes_its_ops_wait_instead_of_failing() {
    let lib = TempLib::new();
    let f = lib.write_file("in/a.bin", 5000, 1);
    lib.ok(&["add", arg(&f)]);
    // The drive is unplugged.
    std::fs::remove_dir(lib.backup_root()).unwrap();

    let o = run(&lib);
    assert_no_panic(&o);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let s = run_summary(&o);
    assert_eq!(
        (s["completed"].as_i64(), s["failed"].as_i64()),
        (Some(0), Some(0))
    );
    let offline = s["offline"][0].as_str().unwrap();
    assert!(offline.contains("'local-backup' is offline"), "{offline}");
    assert!(stderr_line_with(&o, "breakdex: provider 'local-backup'").contains("offline"));
    assert!(!stderr(&o).contains('\u{1b}'), "no colour codes in a pipe");
    let ops = lib.ops_json();
    assert_eq!(ops[0]["status"], "queued");
    assert_eq!(ops[0]["retry_count"], 0, "no retry spent");
    let status = lib.status_json();
    assert_eq!(status["providers"][0]["online"], false);

    // The drive is back.
    std::fs::create_dir(lib.backup_root()).unwrap();
    let o = run(&lib);
    assert_success(&o, "run once the provider is back");
    assert_eq!(run_summary(&o)["completed"], 1);
    assert_eq!(
        hash_of(&object_path(&lib.backup_root(), &hash_of(&f))),
        hash_of(&f)
    );
}

#[test]
fn downloads_of_assets_with_the_same_name_never_overwrite_each_other() {
    let lib = TempLib::new();
    let files: Vec<PathBuf> = (0..120)
        .map(|i| lib.write_file(&format!("in/cam{i:03}/IMG_0001.JPG"), 5_000, i + 1))
        .collect();
    assert_success(&add(&lib, &[&lib.path("in")]), "add");
    assert_success(&run(&lib), "upload");
    let hashes: BTreeSet<String> = files.iter().map(|f| hash_of(f)).collect();
    std::fs::remove_dir_all(lib.path("in")).unwrap();
    lib.ok(&["enqueue", "download", "--provider", "local-backup"]);
    assert_success(&run(&lib), "download");

    let landed = files_under(&lib.files_dir());
    let landed_hashes: BTreeSet<String> = landed.iter().map(|p| hash_of(p)).collect();
    assert_eq!(landed.len(), files.len(), "one file per asset: {landed:?}");
    assert_eq!(landed_hashes, hashes);
    for (hash, local) in manifest(&lib) {
        let local = local.expect("a local path");
        assert_eq!(hash_of(Path::new(&local)), hash, "{local}");
    }
}

#[test]
fn a_library_whose_provider_folder_cannot_be_made_is_not_created() {
    let lib = TempLib::new();
    // A file stands where the default provider's folder should go.
    std::fs::write(lib.backup_root(), b"in the way").unwrap();
    let o = lib.exec(&["status"]);
    assert_failure(&o, "a new library without room for its provider folder");
    let line = stderr_line_with(&o, "library-backup");
    assert!(
        line.contains("cannot create the default provider folder"),
        "{line}"
    );
    assert!(
        !lib.db().exists(),
        "no library without its provider is left"
    );

    // Once the way is clear, the new library comes with its provider.
    std::fs::remove_file(lib.backup_root()).unwrap();
    let list: Vec<Value> =
        serde_json::from_slice(&lib.ok(&["provider", "list", "--json"]).stdout).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["name"], "local-backup");
    assert_eq!(list[0]["enabled"], true);
    assert_eq!(list[0]["settings"]["root"], arg(&lib.backup_root()));
    assert!(lib.backup_root().is_dir());
}

#[test]
fn adding_with_no_enabled_provider_says_nothing_will_be_uploaded() {
    let lib = TempLib::new();
    lib.ok(&["provider", "list"]);
    rusqlite::Connection::open(lib.db())
        .unwrap()
        .execute("UPDATE sync_providers SET enabled = 0", [])
        .unwrap();
    let f = lib.write_file("in/a.bin", 100, 1);
    let o = lib.exec(&["add", arg(&f)]);
    assert_success(&o, "add with no enabled provider");
    assert!(stdout(&o).contains("(0 uploads queued)"), "{}", stdout(&o));
    assert!(
        stderr_line_with(&o, "no provider is enabled").contains("nothing will be uploaded"),
        "{}",
        stderr(&o)
    );
    assert!(manifest(&lib).contains_key(&hash_of(&f)), "still recorded");
}
