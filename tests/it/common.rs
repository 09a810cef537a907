//! Shared helpers: a temporary library, running the real binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary folder holding a library database and whatever a test puts in it.
pub struct TempLib {
    pub dir: tempfile::TempDir,
    /// Environment given to every command run on this library, after the
    /// defaults (which keep secrets in the file: see [`TempLib::cmd`]).
    pub env: Vec<(String, String)>,
}

impl TempLib {
    pub fn new() -> TempLib {
        TempLib {
            dir: tempfile::tempdir().expect("temp dir"),
            env: Vec::new(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn db(&self) -> PathBuf {
        self.path("library.db")
    }

    /// A `breakdex --db <this library>` command. Secrets go to the secrets
    /// file unless the library's `env` says otherwise, whatever keychain the
    /// machine running the tests has.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_breakdex"));
        c.arg("--db").arg(self.db());
        c.env_remove("BREAKDEX_DB").env_remove("RUST_LOG");
        c.env("BREAKDEX_SECRET_STORE", "file");
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    /// Runs `breakdex --db <db> args...` and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run breakdex")
    }

    /// Writes a file with `len` pseudo-random bytes seeded by `seed`.
    pub fn write_file(&self, rel: &str, len: usize, seed: u64) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, pseudo_random(len, seed)).unwrap();
        path
    }
}

/// Deterministic bytes that do not compress.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts that no output of a command looks like a Rust panic.
pub fn assert_no_panic(o: &Output) {
    let all = format!("{}{}", stdout(o), stderr(o));
    assert!(
        !all.contains("panicked") && !all.contains("RUST_BACKTRACE"),
        "panic text reached the user: {all}"
    );
}

