//! The catalog on every provider, and restore: a library is rebuilt on a
//! "new computer" from its providers alone (a local folder, S3 on moto,
//! SFTP on sshd), several libraries share a bucket, a hostile or damaged
//! catalog is refused piece by piece, and a restore never writes outside
//! its folder nor over another file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use breakdex::catalog::format;
use breakdex::store::{CatalogAsset, Described};

use crate::common::*;
use crate::remote::{
    add_s3, add_sftp_with, forget_host, free_port, need, new_secret, start_s3, start_sftp,
};

/// Writes a tree of about 300 files under `root/name`: nested folders, the
/// same bytes at several paths, unicode and space names, an empty file.
/// Returns the tree's folder.
pub(crate) fn make_tree(root: &Path, name: &str, seed: u64) -> PathBuf {
    let top = root.join(name);
    let mut n = 0u64;
    let mut write = |rel: &str, bytes: Vec<u8>| {
        let path = top.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
        n += 1;
    };
    for i in 0..280u64 {
        let dir = match i % 7 {
            0 => "2026/trip lisbon".to_string(),
            1 => "2026/trip lisbon/raw".to_string(),
            2 => "日本/写真".to_string(),
            3 => format!("deep/a/b/c/d{}", i % 3),
            _ => format!("shoot {}", i % 5),
        };
        let len = (i as usize * 977 + seed as usize) % 20_000 + 1;
        write(
            &format!("{dir}/IMG_{i:04}.jpg"),
            pseudo_random(len, seed * 1000 + i),
        );
    }
    // The same bytes at other places (and under another name).
    for i in 0..15u64 {
        let len = (i as usize * 977 + seed as usize) % 20_000 + 1;
        let same = pseudo_random(len, seed * 1000 + i);
        write(&format!("copies/IMG_{i:04}.jpg"), same.clone());
        write(&format!("copies/again/copy of {i}.jpg"), same);
    }
    write("empty file", Vec::new());
    write("Café ünïcode/naïve résumé.txt", b"accents".to_vec());
    write(".hidden/dot file", b"hidden".to_vec());
    assert!(n >= 300);
    top
}

/// `diff -r`: both trees hold the same paths with the same bytes.
pub(crate) fn assert_same_tree(a: &Path, b: &Path) {
    let out = Command::new("diff")
        .arg("-r")
        .arg(a)
        .arg(b)
        .output()
        .expect("run diff");
    assert!(
        out.status.success(),
        "diff -r {} {}:\n{}{}",
        a.display(),
        b.display(),
        stdout(&out),
        stderr(&out)
    );
}

pub(crate) fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}{}", stdout(o), stderr(o)))
}

pub(crate) fn run_until_idle(lib: &TempLib) -> serde_json::Value {
    let o = lib.exec(&["run", "--until-idle", "--retry-base-ms", "50"]);
    assert_success(&o, "run --until-idle");
    run_summary(&o)
}

fn scan(lib: &TempLib, provider: &str) -> serde_json::Value {
    json(&lib.ok(&["provider", "scan", provider, "--json"]))
}

/// How to add one provider to a library, the same way on each "computer".
pub(crate) type AddProvider<'a> = &'a dyn Fn(&TempLib) -> Output;

