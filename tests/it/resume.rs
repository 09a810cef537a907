//! Uploads that resume (issue 14, part 2), to a local folder, to SFTP
//! (sshd) and to S3 (moto, through a relay that counts the bytes sent to it): a 1 GiB upload
//! killed with SIGKILL at 60% goes on from where it was on the next run,
//! and one whose source changed since is aborted on the server. Runs are
//! held to 256 MiB/s (`run --bwlimit`), so that the kill lands near 60% on
//! any machine and a start from zero could not hide between two looks.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::{TempLib, assert_success, hash_of, object_path, pseudo_random, size_of};
use crate::remote::{
    Relay, add_s3_with, add_sftp_with, forget_host, free_port, new_secret, s3_read_back, start_s3,
    start_sftp,
};

const SIZE: u64 = 1 << 30;

/// A 1 GiB file of 8 MiB pieces of the same random bytes, each begun with
/// its number so that no two are alike.
fn one_gib(path: &Path) {
    pieces(path, SIZE);
}

/// A file of `size` bytes (whole 8 MiB) made as [`one_gib`]'s.
fn pieces(path: &Path, size: u64) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut piece = pseudo_random(8 << 20, 5);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..(size >> 23) {
        piece[..8].copy_from_slice(&i.to_le_bytes());
        out.write_all(&piece).unwrap();
    }
    out.flush().unwrap();
}

fn run(lib: &TempLib) -> Child {
    run_at(lib, "256M")
}

fn run_at(lib: &TempLib, rate: &str) -> Child {
    lib.cmd()
        .args(["run", "--until-idle", "--bwlimit", rate])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run")
}

