//! Client-side encryption (issue 15) against real servers: S3 on moto,
//! SFTP on sshd, local folders. What reaches a provider says nothing of
//! names, contents or hashes; the Debian `age` tool opens every object with
//! the exported key; verify finds a flipped byte, a cut and a non-age
//! object; a new computer restores from the provider and the passphrase
//! alone; a wrong passphrase, another library's key and a short
//! passphrase are refused with nothing written; the passphrase is never
//! kept or shown.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::catalog::{AddProvider, rebuild_from};
use crate::common::{
    TempLib, assert_failure, assert_success, files_under, hash_of, pseudo_random, stderr, stdout,
};
use crate::remote::{
    add_s3_with, add_sftp_with, add_webdav_with, forget_host, free_port, new_secret, s3_read_back,
    start_s3, start_sftp, start_webdav,
};

const CONTENT_MARKER: &str = "CONTENT-MARKER-5d1c";
const NAME_MARKER: &str = "name-marker-88af";

/// A passphrase in a file outside every library (so that a search of a
/// library's files for it finds only real leaks).
struct Pass {
    _dir: tempfile::TempDir,
    text: String,
    file: PathBuf,
}

impl Pass {
    fn new() -> Pass {
        let dir = tempfile::tempdir().unwrap();
        let text = new_secret("passphrase");
        let file = dir.path().join("passphrase.txt");
        std::fs::write(&file, format!("{text}\n")).unwrap();
        Pass {
            _dir: dir,
            text,
            file,
        }
    }

    fn args(&self) -> [&str; 3] {
        [
            "--encrypt",
            "--passphrase-file",
            self.file.to_str().unwrap(),
        ]
    }
}

/// A tree whose names and contents carry the markers: small files, one
/// over a chunk of age's, one of 3 MiB, an empty one. Returns its folder
/// and the content hashes.
fn marked_tree(lib: &TempLib) -> (PathBuf, HashSet<String>) {
    let top = lib.path(&format!("tree/{NAME_MARKER} folder"));
    std::fs::create_dir_all(&top).unwrap();
    let mut hashes = HashSet::new();
    for i in 0..12u64 {
        let mut bytes = format!("{CONTENT_MARKER} file {i}\n")
            .repeat(40)
            .into_bytes();
        bytes.extend(pseudo_random(i as usize * 7_919 + 1, i));
        let path = top.join(format!("{NAME_MARKER} {i}.txt"));
        std::fs::write(&path, bytes).unwrap();
        hashes.insert(hash_of(&path));
    }
    for (name, len) in [("big.bin", 3 << 20), ("chunk.bin", 65_537), ("empty", 0)] {
        let path = top.join(format!("{NAME_MARKER} {name}"));
        let mut bytes = pseudo_random(len, len as u64);
        if len > 100 {
            bytes[50..50 + CONTENT_MARKER.len()].copy_from_slice(CONTENT_MARKER.as_bytes());
        }
        std::fs::write(&path, bytes).unwrap();
        hashes.insert(hash_of(&path));
    }
    (top, hashes)
}

/// What a provider must not show: the markers and every content hash.
fn assert_reveals_nothing(what: &str, bytes: &[u8], hashes: &HashSet<String>) {
    let text = String::from_utf8_lossy(bytes);
    for needle in [CONTENT_MARKER, NAME_MARKER] {
        assert!(!text.contains(needle), "{what} shows {needle}");
    }
    for hash in hashes {
        assert!(
            !text.contains(hash.as_str()),
            "{what} shows the hash {hash}"
        );
    }
}