/// The whole story: a tree added and uploaded to `provider`; the library,
/// its secrets and the tree lost; a new library given the same provider
/// finds the catalog, and a restore rebuilds the tree byte for byte.
pub(crate) fn rebuild_from(provider: &str, add: AddProvider) {
    let old = TempLib::new();
    assert_success(&add(&old), "provider add");
    let tree = make_tree(&old.path("src"), "library", 7);
    old.ok(&["add", tree.to_str().unwrap(), "--provider", provider]);
    let summary = run_until_idle(&old);
    assert_eq!(summary["failed"], 0, "{summary}");
    assert!(
        summary["catalog_segments"].as_u64().unwrap() >= 1,
        "{summary}"
    );
    assert!(
        summary["catalog_problems"].as_array().unwrap().is_empty(),
        "{summary}"
    );
    let assets = old.ok(&["assets", "--json"]);
    let known = json(&assets).as_array().unwrap().len();
    // The tree, recorded as `cp -r` lays it out.
    let pristine = old.path("pristine");
    copy_tree(&tree, &pristine.join("library"));
    // The computer dies: database, secrets and the files are gone.
    for f in [
        "library.db",
        "library.db-wal",
        "library.db-shm",
        "library-secrets.json",
    ] {
        let _ = std::fs::remove_file(old.path(f));
    }
    std::fs::remove_dir_all(old.path("src")).unwrap();

    let new = TempLib::new();
    let added = add(&new);
    assert_success(&added, "provider add on the new computer");
    assert!(
        stdout(&added).contains("already holds a catalog"),
        "{}{}",
        stdout(&added),
        stderr(&added)
    );
    let found = scan(&new, provider);
    assert_eq!(found["assets"], known, "{found}");
    assert_eq!(found["new"], 0, "provider add scanned already: {found}");
    assert_eq!(found["objects_without_entry"], 0, "{found}");
    assert!(found["unreadable_segments"].as_array().unwrap().is_empty());
    let into = new.path("restored");
    new.ok(&["restore", "--into", into.to_str().unwrap()]);
    let summary = run_until_idle(&new);
    assert_eq!(summary["failed"], 0, "{summary}");
    assert!(
        summary["restore_notes"].as_array().unwrap().is_empty(),
        "{summary}"
    );
    assert_same_tree(&pristine, &into);
    // The restored files are the new library's local copies.
    let listed = json(&new.ok(&["assets", "--json"]));
    for a in listed.as_array().unwrap() {
        let local = a["local_path"]
            .as_str()
            .expect("every asset has local bytes now");
        assert!(Path::new(local).starts_with(&into), "{local}");
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    let ok = Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn a_library_is_rebuilt_from_a_local_folder_alone() {
    let drive = tempfile::tempdir().unwrap();
    let root = drive.path().join("usb");
    let add = |lib: &TempLib| {
        lib.exec(&[
            "provider",
            "add",
            "local",
            "usb",
            "--root",
            root.to_str().unwrap(),
        ])
    };
    rebuild_from("usb", &add);
}

#[test]
fn a_library_is_rebuilt_from_s3_alone() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // moto checking keys refuses every signed listing (boto3's as well), so
    // this one takes any key.
    let (_server, key_id, secret) = start_s3(dir.path(), port, false, &new_secret("s3"));
    let add = |lib: &TempLib| add_s3(lib, "bucket", port, &key_id, &secret);
    rebuild_from("bucket", &add);
}

#[test]
fn a_library_is_rebuilt_from_sftp_alone() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (_server, key) = start_sftp(dir.path(), port);
    let root = dir.path().join("sftp-root");
    let add = |lib: &TempLib| {
        let root = ["--root", root.to_str().unwrap()];
        add_sftp_with(lib, "box", port, &key, true, &root)
    };
    rebuild_from("box", &add);
    forget_host(port);
}