/// BLAKE3 of a file, hex.
pub fn hash_of(path: &Path) -> String {
    blake3::hash(&std::fs::read(path).unwrap())
        .to_hex()
        .to_string()
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

// ---------------------------------------------------------------------------
// Helpers for the command-line and crash tests.

/// How long any single command may take before a test calls it hung.
pub const COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Runs a command to its end, killing it (and failing the test) if it takes
/// longer than `COMMAND_TIMEOUT`: a command that blocks (on a fifo, a lock)
/// must fail the test, not hang it.
pub fn output_of(cmd: &mut Command) -> Output {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start breakdex");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = std::time::Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for breakdex") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {COMMAND_TIMEOUT:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    Output {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

/// Panics with the command's output unless it succeeded without panic text.
pub fn assert_success(o: &Output, what: &str) {
    assert_no_panic(o);
    assert!(
        o.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        o.status,
        stdout(o),
        stderr(o)
    );
}

/// Panics unless the command failed with a non-zero exit (not a signal, not a
/// panic) and said something on stderr.
pub fn assert_failure(o: &Output, what: &str) {
    assert_no_panic(o);
    assert!(
        o.status.code().is_some_and(|c| c != 0),
        "{what} should have failed with a non-zero exit, got {}:\nstdout: {}\nstderr: {}",
        o.status,
        stdout(o),
        stderr(o)
    );
    assert!(
        stderr(o).starts_with("breakdex: "),
        "{what}: stderr should explain the failure: {}",
        stderr(o)
    );
}

/// The stderr line that mentions `needle`, or a panic listing all of them.
pub fn stderr_line_with<'a>(o: &'a Output, needle: &str) -> &'a str {
    let text = std::str::from_utf8(&o.stderr).expect("utf-8 stderr");
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no stderr line mentions {needle:?}:\n{text}"))
}

/// Whether this test process runs as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The uid and gid of `nobody`.
pub const NOBODY: u32 = 65534;

/// Whether `nobody` can reach `path`: every folder above it must let others in.
pub fn others_can_reach(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.ancestors()
        .skip(1)
        .filter(|a| !a.as_os_str().is_empty())
        .all(|a| std::fs::metadata(a).is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
}

impl TempLib {
    /// A library in a folder every user may enter and write (mode 0777),
    /// for tests that run the binary as `nobody`.
    pub fn shared() -> TempLib {
        use std::os::unix::fs::PermissionsExt;
        let base = std::env::temp_dir();
        let base = if others_can_reach(&base.join("x")) {
            base
        } else {
            PathBuf::from("/tmp")
        };
        let dir = tempfile::tempdir_in(base).expect("temp dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        TempLib {
            dir,
            env: Vec::new(),
        }
    }

    /// A `breakdex --db <db>` command that runs as `nobody` when the tests
    /// run as root (root reads files whatever their mode), so that a file of
    /// mode 000 really cannot be read. The library must come from
    /// [`TempLib::shared`]. The binary is copied beside the library when
    /// `nobody` cannot reach it where cargo built it.
    pub fn cmd_unprivileged(&self) -> Command {
        use std::os::unix::process::CommandExt;
        if !is_root() {
            return self.cmd();
        }
        let built = Path::new(env!("CARGO_BIN_EXE_breakdex"));
        let exe = if others_can_reach(built) {
            built.to_path_buf()
        } else {
            let copy = self.path("breakdex-bin");
            if !copy.exists() {
                std::fs::copy(built, &copy).expect("copy the binary");
            }
            copy
        };
        let mut c = Command::new(exe);
        c.arg("--db").arg(self.db());
        c.env_remove("BREAKDEX_DB").env_remove("RUST_LOG");
        c.uid(NOBODY).gid(NOBODY);
        c
    }

    /// Runs `breakdex --db <db> args...` with a time limit.
    pub fn exec(&self, args: &[&str]) -> Output {
        output_of(self.cmd().args(args))
    }

    /// Runs `breakdex --db <db> args...` and asserts it succeeded.
    pub fn ok(&self, args: &[&str]) -> Output {
        let o = self.exec(args);
        assert_success(&o, &format!("breakdex {}", args.join(" ")));
        o
    }

    /// The folder of the provider a new library starts with.
    pub fn backup_root(&self) -> PathBuf {
        self.path("library-backup")
    }

    /// Where downloads of this library go.
    pub fn files_dir(&self) -> PathBuf {
        self.path("library-files")
    }

    /// `ops --json`, parsed.
    pub fn ops_json(&self) -> Vec<serde_json::Value> {
        let o = self.ok(&["ops", "--json"]);
        serde_json::from_slice(&o.stdout).expect("ops --json is a JSON array")
    }

    /// Where the library's one upload writes its temporary file on the
    /// default provider (named after its op; the catalog's writes have
    /// temporary files there too).
    pub fn upload_part(&self) -> PathBuf {
        self.upload_part_in(&self.backup_root())
    }

    /// [`TempLib::upload_part`] on the provider whose files are in `root`.
    pub fn upload_part_in(&self, root: &Path) -> PathBuf {
        let ops = self.ops_json();
        let upload = ops.iter().find(|o| o["operation_type"] == "upload");
        let id = upload.and_then(|o| o["id"].as_str()).expect("an upload");
        root.join(format!(".breakdex-tmp/{id}.part"))
    }

    /// Runs `run --until-idle` where work is left waiting: it exits 3 and
    /// says why (`why`) on stderr.
    pub fn run_that_waits(&self, why: &str) -> Output {
        let o = self.exec(&["run", "--until-idle"]);
        assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
        assert!(stderr(&o).contains(why), "{}", stderr(&o));
        o
    }

    /// `status --json`, parsed.
    pub fn status_json(&self) -> serde_json::Value {
        let o = self.ok(&["status", "--json"]);
        serde_json::from_slice(&o.stdout).expect("status --json is JSON")
    }

    /// A read-only connection to the library, for looking without touching.
    pub fn read_db(&self) -> rusqlite::Connection {
        let c = rusqlite::Connection::open_with_flags(
            self.db(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .expect("open the library read-only");
        c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
        c
    }

    /// How many ops have each status, read-only: (queued, in_progress, completed, failed).
    pub fn status_counts(&self) -> (i64, i64, i64, i64) {
        self.read_db()
            .query_row(
                "SELECT COALESCE(SUM(status = 'queued'), 0), COALESCE(SUM(status = 'in_progress'), 0),
                        COALESCE(SUM(status = 'completed'), 0), COALESCE(SUM(status = 'failed'), 0)
                 FROM sync_operations",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .expect("count ops")
    }
}

/// The JSON summary `run` prints on its last stdout line.
pub fn run_summary(o: &Output) -> serde_json::Value {
    let text = stdout(o);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("run should print a JSON summary ({e}): {text}"))
}

/// The size of a file, if it is there.
pub fn size_of(path: &Path) -> Option<u64> {
    Some(std::fs::metadata(path).ok()?.len())
}

/// Where an object with this hash lives under a provider's root.
pub fn object_path(root: &Path, hash: &str) -> PathBuf {
    root.join("objects")
        .join(&hash[..2])
        .join(&hash[2..4])
        .join(hash)
}

/// The files under a provider's folder but for its catalog (`catalog/`,
/// which every run that stores something writes): the objects, and what
/// must not be there.
pub fn provider_files(root: &Path) -> Vec<PathBuf> {
    let catalog = root.join("catalog");
    files_under(root)
        .into_iter()
        .filter(|p| !p.starts_with(&catalog))
        .collect()
}

/// S3 keys but for the catalog's.
pub fn without_catalog_keys(keys: &serde_json::Value) -> serde_json::Value {
    keys.as_array()
        .unwrap()
        .iter()
        .filter(|k| !k.as_str().unwrap().contains("catalog/"))
        .cloned()
        .collect()
}
