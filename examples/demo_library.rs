//! Makes a demo library for screenshots and the window benchmark.
//!
//! `cargo run --release --example demo_library -- DB N [OWNER]`
//!
//! In-progress ops are leased to OWNER (default `demo`); hold the lock file
//! `<DB>.engines/OWNER.lock` (e.g. with `flock`) to keep them in progress
//! while a window looks at them.

use std::path::PathBuf;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let usage = "usage: demo_library DB N [OWNER]";
    let mut args = std::env::args().skip(1);
    let db = PathBuf::from(args.next().ok_or(anyhow::anyhow!(usage))?);
    let n: usize = args.next().ok_or(anyhow::anyhow!(usage))?.parse()?;
    let owner = args.next().unwrap_or_else(|| "demo".into());
    let started = Instant::now();
    breakdex::demo::make_demo_library(&db, n, &owner)?;
    println!(
        "{n} ops in {} in {:.2} s",
        db.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