/// Two libraries upload to one bucket at the same time: each catalog is its
/// own, neither overwrites the other, and each library's scan finds the
/// union, which restores as both trees.
#[test]
fn two_libraries_writing_one_bucket_at_once_each_see_the_union() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (_server, key_id, secret) = start_s3(dir.path(), port, false, "any");
    let (a, b) = (TempLib::new(), TempLib::new());
    let mut trees = Vec::new();
    for (lib, name, seed) in [(&a, "laptop", 1), (&b, "desktop", 2)] {
        assert_success(&add_s3(lib, "shared", port, &key_id, &secret), "add s3");
        let tree = make_tree(&lib.path("src"), name, seed);
        lib.ok(&["add", tree.to_str().unwrap(), "--provider", "shared"]);
        trees.push(tree);
    }
    let runs: Vec<_> = [&a, &b]
        .iter()
        .map(|lib| {
            lib.cmd()
                .args(["run", "--until-idle", "--retry-base-ms", "50"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for run in runs {
        let out = run.wait_with_output().unwrap();
        assert_success(&out, "run");
    }
    let hashes = |lib: &TempLib| -> std::collections::BTreeSet<String> {
        (json(&lib.ok(&["assets", "--json"]))
            .as_array()
            .unwrap()
            .iter())
        .map(|a| a["content_hash"].as_str().unwrap().to_string())
        .collect()
    };
    let (only_a, only_b) = (hashes(&a), hashes(&b));
    let union = only_a.union(&only_b).count();
    let scanned_a = scan(&a, "shared");
    let scanned_b = scan(&b, "shared");
    assert_eq!(scanned_a["libraries"], 2, "{scanned_a}");
    assert_eq!(scanned_a["assets"], union, "{scanned_a}");
    assert_eq!(scanned_b["assets"], union, "{scanned_b}");
    assert_eq!(
        scanned_a["new"],
        union - only_a.len(),
        "a learns every asset of b"
    );
    assert_eq!(scanned_b["new"], union - only_b.len());
    assert_eq!(scanned_a["objects_without_entry"], 0);
    assert_eq!(hashes(&a), hashes(&b));
    // Restored from the union: both trees.
    let into = a.path("both");
    a.ok(&["restore", "--into", into.to_str().unwrap()]);
    assert_eq!(run_until_idle(&a)["failed"], 0);
    for tree in &trees {
        assert_same_tree(tree, &into.join(tree.file_name().unwrap()));
    }
}

// ---------------------------------------------------------------------------
// A provider's catalog written by hand: hostile paths, damaged segments.

fn hash_of_bytes(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// Puts `bytes` as an object on a local provider's folder.
fn put_object(root: &Path, bytes: &[u8]) -> String {
    let hash = hash_of_bytes(bytes);
    let path = object_path(root, &hash);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
    hash
}

fn described(hash: &str, size: usize, paths: &[&str]) -> CatalogAsset {
    CatalogAsset {
        content_hash: hash.to_string(),
        described: Some(Described {
            size_bytes: size as i64,
            media_type: "application/octet-stream".into(),
            added_at: "2026-11-01 10:00:00.000".into(),
            paths: paths
                .iter()
                .map(|p| (p.to_string(), "2026-11-01 10:00:00.000".to_string()))
                .collect(),
        }),
        removed_at: None,
    }
}

/// Writes a segment of `library` into a local provider's catalog folder.
fn put_segment(root: &Path, library: &str, seq: i64, bytes: &[u8]) -> String {
    let name = format::segment_name(library, seq, bytes);
    let path = root.join(&name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
    name
}

#[test]
fn hostile_paths_and_damaged_segments_are_refused_by_name_and_the_rest_restored() {
    let lib = TempLib::new();
    let root = lib.path("drive");
    std::fs::create_dir_all(&root).unwrap();
    let good = put_object(&root, b"good bytes");
    let hostile = put_object(&root, b"hostile bytes");
    let outside = lib.path("outside");
    let long = "n".repeat(300);
    let bad_paths = [
        "/etc/passwd-breakdex",
        "../escaped.txt",
        "ok/../../escaped.txt",
        "nul\0name",
        "C:/Windows/evil.txt",
        "back\\..\\slash.txt",
        long.as_str(),
    ];
    let mut paths = vec!["kept/hostile.txt"];
    paths.extend(bad_paths);
    let entries = vec![
        described(&good, 10, &["kept/good.txt"]),
        described(&hostile, 13, &paths),
    ];
    put_segment(
        &root,
        "aaaa",
        1,
        &format::encode("aaaa", 1, false, "t", &entries),
    );
    // Damaged ones: each named and skipped.
    let whole = format::encode("bbbb", 1, false, "t", &[described(&good, 10, &["b.txt"])]);
    let truncated = put_segment(&root, "bbbb", 1, &whole[..whole.len() - 9]);
    let not_catalog = put_segment(&root, "cccc", 1, b"GIF89a, not a catalog at all");
    let text = String::from_utf8(zstd::decode_all(&whole[..]).unwrap()).unwrap();
    let tampered = text.replace("b.txt", "c.txt");
    let bad_sum = put_segment(
        &root,
        "dddd",
        1,
        &zstd::encode_all(tampered.as_bytes(), 3).unwrap(),
    );
    let future = text.replace("\"breakdex_catalog\":1", "\"breakdex_catalog\":9");
    let newer = put_segment(
        &root,
        "eeee",
        1,
        &zstd::encode_all(future.as_bytes(), 3).unwrap(),
    );
    let other_lib = put_segment(&root, "ffff", 1, &whole);

    lib.ok(&[
        "provider",
        "add",
        "local",
        "drive",
        "--root",
        root.to_str().unwrap(),
    ]);
    let o = lib.exec(&["provider", "scan", "drive", "--json"]);
    assert_eq!(o.status.code(), Some(1), "unreadable segments: exit 1");
    let report = json(&o);
    let unreadable: BTreeMap<String, String> = report["unreadable_segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["name"].as_str().unwrap().into(),
                u["reason"].as_str().unwrap().into(),
            )
        })
        .collect();
    for (name, reason) in [
        (&truncated, "truncated"),
        (&not_catalog, "not a Breakdex catalog segment"),
        (&bad_sum, "checksum"),
        (&newer, "newer Breakdex"),
        (&other_lib, "not ffff"),
    ] {
        let said = unreadable
            .get(name)
            .unwrap_or_else(|| panic!("{name} not named: {report}"));
        assert!(said.contains(reason), "{name}: {said}");
        assert!(stderr(&o).contains(name.as_str()), "{}", stderr(&o));
    }
    assert_eq!(report["assets"], 2, "{report}");
    let refused = report["refused"].as_array().unwrap();
    assert_eq!(refused.len(), bad_paths.len(), "{report}");
    for (why, bad) in [
        ("absolute", 0),
        ("'..'", 1),
        ("'..'", 2),
        ("NUL", 3),
        ("drive letter", 4),
        ("backslash", 5),
        ("longer than 255", 6),
    ] {
        let text = refused[bad].as_str().unwrap();
        assert!(text.contains(why), "{text}");
    }
    let into = lib.path("restore");
    lib.ok(&["restore", "--into", into.to_str().unwrap()]);
    assert_eq!(run_until_idle(&lib)["failed"], 0);
    assert_eq!(
        std::fs::read(into.join("kept/good.txt")).unwrap(),
        b"good bytes"
    );
    // The hostile asset was restored at its one sound path only; nothing
    // landed outside the folder.
    assert_eq!(
        std::fs::read(into.join("kept/hostile.txt")).unwrap(),
        b"hostile bytes"
    );
    assert_eq!(files_under(&into).len(), 2, "{:?}", files_under(&into));
    assert!(!outside.exists() && !lib.path("escaped.txt").exists());
    assert!(!Path::new("/etc/passwd-breakdex").exists());
}

/// A restore never clobbers: a path holding other bytes keeps them and the
/// restored file lands beside it (said in the run's summary); a path that
/// holds the same bytes counts as done.
#[test]
fn a_restore_never_overwrites_a_different_file() {
    let lib = TempLib::new();
    let tree = uploaded_small_tree(&lib);
    let into = lib.path("into");
    std::fs::create_dir_all(into.join("t/sub")).unwrap();
    std::fs::write(into.join("t/a.txt"), b"someone else's").unwrap();
    std::fs::copy(tree.join("b.txt"), into.join("t/b.txt")).unwrap();
    lib.ok(&["restore", "--into", into.to_str().unwrap()]);
    let summary = run_until_idle(&lib);
    assert_eq!(summary["failed"], 0);
    assert_eq!(
        std::fs::read(into.join("t/a.txt")).unwrap(),
        b"someone else's"
    );
    let notes = summary["restore_notes"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{summary}");
    let note = notes[0].as_str().unwrap();
    assert!(
        note.contains("holds other bytes") && note.contains("a.txt"),
        "{note}"
    );
    let beside: Vec<PathBuf> = files_under(&into.join("t"))
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("a ("))
        .collect();
    assert_eq!(beside.len(), 1);
    assert_eq!(std::fs::read(&beside[0]).unwrap(), b"alpha");
    assert_eq!(std::fs::read(into.join("t/sub/c.txt")).unwrap(), b"gamma");
    // Nothing is left of the download's temporary files.
    assert!(!into.join(".breakdex-tmp").exists());
}

/// A new library (another computer) given a local folder as provider `usb`.
fn library_of(root: &Path) -> TempLib {
    let fresh = TempLib::new();
    fresh.ok(&[
        "provider",
        "add",
        "local",
        "usb",
        "--root",
        root.to_str().unwrap(),
    ]);
    fresh
}

/// [`make_small_tree`], added to `lib` and uploaded to its local provider.
fn uploaded_small_tree(lib: &TempLib) -> PathBuf {
    let tree = make_small_tree(lib);
    lib.ok(&["add", tree.to_str().unwrap()]);
    run_until_idle(lib);
    tree
}

fn make_small_tree(lib: &TempLib) -> PathBuf {
    let t = lib.path("t");
    std::fs::create_dir_all(t.join("sub")).unwrap();
    std::fs::write(t.join("a.txt"), b"alpha").unwrap();
    std::fs::write(t.join("b.txt"), b"beta").unwrap();
    std::fs::write(t.join("sub/c.txt"), b"gamma").unwrap();
    t
}

#[test]
fn restore_refuses_a_folder_it_cannot_use_before_queueing_anything() {
    let lib = TempLib::shared();
    uploaded_small_tree(&lib);
    let ops_before = lib.ops_json().len();
    let file = lib.path("a-file");
    std::fs::write(&file, b"x").unwrap();
    let inside = lib.backup_root().join("restored");
    for (into, reason) in [
        (file.clone(), "it is a file, not a folder"),
        (inside, "inside the folder of provider 'local-backup'"),
    ] {
        let o = lib.exec(&["restore", "--into", into.to_str().unwrap()]);
        assert_failure(&o, "restore into a bad folder");
        assert!(stderr(&o).contains(reason), "{}", stderr(&o));
    }
    // A folder that cannot be written (as a user other than root).
    let locked = lib.path("locked");
    std::fs::create_dir(&locked).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    let o = output_of(
        lib.cmd_unprivileged()
            .args(["restore", "--into", locked.to_str().unwrap()]),
    );
    assert_failure(&o, "restore into a read-only folder");
    assert!(
        stderr(&o).contains("not writable") || stderr(&o).contains("ermission"),
        "{}",
        stderr(&o)
    );
    assert_eq!(lib.ops_json().len(), ops_before, "nothing was queued");
}

#[test]
fn two_restores_into_one_folder_at_once_make_each_file_once() {
    let lib = TempLib::new();
    let tree = make_tree(&lib.path("src"), "t", 3);
    lib.ok(&["add", tree.to_str().unwrap()]);
    run_until_idle(&lib);
    let into = lib.path("into");
    let spawn = |args: &[&str]| {
        lib.cmd()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let into_s = into.to_str().unwrap();
    let restores = [
        spawn(&["restore", "--into", into_s]),
        spawn(&["restore", "--into", into_s]),
    ];
    for r in restores {
        assert_success(&r.wait_with_output().unwrap(), "restore");
    }
    let runs = [
        spawn(&["run", "--until-idle", "--concurrency", "2"]),
        spawn(&["run", "--until-idle", "--concurrency", "2"]),
    ];
    for r in runs {
        assert_success(&r.wait_with_output().unwrap(), "run");
    }
    assert_same_tree(&tree, &into.join("t"));
}

/// A provider that is offline: a scan says so and brings nothing in; a
/// restore's downloads wait for it and complete once it is back.
#[test]
fn an_offline_provider_stops_a_scan_and_makes_a_restore_wait() {
    let lib = TempLib::new();
    let tree = uploaded_small_tree(&lib);
    let root = lib.backup_root();
    let away = lib.path("unplugged");
    let fresh = TempLib::new();
    let usb = fresh.path("usb");
    std::fs::create_dir(&usb).unwrap();
    fresh.ok(&[
        "provider",
        "add",
        "local",
        "usb",
        "--root",
        usb.to_str().unwrap(),
    ]);
    std::fs::remove_dir(&usb).unwrap();
    std::os::unix::fs::symlink(&root, &usb).unwrap();
    std::fs::rename(&root, &away).unwrap();
    let o = fresh.exec(&["provider", "scan", "usb"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("offline") && stderr(&o).contains("nothing was changed"));
    assert_eq!(
        json(&fresh.ok(&["assets", "--json"]))
            .as_array()
            .unwrap()
            .len(),
        0
    );

    let into = lib.path("into");
    lib.ok(&["restore", "--into", into.to_str().unwrap()]);
    let o = lib.exec(&["run", "--until-idle"]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "waits for the provider: {}",
        stderr(&o)
    );
    std::fs::rename(&away, &root).unwrap();
    assert_eq!(run_until_idle(&lib)["failed"], 0);
    assert_same_tree(&tree, &into.join("t"));
}

/// Scanning twice changes nothing the second time.
#[test]
fn a_second_scan_changes_nothing() {
    let lib = TempLib::new();
    uploaded_small_tree(&lib);
    let fresh = library_of(&lib.backup_root());
    let listing = || stdout(&fresh.ok(&["assets", "--json"]));
    let first = listing();
    let again = scan(&fresh, "usb");
    assert_eq!(
        (again["new"].as_u64(), again["known"].as_u64()),
        (Some(0), Some(3))
    );
    assert_eq!(again["new_paths"], 0);
    assert_eq!(listing(), first);
    let assets = json(&fresh.ok(&["assets", "--json"]));
    let mut names: Vec<&str> = assets
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["paths"][0].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["t/a.txt", "t/b.txt", "t/sub/c.txt"]);
    for a in assets.as_array().unwrap() {
        assert!(a["local_path"].is_null());
        assert_eq!(a["copies"][0]["provider"], "usb");
        assert_eq!(a["copies"][0]["verify_status"], "ok");
        for field in ["content_hash", "size_bytes", "media_type", "added_at"] {
            assert!(!a[field].is_null(), "{field}: {a}");
        }
    }
}

/// A delete_remote is said in the catalog: a later scan does not promise
/// what is gone, and the catalog does not count it as missing either.
#[test]
fn a_deleted_copy_is_no_longer_promised() {
    let lib = TempLib::new();
    let tree = uploaded_small_tree(&lib);
    let hash = hash_of(&tree.join("a.txt"));
    lib.ok(&[
        "enqueue",
        "delete_remote",
        "--provider",
        "local-backup",
        "--hash",
        &hash,
    ]);
    let summary = run_until_idle(&lib);
    assert!(
        summary["catalog_entries"].as_u64().unwrap() >= 1,
        "{summary}"
    );
    let fresh = library_of(&lib.backup_root());
    let found = scan(&fresh, "usb");
    assert_eq!(found["assets"], 2, "{found}");
    assert_eq!(found["entries_without_object"], 0, "{found}");
}

/// Objects no catalog describes are counted and named; entries whose
/// object is gone are counted.
#[test]
fn objects_without_entries_and_entries_without_objects_are_counted() {
    let lib = TempLib::new();
    let tree = uploaded_small_tree(&lib);
    let root = lib.backup_root();
    let stray = put_object(&root, b"nobody described me");
    std::fs::remove_file(object_path(&root, &hash_of(&tree.join("b.txt")))).unwrap();
    let fresh = library_of(&root);
    let found = scan(&fresh, "usb");
    assert_eq!(found["assets"], 2);
    assert_eq!(found["objects_without_entry"], 1);
    assert_eq!(found["objects_without_entry_hashes"][0], stray.as_str());
    assert_eq!(found["entries_without_object"], 1);
    let text = stdout(&fresh.ok(&["provider", "scan", "usb"]));
    assert!(text.contains(&stray), "{text}");
}

/// Copies made before the catalog existed (or whose catalog was lost) are
/// described by the next run, in batches.
#[test]
fn copies_without_catalog_entries_are_described_by_the_next_run() {
    let lib = TempLib::new();
    let tree = make_tree(&lib.path("src"), "t", 5);
    lib.ok(&["add", tree.to_str().unwrap()]);
    run_until_idle(&lib);
    // As a library made before the catalog looks after its migration.
    let root = lib.backup_root();
    std::fs::remove_dir_all(root.join("catalog")).unwrap();
    let c = rusqlite::Connection::open(lib.db()).unwrap();
    c.execute_batch("DELETE FROM catalog_state; DELETE FROM catalog_segments;")
        .unwrap();
    drop(c);
    let summary = run_until_idle(&lib);
    let assets = json(&lib.ok(&["assets", "--json"]))
        .as_array()
        .unwrap()
        .len();
    assert_eq!(summary["catalog_entries"], assets, "{summary}");
    let fresh = library_of(&root);
    assert_eq!(scan(&fresh, "usb")["assets"], assets);
}

/// A run killed between uploads and their catalog entries: the next run
/// writes the entries.
#[test]
fn a_run_killed_before_its_catalog_is_written_is_completed_by_the_next() {
    let lib = TempLib::new();
    let tree = make_tree(&lib.path("src"), "t", 9);
    lib.ok(&["add", tree.to_str().unwrap()]);
    let mut run = lib
        .cmd()
        .args(["run", "--concurrency", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Killed once some uploads completed (without --until-idle, the
    // catalog waits up to 10 s for more).
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    loop {
        let (_, _, completed, _) = lib.status_counts();
        if completed >= 20 {
            break;
        }
        assert!(Instant::now() < deadline, "no upload completed");
        std::thread::sleep(Duration::from_millis(5));
    }
    run.kill().unwrap();
    run.wait().unwrap();
    let c = lib.read_db();
    let (copies, mark): (i64, i64) = c
        .query_row(
            "SELECT (SELECT count(*) FROM asset_copies),
                    COALESCE((SELECT max(copies_mark) FROM catalog_state), 0)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(
        copies > mark,
        "the kill left copies without entries ({copies} > {mark})"
    );
    drop(c);
    assert_eq!(run_until_idle(&lib)["failed"], 0);
    let fresh = library_of(&lib.backup_root());
    let found = scan(&fresh, "usb");
    let assets = json(&lib.ok(&["assets", "--json"]))
        .as_array()
        .unwrap()
        .len();
    assert_eq!(found["assets"], assets, "{found}");
    assert_eq!(found["objects_without_entry"], 0, "{found}");
}

/// Many small segments are compacted into a snapshot; the catalog still
/// describes everything.
#[test]
fn many_small_segments_are_compacted() {
    let lib = TempLib::new();
    let root = lib.backup_root();
    let segments = || files_under(&root.join("catalog")).len();
    for i in 0..34 {
        let f = lib.write_file(&format!("one-{i}.bin"), 100 + i, i as u64);
        lib.ok(&["add", f.to_str().unwrap()]);
        run_until_idle(&lib);
    }
    assert!(segments() < 10, "{} segments left", segments());
    let fresh = library_of(&root);
    let found = scan(&fresh, "usb");
    assert_eq!(found["assets"], 34, "{found}");
    assert_eq!(found["paths"], 34, "{found}");
}

/// The catalog holds no secret and no absolute local path.
#[test]
fn the_catalog_holds_no_secret_and_no_local_path() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let secret = new_secret("cat");
    // moto without key checks: boto3 reads the bucket back with any key.
    let (_server, key_id, secret) = start_s3(dir.path(), port, false, &secret);
    let lib = TempLib::new();
    assert_success(&add_s3(&lib, "bucket", port, &key_id, &secret), "add s3");
    let tree = make_small_tree(&lib);
    lib.ok(&["add", tree.to_str().unwrap(), "--provider", "bucket"]);
    run_until_idle(&lib);
    let _ = need("python3");
    let dump = Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import boto3, sys\n\
             c = boto3.client('s3', endpoint_url='http://127.0.0.1:{port}', region_name='us-east-1', \
             aws_access_key_id='x', aws_secret_access_key='x')\n\
             for o in c.list_objects_v2(Bucket='bx-bucket', Prefix='catalog/')['Contents']:\n\
             \x20   sys.stdout.buffer.write(c.get_object(Bucket='bx-bucket', Key=o['Key'])['Body'].read())\n"
        ))
        .output()
        .unwrap();
    assert!(dump.status.success(), "{}", stderr(&dump));
    let text = String::from_utf8(zstd::decode_all(&dump.stdout[..]).unwrap()).unwrap();
    assert!(text.contains("\"t/sub/c.txt\""), "{text}");
    assert!(!text.contains(&secret) && !text.contains(&key_id));
    assert!(!text.contains(lib.dir.path().to_str().unwrap()), "{text}");
}

// ---------------------------------------------------------------------------
// The window.

/// The providers window's Scan reads a provider's catalog into the library
/// and shows what it found; File → Restore library to… (here given its
/// folder, as the folder picker would) queues the restore, and selected
/// ops' "Restore to…" restores their assets only.
#[test]
fn the_window_scans_a_provider_and_restores_from_it() {
    use egui_kittest::kittest::Queryable;

    let old = TempLib::new();
    let tree = make_small_tree(&old);
    old.ok(&["add", tree.to_str().unwrap()]);
    run_until_idle(&old);

    let lib = TempLib::new();
    {
        // Added without the command line's scan: the window's is tested.
        let mut store = breakdex::store::Store::open(&lib.db()).unwrap();
        let root = old.backup_root();
        store
            .add_provider(
                "usb",
                breakdex::store::ProviderKind::Local,
                &serde_json::json!({ "root": root }),
                4,
            )
            .unwrap();
    }
    let mut h = crate::ui::harness(&lib.db());
    crate::ui::settle(&mut h, "first load", |app| !app.model.snapshot.loading);
    h.get_by_label("🗄 Providers").click();
    h.run_steps(2);
    let at = (h.state().model.snapshot.providers.iter())
        .position(|p| p.row.name == "usb")
        .unwrap();
    h.query_all_by_label("Scan").nth(at).unwrap().click();
    let found = |app: &breakdex::ui::App| {
        (app.model.snapshot.scans.iter())
            .any(|(_, line)| line.contains("holds 3 described assets (3 new"))
    };
    crate::ui::settle(&mut h, "the scan's result", found);
    assert!(
        h.query_all_by_label_contains("holds 3 described assets")
            .next()
            .is_some(),
        "the providers window shows the result"
    );
    assert_eq!(
        json(&lib.ok(&["assets", "--json"]))
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let into = lib.path("restored");
    h.state_mut()
        .restore_to(breakdex::ui::Restoring::All, into.clone());
    crate::ui::settle(&mut h, "the restore queued", |app| {
        (app.model.snapshot.notice.as_deref()).is_some_and(|n| n.contains("restoring 3 files"))
    });
    assert_eq!(run_until_idle(&lib)["failed"], 0);
    assert_same_tree(&tree, &into.join("t"));

    // One op's asset only.
    let ops = lib.ops_json();
    let one = ops
        .iter()
        .find(|op| op["asset_name"] == "b.txt")
        .map(|op| op["id"].as_str().unwrap().to_string())
        .unwrap();
    let only = lib.path("only-b");
    h.state_mut()
        .restore_to(breakdex::ui::Restoring::Ops(vec![one]), only.clone());
    crate::ui::settle(&mut h, "the second restore queued", |app| {
        (app.model.snapshot.notice.as_deref()).is_some_and(|n| n.contains("restoring 1 file"))
    });
    assert_eq!(run_until_idle(&lib)["failed"], 0);
    assert_eq!(files_under(&only), [only.join("t/b.txt")]);
}

/// A provider added to a library that has assets lacks them, and says so;
/// `enqueue upload --provider NAME` copies every one whose bytes are here.
#[test]
fn a_new_provider_gets_the_existing_library_on_request() {
    let lib = TempLib::new();
    let tree = uploaded_small_tree(&lib);
    // One asset's local file is gone: it cannot be copied from here.
    std::fs::remove_file(tree.join("b.txt")).unwrap();
    let usb = lib.path("usb");
    let added = lib.ok(&[
        "provider",
        "add",
        "local",
        "usb",
        "--root",
        usb.to_str().unwrap(),
    ]);
    assert!(
        stdout(&added).contains("it lacks the library's 2 assets"),
        "{}",
        stdout(&added)
    );
    let o = lib.ok(&["enqueue", "upload", "--provider", "usb"]);
    assert!(
        stdout(&o).contains("queued 2 upload ops on provider 'usb'"),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains("1 asset the provider lacks has no local bytes"),
        "{}",
        stderr(&o)
    );
    assert_eq!(run_until_idle(&lib)["failed"], 0);
    for name in ["a.txt", "sub/c.txt"] {
        let f = tree.join(name);
        assert_eq!(
            std::fs::read(object_path(&usb, &hash_of(&f))).unwrap(),
            std::fs::read(&f).unwrap()
        );
    }
    // Again: nothing more to copy.
    let o = lib.ok(&["enqueue", "upload", "--provider", "usb"]);
    assert!(stdout(&o).contains("queued 0 upload ops"), "{}", stdout(&o));
}
