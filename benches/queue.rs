//! The queue on its own, through the library API: no files, no transfers.
//!
//! (a) enqueue 100,000 uploads in one call into a fresh library;
//! (b) claim and complete no-op work in batches the way the engine does: each
//!     `exchange` reports the previous batch as finished and claims the next.
//!
//! `cargo bench --bench queue [-- --ops N] [-- --strict]`; the library goes on
//! /dev/shm (tmpfs) when there is one. `--strict` exits 1 when a target is missed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use breakdex::store::{NewOp, OpEvent, OpType, Store};

/// Enqueueing 100,000 ops in one call must take less than this.
const ENQUEUE_TARGET: Duration = Duration::from_secs(1);
/// Claim + complete must sustain at least this many ops per second.
const CYCLE_TARGET: f64 = 20_000.0;
/// Batch sizes tried for claim + complete (the engine claims up to its free
/// slots per turn).
const BATCHES: [usize; 3] = [64, 128, 256];

/// A fresh library (with its default provider) in a new folder under `base`.
fn fresh(base: &Path, name: &str) -> anyhow::Result<(Store, String)> {
    let db = base.join(name).join("library.db");
    let store = breakdex::setup::open_library(&db)?;
    let provider = store
        .providers()?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("a new library has its default provider"))?
        .id;
    Ok((store, provider))
}

/// `n` distinct uploads, as an import of `n` files would queue them.
fn uploads(n: usize, provider: &str) -> Vec<NewOp> {
    (0..n)
        .map(|i| NewOp {
            content_hash: blake3::hash(&(i as u64).to_le_bytes()).to_hex().to_string(),
            provider_id: provider.to_string(),
            operation_type: OpType::Upload,
            priority: 0,
            total_bytes: 4096,
        })
        .collect()
}

/// Drains the whole queue `batch` ops at a time; returns (ops done, wall
/// time, CPU time).
fn cycle(
    store: &mut Store,
    provider: &str,
    batch: usize,
) -> anyhow::Result<(usize, Duration, Duration)> {
    let owner = "queue-bench";
    let lease = Duration::from_secs(60);
    let wants = [(provider.to_string(), batch)];
    let mut finished: Vec<OpEvent> = Vec::new();
    let mut done = 0;
    let (started, cpu) = (Instant::now(), cpu_time());
    loop {
        let (applied, claimed) = store.exchange(owner, &finished, lease, &wants)?;
        anyhow::ensure!(
            applied.len() == finished.len(),
            "{} of {} completions took effect",
            applied.len(),
            finished.len()
        );
        done += applied.len();
        if claimed.is_empty() {
            break;
        }
        finished = claimed
            .into_iter()
            .map(|op| OpEvent::Finished {
                id: op.id,
                bytes: op.total_bytes,
                change: None,
                failure: None,
                started: None,
                ended: std::time::SystemTime::now(),
            })
            .collect();
    }
    Ok((done, started.elapsed(), cpu_time() - cpu))
}

/// CPU time (user + system) this process used so far: unlike wall time,
/// barely moved by other work on a busy machine.
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes into the struct we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISSED" }
}

fn bench_dir() -> PathBuf {
    let shm = Path::new("/dev/shm");
    let parent = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    parent.join(format!("breakdex-queue-bench-{}", std::process::id()))
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let strict = args.iter().any(|a| a == "--strict");
    let n: usize = args
        .iter()
        .position(|a| a == "--ops")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let base = bench_dir();
    std::fs::create_dir_all(&base)?;
    let result = run(&base, n);
    let _ = std::fs::remove_dir_all(&base);
    let all_ok = result?;
    if strict && !all_ok {
        std::process::exit(1);
    }
    Ok(())
}

fn run(base: &Path, n: usize) -> anyhow::Result<bool> {
    println!("queue benchmark: {n} ops, library under {}", base.display());
    let mut all_ok = true;

    // (a) One enqueue call into a fresh library.
    let (mut store, provider) = fresh(base, "enqueue")?;
    let ops = uploads(n, &provider);
    let (started, cpu) = (Instant::now(), cpu_time());
    let created = store.enqueue(&ops)?;
    let (took, cpu) = (started.elapsed(), cpu_time() - cpu);
    anyhow::ensure!(created.len() == n, "{} of {n} ops created", created.len());
    let ok = n < 100_000 || took < ENQUEUE_TARGET;
    all_ok &= ok;
    println!(
        "enqueue {n} ops in one call: {:.3} s (cpu {:.3} s, {:.0} ops/s); target < {:.1} s for 100k: {}",
        took.as_secs_f64(),
        cpu.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        ENQUEUE_TARGET.as_secs_f64(),
        verdict(ok)
    );
    drop(store);

    // (b) Claim + complete, each batch on its own fresh, full queue.
    for batch in BATCHES {
        let (mut store, provider) = fresh(base, &format!("cycle-{batch}"))?;
        store.enqueue(&uploads(n, &provider))?;
        let (done, took, cpu) = cycle(&mut store, &provider, batch)?;
        anyhow::ensure!(done == n, "{done} of {n} ops completed");
        let rate = done as f64 / took.as_secs_f64();
        let ok = rate >= CYCLE_TARGET;
        all_ok &= ok;
        println!(
            "claim+complete in batches of {batch}: {done} ops in {:.3} s (cpu {:.3} s, {rate:.0} ops/s); target >= {CYCLE_TARGET:.0} ops/s: {}",
            took.as_secs_f64(),
            cpu.as_secs_f64(),
            verdict(ok)
        );
        let counts = store.counts(None)?;
        anyhow::ensure!(
            counts.completed == n as i64,
            "{} of {n} ops recorded as completed",
            counts.completed
        );
    }
    println!(
        "queue benchmark: {}",
        if all_ok {
            "all targets met"
        } else {
            "some targets MISSED"
        }
    );
    Ok(all_ok)
}