/// Runs an upload to `part`'s provider at `rate` and kills it (SIGKILL)
/// once `part` holds 60% of `size`; returns the bytes it kept.
fn kill_at_sixty_percent(lib: &TempLib, part: &Path, size: u64, rate: &str) -> u64 {
    let mut first = run_at(lib, rate);
    let deadline = Instant::now() + Duration::from_secs(120);
    while size_of(part).unwrap_or(0) < size * 6 / 10 {
        assert!(first.try_wait().unwrap().is_none(), "ended before 60%");
        assert!(Instant::now() < deadline, "not at 60% in 2 minutes");
        std::thread::sleep(Duration::from_millis(2));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let kept = size_of(part).expect("the killed upload's temporary file");
    assert!(kept < size, "{kept}");
    kept
}

/// Runs the upload again at `rate` to its end and returns the least size
/// `part` had meanwhile, looked at every millisecond (from zero, it would
/// pass through every size below what was kept, seconds of them).
fn least_size_of_the_next_run(lib: &TempLib, part: &Path, kept: u64, rate: &str) -> u64 {
    let mut second = run_at(lib, rate);
    let mut least = kept;
    let deadline = Instant::now() + Duration::from_secs(300);
    while second.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            second.kill().unwrap();
            panic!("the resumed upload did not end in 5 minutes");
        }
        if let Some(size) = size_of(part) {
            least = least.min(size);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(second.wait().unwrap().success());
    least
}

#[test]
fn a_local_upload_killed_at_sixty_percent_resends_at_most_a_tenth_of_it() {
    let lib = TempLib::new();
    let f = lib.path("video/take-1.mov");
    one_gib(&f);
    lib.ok(&["add", f.to_str().unwrap()]);
    let part = lib.upload_part();

    let kept = kill_at_sixty_percent(&lib, &part, SIZE, "256M");

    // The next run keeps what was written: the temporary file never falls
    // below what was kept less a tenth of the file.
    let least = least_size_of_the_next_run(&lib, &part, kept, "256M");
    let copy = object_path(&lib.backup_root(), &hash_of(&f));
    eprintln!(
        "local resume: killed at {} MiB, the next run went back to {} MiB",
        kept >> 20,
        least >> 20
    );
    assert!(
        least + SIZE / 10 >= kept,
        "resent from {least} of the {kept} bytes kept"
    );
    assert_eq!(hash_of(&copy), hash_of(&f), "byte-identical");
    assert_eq!(size_of(&part), None, "no temporary file left");
}

/// A library whose only provider for `file` is S3 on moto, through a relay.
struct OnS3 {
    _moto: crate::remote::Server,
    moto_port: u16,
    relay: Relay,
}

fn on_s3(lib: &TempLib, file: &Path, tag: &str) -> OnS3 {
    on_s3_with(lib, file, tag, &[])
}

/// [`on_s3`], the provider added with `extra` arguments (`--encrypt`, ...).
fn on_s3_with(lib: &TempLib, file: &Path, tag: &str, extra: &[&str]) -> OnS3 {
    let moto_port = free_port();
    let (moto, key_id, secret) = start_s3(lib.dir.path(), moto_port, false, &new_secret(tag));
    let relay = Relay::new(moto_port);
    assert_success(
        &add_s3_with(lib, "s3r", relay.port, &key_id, &secret, extra),
        "add",
    );
    lib.ok(&["add", file.to_str().unwrap(), "--provider", "s3r"]);
    OnS3 {
        _moto: moto,
        moto_port,
        relay,
    }
}

/// Runs the library's engine until the relay has carried `bytes`, then
/// kills it with SIGKILL.
fn kill_after(lib: &TempLib, relay: &Relay, rate: &str, bytes: u64) {
    let mut run = run_at(lib, rate);
    let deadline = Instant::now() + Duration::from_secs(120);
    while relay.sent() < bytes {
        assert!(
            run.try_wait().unwrap().is_none(),
            "ended before {bytes} bytes"
        );
        assert!(
            Instant::now() < deadline,
            "not at {bytes} bytes in 2 minutes"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    run.kill().unwrap();
    run.wait().unwrap();
}

/// The parts the library keeps of its S3 uploads.
fn kept_parts(lib: &TempLib) -> i64 {
    lib.read_db()
        .query_row("SELECT COUNT(*) FROM kept_upload_parts", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn an_s3_upload_killed_at_sixty_percent_resends_at_most_a_tenth_of_it() {
    let lib = TempLib::new();
    let f = lib.path("video/take-2.mov");
    one_gib(&f);
    let s3 = on_s3(&lib, &f, "s3resume");
    kill_after(&lib, &s3.relay, "256M", SIZE * 6 / 10);
    assert!(kept_parts(&lib) > 0, "the parts sent are kept");

    let before = s3.relay.sent();
    assert!(run(&lib).wait().unwrap().success());
    // Both runs together carried the file once, and what was sent again.
    let again = (s3.relay.sent()).saturating_sub(SIZE);
    eprintln!(
        "s3 resume: killed at {} MiB, the next run sent {} MiB, {} MiB again",
        before >> 20,
        (s3.relay.sent() - before) >> 20,
        again >> 20
    );
    assert!(
        again <= SIZE / 10,
        "{} MiB sent again ({} MiB by the killed run, {} MiB by the next)",
        again >> 20,
        before >> 20,
        (s3.relay.sent() - before) >> 20
    );
    assert_eq!(kept_parts(&lib), 0, "nothing kept once it completed");

    // The object, read straight from moto, is the file; no upload is left.
    let (out, listed) = s3_read_back(&lib, s3.moto_port);
    let keys = listed["keys"].as_array().unwrap();
    let hash = hash_of(&f);
    let at = (keys.iter())
        .position(|k| k.as_str().unwrap().ends_with(&hash))
        .expect("the object");
    assert_eq!(hash_of(&out.join(at.to_string())), hash, "byte-identical");
    assert_eq!(listed["uploads"], serde_json::json!([]));
}

#[test]
fn an_encrypted_s3_upload_killed_part_way_resends_only_what_was_in_flight_and_age_opens_it() {
    let size: u64 = 256 << 20;
    let lib = TempLib::new();
    let f = lib.path("video/take-5.mov");
    pieces(&f, size);
    let pass = lib.path("passphrase.txt");
    std::fs::write(&pass, "a passphrase for the resume test\n").unwrap();
    let crypt = ["--encrypt", "--passphrase-file", pass.to_str().unwrap()];
    let s3 = on_s3_with(&lib, &f, "s3sealed", &crypt);
    kill_after(&lib, &s3.relay, "64M", size * 6 / 10);
    assert!(kept_parts(&lib) > 0, "the parts sent are kept");

    let before = s3.relay.sent();
    assert!(run_at(&lib, "64M").wait().unwrap().success());
    let again = (s3.relay.sent()).saturating_sub(size);
    eprintln!(
        "encrypted s3 resume: killed at {} MiB, the next run sent {} MiB, {} MiB again",
        before >> 20,
        (s3.relay.sent() - before) >> 20,
        again >> 20
    );
    // What was in flight at the kill goes again (four parts of 8 MiB), and
    // at most one more; from the start it would be all the killed run sent.
    assert!(
        again <= 5 * (8 << 20),
        "{} MiB sent again ({} MiB by the killed run)",
        again >> 20,
        before >> 20
    );
    assert_eq!(kept_parts(&lib), 0, "nothing kept once it completed");

    // The object, read straight from moto, opens with age to the file.
    let (out, listed) = s3_read_back(&lib, s3.moto_port);
    let keys = listed["keys"].as_array().unwrap();
    let at = (keys.iter())
        .position(|k| k.as_str().unwrap().starts_with("objects/"))
        .expect("the object");
    let identity = lib.path("key.txt");
    lib.ok(&["identity", "export", identity.to_str().unwrap()]);
    let opened = crate::encrypt::age_decrypt(&identity, &out.join(at.to_string()));
    assert!(
        blake3::hash(&opened).to_hex().to_string() == hash_of(&f),
        "age -d gives the file back, byte for byte"
    );
    assert_eq!(listed["uploads"], serde_json::json!([]));
}

#[test]
fn an_s3_upload_whose_source_changed_since_it_was_cut_off_is_aborted_there() {
    let lib = TempLib::new();
    let f = lib.path("video/take-3.mov");
    let size = 200 << 20;
    pieces(&f, size);
    let s3 = on_s3(&lib, &f, "s3changed");
    kill_after(&lib, &s3.relay, "64M", size / 2);
    assert!(kept_parts(&lib) > 0, "the parts sent are kept");

    // One byte of the first part, which the server already has, changes.
    let mut file = std::fs::OpenOptions::new().write(true).open(&f).unwrap();
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(100)).unwrap();
    file.write_all(b"!").unwrap();
    drop(file);

    let before = s3.relay.sent();
    let o = lib.exec(&["run", "--until-idle"]);
    let error: String = lib
        .read_db()
        .query_row(
            "SELECT error_message FROM sync_operations WHERE operation_type = 'upload'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(error.starts_with("source changed"), "{error}; {o:?}");
    assert!(
        s3.relay.sent() - before < 16 << 20,
        "no part sent once the change was found"
    );
    assert_eq!(kept_parts(&lib), 0);
    let (_, listed) = s3_read_back(&lib, s3.moto_port);
    assert_eq!(
        listed["uploads"],
        serde_json::json!([]),
        "aborted on the server"
    );
    let keys = listed["keys"].as_array().unwrap();
    assert!(
        !keys
            .iter()
            .any(|k| k.as_str().unwrap().starts_with("objects/"))
    );
}

/// SFTP: the temporary file a killed upload left is read back, kept as far
/// as it matches, and written on: it never shrinks by more than a tenth of
/// the file (from zero, it would be cut to nothing).
#[test]
fn an_sftp_upload_killed_part_way_goes_on_from_where_it_was() {
    sftp_upload_killed_part_way(false);
}

#[test]
fn an_encrypted_sftp_upload_killed_part_way_goes_on_and_age_opens_it() {
    sftp_upload_killed_part_way(true);
}

/// A 256 MiB upload to SFTP (sshd), `encrypted` or not, SIGKILLed at 60%:
/// the next run goes on from what was kept (for an encrypted one, whole
/// age chunks of it), and the copy is the file (opened by `age -d`).
fn sftp_upload_killed_part_way(encrypted: bool) {
    let lib = TempLib::new();
    let f = lib.path("video/take-4.mov");
    let size = 256 << 20;
    pieces(&f, size);
    let port = free_port();
    forget_host(port);
    let ssh_dir = lib.path("ssh");
    std::fs::create_dir_all(&ssh_dir).unwrap();
    let (_ssh, key) = start_sftp(&ssh_dir, port);
    let pass = lib.path("passphrase.txt");
    std::fs::write(&pass, "a passphrase for the resume test\n").unwrap();
    let crypt = ["--encrypt", "--passphrase-file", pass.to_str().unwrap()];
    let extra: &[&str] = if encrypted { &crypt } else { &[] };
    assert_success(
        &add_sftp_with(&lib, "sftp", port, &key, true, extra),
        "provider add sftp",
    );
    lib.ok(&["add", f.to_str().unwrap(), "--provider", "sftp"]);
    let root = lib.path("sftp-root-sftp");
    let part = lib.upload_part_in(&root);

    let kept = kill_at_sixty_percent(&lib, &part, size, "64M");
    let least = least_size_of_the_next_run(&lib, &part, kept, "64M");
    eprintln!(
        "sftp resume (encrypted: {encrypted}): killed at {} MiB, the next run went back to {} MiB",
        kept >> 20,
        least >> 20
    );
    assert!(
        least + size / 10 >= kept,
        "resent from {least} of the {kept} bytes kept"
    );
    assert_eq!(size_of(&part), None, "no temporary file left");
    if encrypted {
        let objects = crate::common::files_under(&root.join("objects"));
        assert_eq!(objects.len(), 1);
        let identity = lib.path("key.txt");
        lib.ok(&["identity", "export", identity.to_str().unwrap()]);
        let opened = crate::encrypt::age_decrypt(&identity, &objects[0]);
        assert!(
            blake3::hash(&opened).to_hex().to_string() == hash_of(&f),
            "age -d gives the file back, byte for byte"
        );
    } else {
        let copy = object_path(&root, &hash_of(&f));
        assert_eq!(hash_of(&copy), hash_of(&f), "byte-identical");
    }
    forget_host(port);
}

#[test]
fn an_encrypted_local_upload_killed_part_way_goes_on_and_age_opens_it() {
    const SIZE: u64 = 256 << 20;
    let lib = TempLib::new();
    let pass = lib.path("passphrase.txt");
    std::fs::write(&pass, "a passphrase for the resume test\n").unwrap();
    let root = lib.path("vault");
    lib.ok(&[
        "provider",
        "add",
        "local",
        "vault",
        "--root",
        root.to_str().unwrap(),
        "--encrypt",
        "--passphrase-file",
        pass.to_str().unwrap(),
    ]);
    let f = lib.path("video/take-2.mov");
    pieces(&f, SIZE);
    lib.ok(&["add", f.to_str().unwrap(), "--provider", "vault"]);
    let part = lib.upload_part_in(&root);

    let kept = kill_at_sixty_percent(&lib, &part, SIZE, "64M");
    let least = least_size_of_the_next_run(&lib, &part, kept, "64M");
    eprintln!(
        "encrypted local resume: killed at {} MiB, the next run went back to {} MiB",
        kept >> 20,
        least >> 20
    );
    // What is kept is whole age chunks of 64 KiB: at most one is written again.
    assert!(
        least + (128 << 10) >= kept,
        "resent from {least} of the {kept} bytes kept"
    );
    assert_eq!(size_of(&part), None, "no temporary file left");
    let objects = crate::common::files_under(&root.join("objects"));
    assert_eq!(objects.len(), 1);
    let key = lib.path("key.txt");
    lib.ok(&["identity", "export", key.to_str().unwrap()]);
    let opened = crate::encrypt::age_decrypt(&key, &objects[0]);
    assert!(
        blake3::hash(&opened).to_hex().to_string() == hash_of(&f),
        "age -d gives the file back, byte for byte"
    );
}
