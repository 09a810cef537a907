//! Shared helpers: a temporary library, running the real binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary folder holding a library database and whatever a test puts in it.
pub struct TempLib {
    pub dir: tempfile::TempDir,
}

impl TempLib {
    pub fn new() -> TempLib {
        TempLib {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn db(&self) -> PathBuf {
        self.path("library.db")
    }

    /// A `breakdex --db <this library>` command.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_breakdex"));
        c.arg("--db").arg(self.db());
        c.env_remove("BREAKDEX_DB").env_remove("RUST_LOG");
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
