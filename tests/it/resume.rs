//! Uploads that resume (issue 14, part 2), to a local folder: a 1 GiB
//! upload killed with SIGKILL at 60% goes on from where it was on the next
//! run. Both runs are held to 256 MiB/s (`run --bwlimit`), so that the kill
//! lands near 60% on any machine and a start from zero could not hide
//! between two looks at the temporary file.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::{TempLib, hash_of, object_path, pseudo_random, size_of};

const SIZE: u64 = 1 << 30;

/// A 1 GiB file of 8 MiB pieces of the same random bytes, each begun with
/// its number so that no two are alike.
fn one_gib(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut piece = pseudo_random(8 << 20, 5);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..(SIZE >> 23) {
        piece[..8].copy_from_slice(&i.to_le_bytes());
        out.write_all(&piece).unwrap();
    }
    out.flush().unwrap();
}

fn run(lib: &TempLib) -> Child {
    lib.cmd()
        .args(["run", "--until-idle", "--bwlimit", "256M"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run")
}

#[test]
fn a_local_upload_killed_at_sixty_percent_resends_at_most_a_tenth_of_it() {
    let lib = TempLib::new();
    let f = lib.path("video/take-1.mov");
    one_gib(&f);
    lib.ok(&["add", f.to_str().unwrap()]);
    let part = lib.upload_part();

    let mut first = run(&lib);
    let deadline = Instant::now() + Duration::from_secs(120);
    while size_of(&part).unwrap_or(0) < SIZE * 6 / 10 {
        assert!(first.try_wait().unwrap().is_none(), "ended before 60%");
        assert!(Instant::now() < deadline, "not at 60% in 2 minutes");
        std::thread::sleep(Duration::from_millis(2));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let kept = size_of(&part).expect("the killed upload's temporary file");
    assert!(kept < SIZE, "{kept}");

    // The next run keeps what was written: the temporary file never falls
    // below what was kept less a tenth of the file (from zero, it would
    // pass through every size below at 256 MiB/s, seconds of them).
    let mut second = run(&lib);
    let mut least = kept;
    let copy = object_path(&lib.backup_root(), &hash_of(&f));
    while second.try_wait().unwrap().is_none() {
        if let Some(size) = size_of(&part) {
            least = least.min(size);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(second.wait().unwrap().success());
    assert!(
        least + SIZE / 10 >= kept,
        "resent from {least} of the {kept} bytes kept"
    );
    assert_eq!(hash_of(&copy), hash_of(&f), "byte-identical");
    assert_eq!(size_of(&part), None, "no temporary file left");
}