/// `age -d -i identity object`'s output.
pub(crate) fn age_decrypt(identity: &Path, object: &Path) -> Vec<u8> {
    let out = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(identity)
        .arg(object)
        .output()
        .expect("the age tool (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "age -d {}: {}",
        object.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn blake3_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// No file of the library's folder (the database, its WAL, the secrets
/// file, the providers' folders) holds `text`.
pub(crate) fn assert_nowhere_in(lib: &TempLib, text: &str) {
    for file in files_under(lib.dir.path()) {
        if let Ok(bytes) = std::fs::read(&file) {
            assert!(
                !String::from_utf8_lossy(&bytes).contains(text),
                "{text:?} is in {}",
                file.display()
            );
        }
    }
}

/// The passphrase is in no file of the library's folder and in none of
/// `outputs`.
fn assert_passphrase_nowhere(pass: &Pass, lib: &TempLib, outputs: &[&Output]) {
    assert_nowhere_in(lib, &pass.text);
    for o in outputs {
        assert!(!stdout(o).contains(&pass.text) && !stderr(o).contains(&pass.text));
    }
}

#[test]
fn encrypted_copies_on_s3_and_sftp_reveal_nothing_and_age_opens_them() {
    let lib = TempLib::new();
    let pass = Pass::new();
    let (tree, hashes) = marked_tree(&lib);
    let moto_port = free_port();
    let (_moto, key_id, secret) = start_s3(lib.dir.path(), moto_port, false, &new_secret("s3"));
    let on_s3 = add_s3_with(&lib, "bucket", moto_port, &key_id, &secret, &pass.args());
    assert_success(&on_s3, "provider add s3 --encrypt");
    assert!(
        stdout(&on_s3).contains("made the library key age1"),
        "{}",
        stdout(&on_s3)
    );
    assert!(stdout(&on_s3).contains("Keep the passphrase safe"));
    let ssh_port = free_port();
    forget_host(ssh_port);
    let ssh_dir = lib.path("ssh");
    std::fs::create_dir_all(&ssh_dir).unwrap();
    let (_ssh, key) = start_sftp(&ssh_dir, ssh_port);
    let on_sftp = add_sftp_with(&lib, "box", ssh_port, &key, true, &pass.args());
    assert!(
        stdout(&on_sftp).contains("put the library key age1"),
        "{}",
        stdout(&on_sftp)
    );
    lib.ok(&["provider", "remove", "local-backup"]);

    lib.ok(&["add", tree.to_str().unwrap()]);
    let run = lib.ok(&["run", "--until-idle", "--retry-base-ms", "50"]);
    let summary = crate::common::run_summary(&run);
    assert_eq!(summary["failed"], 0, "{summary}");
    assert_eq!(summary["completed"], 2 * hashes.len() as u64, "{summary}");

    let identity = lib.path("recovery/identity.txt");
    std::fs::create_dir_all(identity.parent().unwrap()).unwrap();
    let exported = lib.ok(&["identity", "export", identity.to_str().unwrap()]);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&identity).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // Never over a file.
    assert_failure(
        &lib.exec(&["identity", "export", identity.to_str().unwrap()]),
        "identity export over a file",
    );

    // S3: every key and every object, read straight from moto.
    let (out, listed) = s3_read_back(&lib, moto_port);
    let keys: Vec<&str> = (listed["keys"].as_array().unwrap().iter())
        .map(|k| k.as_str().unwrap())
        .collect();
    let mut found = HashSet::new();
    for (i, key) in keys.iter().enumerate() {
        let object = out.join(i.to_string());
        let bytes = std::fs::read(&object).unwrap();
        assert_reveals_nothing(key, key.as_bytes(), &hashes);
        assert_reveals_nothing(key, &bytes, &hashes);
        assert!(
            bytes.starts_with(b"age-encryption.org/v1\n"),
            "{key} is not age"
        );
        if key.starts_with("objects/") {
            found.insert(blake3_hex(&age_decrypt(&identity, &object)));
        }
    }
    assert_eq!(found, hashes, "age -d gives back every file, byte for byte");
    assert!(keys.iter().any(|k| k.starts_with("catalog/")), "{keys:?}");
    assert!(keys.contains(&"keys/breakdex-library-key.age"), "{keys:?}");

    // SFTP: the server's folder, file by file.
    let root = lib.path("sftp-root-box");
    assert_eq!(opened_objects(&root, &identity, &hashes), hashes);
    assert_passphrase_nowhere(&pass, &lib, &[&on_s3, &on_sftp, &run, &exported]);
    forget_host(ssh_port);
}

/// The objects under `root` (a server's folder) opened with `identity`:
/// their hashes, each object and name checked to reveal nothing.
fn opened_objects(root: &Path, identity: &Path, hashes: &HashSet<String>) -> HashSet<String> {
    let mut found = HashSet::new();
    for file in files_under(root) {
        let rel = file
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let bytes = std::fs::read(&file).unwrap();
        assert_reveals_nothing(&rel, rel.as_bytes(), hashes);
        assert_reveals_nothing(&rel, &bytes, hashes);
        if rel.starts_with("objects/") {
            found.insert(blake3_hex(&age_decrypt(identity, &file)));
        }
    }
    found
}

#[test]
fn encrypted_copies_on_webdav_reveal_nothing_and_verify() {
    let lib = TempLib::new();
    let pass = Pass::new();
    let (tree, hashes) = marked_tree(&lib);
    let port = free_port();
    let password = new_secret("dav");
    let root = lib.path("dav-root");
    let _server = start_webdav(lib.dir.path(), &root, port, &password);
    let added = add_webdav_with(&lib, "dav", port, &password, &pass.args());
    assert_success(&added, "provider add webdav --encrypt");
    lib.ok(&["provider", "remove", "local-backup"]);
    lib.ok(&["add", tree.to_str().unwrap()]);
    lib.ok(&["run", "--until-idle", "--retry-base-ms", "50"]);
    lib.ok(&["enqueue", "verify", "--provider", "dav"]);
    let run = lib.ok(&["run", "--until-idle", "--retry-base-ms", "50"]);
    assert_eq!(
        crate::common::run_summary(&run)["completed"],
        hashes.len() as u64
    );
    let identity = lib.path("identity.txt");
    lib.ok(&["identity", "export", identity.to_str().unwrap()]);
    let dav = root.join("breakdex");
    assert_eq!(opened_objects(&dav, &identity, &hashes), hashes);
    assert!(dav.join("keys/breakdex-library-key.age").exists());
}

#[test]
fn an_encrypted_s3_upload_in_parts_opens_with_age_and_verifies() {
    let lib = TempLib::new();
    let pass = Pass::new();
    let port = free_port();
    let (_moto, key_id, secret) = start_s3(lib.dir.path(), port, false, &new_secret("s3"));
    assert_success(
        &add_s3_with(&lib, "bucket", port, &key_id, &secret, &pass.args()),
        "provider add s3 --encrypt",
    );
    lib.ok(&["provider", "remove", "local-backup"]);
    // Above the single-PUT limit (100 MiB): 14 parts of 8 MiB, the last short.
    let big = lib.path("video/take.mov");
    std::fs::create_dir_all(big.parent().unwrap()).unwrap();
    std::fs::write(&big, pseudo_random((104 << 20) + 12_345, 9)).unwrap();
    lib.ok(&["add", big.to_str().unwrap()]);
    lib.ok(&["run", "--until-idle", "--retry-base-ms", "50"]);
    lib.ok(&["enqueue", "verify", "--provider", "bucket"]);
    let run = lib.ok(&["run", "--until-idle", "--retry-base-ms", "50"]);
    assert_eq!(crate::common::run_summary(&run)["completed"], 1);
    let identity = lib.path("identity.txt");
    lib.ok(&["identity", "export", identity.to_str().unwrap()]);
    let (out, listed) = s3_read_back(&lib, port);
    let keys = listed["keys"].as_array().unwrap();
    let at = (keys.iter())
        .position(|k| k.as_str().unwrap().starts_with("objects/"))
        .expect("the object");
    let plain = age_decrypt(&identity, &out.join(at.to_string()));
    assert!(
        blake3_hex(&plain) == hash_of(&big),
        "age -d gives the file back"
    );
    assert_eq!(listed["uploads"], serde_json::json!([]));
}

#[test]
fn verify_reports_a_flipped_byte_a_cut_an_object_that_is_not_age_and_a_missing_one() {
    let lib = TempLib::new();
    let pass = Pass::new();
    let (tree, hashes) = marked_tree(&lib);
    let root = lib.path("drive");
    let mut args = vec![
        "provider",
        "add",
        "local",
        "drive",
        "--root",
        root.to_str().unwrap(),
    ];
    args.extend(pass.args());
    lib.ok(&args);
    lib.ok(&["add", tree.to_str().unwrap(), "--provider", "drive"]);
    lib.ok(&["run", "--until-idle", "--retry-base-ms", "50"]);
    let mut objects: Vec<PathBuf> = files_under(&root.join("objects"));
    objects.sort_by_key(|p| std::fs::metadata(p).unwrap().len());
    assert_eq!(objects.len(), hashes.len());
    // The four biggest: one byte flipped in the middle, one cut to half
    // its size, one replaced by plain bytes, one removed.
    let n = objects.len();
    let mut flipped = std::fs::read(&objects[n - 1]).unwrap();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x04;
    std::fs::write(&objects[n - 1], flipped).unwrap();
    let cut = std::fs::read(&objects[n - 2]).unwrap();
    std::fs::write(&objects[n - 2], &cut[..cut.len() / 2]).unwrap();
    std::fs::write(&objects[n - 3], b"plain bytes, not age").unwrap();
    std::fs::remove_file(&objects[n - 4]).unwrap();

    lib.ok(&["enqueue", "verify", "--provider", "drive"]);
    let run = lib.exec(&["run", "--until-idle", "--retry-base-ms", "50"]);
    assert_eq!(
        crate::common::run_summary(&run)["failed"],
        4,
        "{}",
        stdout(&run)
    );
    let failed: Vec<String> = (lib.ops_json().iter())
        .filter(|op| op["operation_type"] == "verify" && op["status"] != "completed")
        .map(|op| op["error_message"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(failed.len(), 4, "{failed:#?}");
    let corrupt = failed.iter().filter(|e| e.contains("is corrupt (")).count();
    assert_eq!(corrupt, 3, "{failed:#?}");
    assert!(
        failed.iter().any(|e| e.ends_with("is missing")),
        "{failed:#?}"
    );
    assert!(
        failed.iter().any(|e| e.contains("not an age file")),
        "{failed:#?}"
    );
    let verified = (lib.ops_json().iter())
        .filter(|op| op["operation_type"] == "verify" && op["status"] == "completed")
        .count();
    assert_eq!(verified, hashes.len() - 4);
}

#[test]
fn a_new_computer_restores_an_encrypted_s3_provider_from_the_passphrase_alone() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (_server, key_id, secret) = start_s3(dir.path(), port, false, &new_secret("s3"));
    let pass = Pass::new();
    let add = |lib: &TempLib| add_s3_with(lib, "bucket", port, &key_id, &secret, &pass.args());
    let add: AddProvider = &add;
    rebuild_from("bucket", add);
}

#[test]
fn a_new_computer_restores_an_encrypted_sftp_provider_from_the_passphrase_alone() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    forget_host(port);
    let (_ssh, key) = start_sftp(dir.path(), port);
    let pass = Pass::new();
    // Both computers see the same server folder.
    let root = dir.path().join("box-root");
    let add = |lib: &TempLib| {
        let mut extra = vec!["--root", root.to_str().unwrap()];
        extra.extend(pass.args());
        add_sftp_with(lib, "box", port, &key, true, &extra)
    };
    rebuild_from("box", &add);
    forget_host(port);
}

#[test]
fn a_wrong_passphrase_another_librarys_key_and_a_short_passphrase_are_refused() {
    let drive = tempfile::tempdir().unwrap();
    let root = drive.path().join("usb");
    let add = |lib: &TempLib, name: &str, root: &Path, pass: &Pass| {
        let mut args = vec![
            "provider",
            "add",
            "local",
            name,
            "--root",
            root.to_str().unwrap(),
        ];
        args.extend(pass.args());
        lib.exec(&args)
    };
    let pass = Pass::new();
    let first = TempLib::new();
    assert_success(&add(&first, "usb", &root, &pass), "the first library");
    let on_drive = || {
        let mut files: Vec<_> = files_under(&root);
        files.sort();
        files
            .iter()
            .map(|f| (f.clone(), std::fs::read(f).unwrap()))
            .collect::<Vec<_>>()
    };
    let before = on_drive();

    let wrong = Pass::new();
    let other = TempLib::new();
    let o = add(&other, "usb", &root, &wrong);
    assert_failure(&o, "a wrong passphrase");
    assert!(
        stderr(&o).contains("the passphrase does not open the library key"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("nothing was written"));
    assert!(
        !other
            .ok(&["provider", "list"])
            .stdout
            .windows(3)
            .any(|w| w == b"usb")
    );
    assert!(
        !other.path("library-secrets.json").exists()
            || !std::fs::read_to_string(other.path("library-secrets.json"))
                .unwrap()
                .contains("library-key")
    );
    assert_passphrase_nowhere(&wrong, &other, &[&o]);

    // A library with a key of its own (another drive) is not given this one.
    let own = drive.path().join("own");
    assert_success(&add(&other, "own", &own, &wrong), "a key of its own");
    let o = add(&other, "usb", &root, &pass);
    assert_failure(&o, "another library's key");
    assert!(
        stderr(&o).contains("holds another library's key"),
        "{}",
        stderr(&o)
    );
    assert_eq!(on_drive(), before, "nothing was written to the drive");

    // Too short: refused before anything is looked at.
    let short = tempfile::tempdir().unwrap();
    let file = short.path().join("p");
    std::fs::write(&file, "nine char").unwrap();
    let o = TempLib::new().exec(&[
        "provider",
        "add",
        "local",
        "x",
        "--root",
        drive.path().join("x").to_str().unwrap(),
        "--encrypt",
        "--passphrase-file",
        file.to_str().unwrap(),
    ]);
    assert_failure(&o, "a short passphrase");
    assert!(
        stderr(&o).contains("the passphrase has 9 characters; it needs at least 10"),
        "{}",
        stderr(&o)
    );
    assert!(!drive.path().join("x").join("keys").exists());
}

#[test]
fn a_changed_passphrase_opens_the_key_and_the_old_one_no_longer_does() {
    let drive = tempfile::tempdir().unwrap();
    let root = drive.path().join("usb");
    let add = |lib: &TempLib, pass: &Pass| {
        let mut args = vec![
            "provider",
            "add",
            "local",
            "usb",
            "--root",
            root.to_str().unwrap(),
        ];
        args.extend(pass.args());
        lib.exec(&args)
    };
    let (old, new) = (Pass::new(), Pass::new());
    let lib = TempLib::new();
    assert_success(&add(&lib, &old), "provider add --encrypt");
    let (tree, _) = marked_tree(&lib);
    lib.ok(&["add", tree.to_str().unwrap(), "--provider", "usb"]);
    lib.ok(&["run", "--until-idle", "--retry-base-ms", "50"]);
    let objects = |root: &Path| {
        let mut files: Vec<_> = files_under(&root.join("objects"));
        files.sort();
        files
            .iter()
            .map(|f| std::fs::read(f).unwrap())
            .collect::<Vec<_>>()
    };
    let before = objects(&root);
    let changed = lib.ok(&[
        "identity",
        "passphrase",
        "--passphrase-file",
        new.file.to_str().unwrap(),
    ]);
    assert!(stdout(&changed).contains("provider 'usb': the key is locked with the new passphrase"));
    assert!(objects(&root) == before, "the copies are not rewritten");

    let o = add(&TempLib::new(), &old);
    assert_failure(&o, "the old passphrase");
    assert!(
        stderr(&o).contains("the passphrase does not open"),
        "{}",
        stderr(&o)
    );
    let other = TempLib::new();
    let o = add(&other, &new);
    assert_success(&o, "the new passphrase");
    assert!(
        stdout(&o).contains("took the library key"),
        "{}",
        stdout(&o)
    );
    assert_passphrase_nowhere(&new, &lib, &[&changed]);
}
