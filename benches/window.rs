//! The window with a million ops: time to first frame, re-sort by each
//! column, UI-thread CPU time per frame while 8 real transfers run, and
//! resident memory. Headless (egui_kittest, no GPU): frame times are the
//! app's own work (layout, the grid), not painting.
//!
//! `cargo bench --bench window [-- N_OPS]`
//!
//! The library is made by a child process, so that the memory making it
//! takes is not counted as the window's.

use std::path::Path;
use std::time::{Duration, Instant};

use breakdex::engine::{self, EngineConfig};
use breakdex::store::{ProviderKind, SortKey, Store};
use breakdex::ui::{App, AssetSort, View};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

/// CPU time of this thread.
fn thread_cpu() -> Duration {
    cpu_time(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time of the whole process (every thread).
fn process_cpu() -> Duration {
    cpu_time(libc::CLOCK_PROCESS_CPUTIME_ID)
}

fn cpu_time(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn wait(h: &mut Harness<'static, App>, what: &str, done: impl Fn(&App) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done(h.state()) {
        assert!(Instant::now() < deadline, "timed out: {what}");
        h.step();
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Runs the window for `span` drawing a frame only when it asked for one
/// (at the time it asked), as eframe does; returns the share of a core the
/// process used, and the frames drawn.
fn idle_cost(h: &mut Harness<'static, App>, span: Duration) -> (f64, u32) {
    use std::sync::{Arc, Mutex};
    let due: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let asked = due.clone();
    h.ctx.set_request_repaint_callback(move |info| {
        let at = Instant::now() + info.delay;
        let mut due = asked.lock().unwrap();
        *due = Some(due.map_or(at, |d| d.min(at)));
    });
    // Settle first: the frames that answer the last actions are not idle.
    // (The last frame's request for the next stays due.)
    for _ in 0..20 {
        h.step();
    }
    let (cpu0, t0) = (process_cpu(), Instant::now());
    let mut frames = 0;
    while t0.elapsed() < span {
        let now = Instant::now();
        let next = *due.lock().unwrap();
        match next {
            Some(at) if at <= now => {
                *due.lock().unwrap() = None;
                h.step();
                frames += 1;
            }
            _ => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    let used = (process_cpu() - cpu0).as_secs_f64() / t0.elapsed().as_secs_f64();
    (used, frames)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISSED" }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    // `--make-library DB N`: the child that builds the library, so that the
    // memory it takes is not counted as the window's.
    if let [_, flag, db, n] = &args[..]
        && flag == "--make-library"
    {
        breakdex::demo::make_demo_library(Path::new(db), n.parse()?, "bench")?;
        return Ok(());
    }
    let n: usize = args
        .iter()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let base = Path::new("/dev/shm").join(format!("breakdex-window-bench-{}", std::process::id()));
    std::fs::create_dir_all(&base)?;
    let db = base.join("library.db");
    let made = Instant::now();
    // BREAKDEX_BENCH_LIBRARY: a library made earlier (with `--make-library`)
    // to copy instead.
    if let Some(made) = std::env::var_os("BREAKDEX_BENCH_LIBRARY") {
        std::fs::copy(made, &db)?;
    } else {
        let status = std::process::Command::new(std::env::current_exe()?)
            .arg("--make-library")
            .arg(&db)
            .arg(n.to_string())
            .status()?;
        anyhow::ensure!(status.success(), "making the library failed: {status}");
    }
    println!(
        "library: {n} ops, made in {:.1} s",
        made.elapsed().as_secs_f64()
    );

    // Time to first frame: the window is up and shows rows.
    let started = Instant::now();
    let mut h = open_window(&db, false);
    let first_frame = started.elapsed();
    wait(&mut h, "full read", |app| !app.model.snapshot.loading);
    let full_read = started.elapsed();
    println!(
        "time to first frame with rows: {:>7.1} ms   (target < 1000 ms: {})",
        first_frame.as_secs_f64() * 1e3,
        verdict(first_frame < Duration::from_secs(1))
    );
    println!(
        "whole queue read in background: {:>7.1} ms",
        full_read.as_secs_f64() * 1e3
    );

    // Re-sort by each column: from the click until the grid shows the new order.
    let columns = [
        ("Asset", SortKey::AssetName),
        ("Provider", SortKey::Provider),
        ("Operation", SortKey::OperationType),
        ("Status", SortKey::Status),
        ("Priority", SortKey::Priority),
        ("Progress", SortKey::Progress),
        ("Retries", SortKey::Retries),
        ("Size", SortKey::Size),
        ("Created", SortKey::CreatedAt),
        ("Started", SortKey::StartedAt),
        ("Completed", SortKey::CompletedAt),
        ("Hash", SortKey::ContentHash),
    ];
    let mut worst = Duration::ZERO;
    for (label, key) in columns {
        let t = Instant::now();
        h.get_by_label(label).click();
        h.step();
        wait(&mut h, label, |app| {
            let s = &app.model.snapshot;
            s.spec.sort == key && !s.rows.is_empty()
        });
        let took = t.elapsed();
        worst = worst.max(took);
        println!(
            "re-sort by {label:<10} {:>7.1} ms",
            took.as_secs_f64() * 1e3
        );
    }
    println!(
        "slowest re-sort:               {:>7.1} ms   (target < 150 ms: {})",
        worst.as_secs_f64() * 1e3,
        verdict(worst < Duration::from_millis(150))
    );

    // The Assets view: one row per asset. From the switch until it shows
    // rows, each re-sort, an idle window showing it, and the memory it holds.
    let t = Instant::now();
    h.state_mut().show_view(View::Assets);
    h.step();
    wait(&mut h, "assets shown", |app| {
        !app.assets.snapshot.rows.is_empty()
    });
    h.step();
    let switched = t.elapsed();
    wait(&mut h, "assets read", |app| !app.assets.snapshot.loading);
    let assets_read = t.elapsed();
    println!(
        "assets view, {n} assets: first frame with rows after the switch {:>7.1} ms   (target < 1000 ms: {})",
        switched.as_secs_f64() * 1e3,
        verdict(switched < Duration::from_secs(1))
    );
    println!(
        "whole library's assets read in background: {:>7.1} ms",
        assets_read.as_secs_f64() * 1e3
    );
    let mut worst = Duration::ZERO;
    for (label, key) in [
        ("Asset", AssetSort::Name),
        ("Size", AssetSort::Size),
        ("Copies", AssetSort::Copies),
        ("Oldest verification", AssetSort::Verified),
        ("Health", AssetSort::Health),
        ("Added", AssetSort::Added),
    ] {
        let t = Instant::now();
        h.get_by_label(label).click();
        h.step();
        wait(&mut h, label, |app| {
            let s = &app.assets.snapshot;
            s.spec.sort == key && !s.rows.is_empty()
        });
        let took = t.elapsed();
        worst = worst.max(took);
        println!(
            "assets re-sort by {label:<20} {:>7.1} ms",
            took.as_secs_f64() * 1e3
        );
    }
    println!(
        "slowest assets re-sort:        {:>7.1} ms   (target < 150 ms: {})",
        worst.as_secs_f64() * 1e3,
        verdict(worst < Duration::from_millis(150))
    );
    let idle = idle_cost(&mut h, Duration::from_secs(10));
    println!(
        "idle window on the assets, {n} assets: {:.2}% of a core, {} frames in 10 s   (target < 2%: {})",
        idle.0 * 100.0,
        idle.1,
        verdict(idle.0 < 0.02)
    );
    let rss = rss_mb();
    println!(
        "resident memory, assets view shown: {rss:>7.0} MB   (target < 300 MB: {})",
        verdict(rss < 300.0)
    );
    h.state_mut().show_view(View::Queue);
    h.step();

    // An idle window: nothing changes in the library. It is drawn only when
    // it asks to be (as eframe draws it), for 10 s; the CPU of the whole
    // process (the UI and model threads) over that time.
    let idle = idle_cost(&mut h, Duration::from_secs(10));
    println!(
        "idle window, {n} ops: {:.2}% of a core, {} frames in 10 s   (target < 2%: {})",
        idle.0 * 100.0,
        idle.1,
        verdict(idle.0 < 0.02)
    );

    // CPU per frame while 8 transfers run on a real local provider.
    let src = base.join("src");
    let dst = base.join("dst");
    std::fs::create_dir_all(&src)?;
    std::fs::create_dir_all(&dst)?;
    let mut paths = Vec::new();
    for i in 0..8u8 {
        let p = src.join(format!("big-{i}.bin"));
        let chunk: Vec<u8> = (0..1 << 20)
            .map(|j| (j as u8) ^ i.wrapping_mul(37))
            .collect();
        let mut f = std::fs::File::create(&p)?;
        for k in 0..256u32 {
            use std::io::Write;
            let mut c = chunk.clone();
            c[..4].copy_from_slice(&k.to_le_bytes());
            f.write_all(&c)?;
        }
        paths.push(p);
    }
    let mut store = Store::open(&db)?;
    let fast = store.add_provider(
        "bench-fast",
        ProviderKind::Local,
        &serde_json::json!({ "root": dst }),
        8,
    )?;
    breakdex::library::import(
        &mut store,
        &paths,
        &breakdex::library::Rules::none(),
        &[fast],
        100,
    )?;
    let mut config = EngineConfig::new(&db, &base.join("files"));
    config.concurrency = 8;
    let engine = engine::start(config)?;
    wait(&mut h, "transfers running", |app| {
        app.model.snapshot.tab_counts[2] >= 8
    });
    let (mut frames, cpu0, t0) = (0u32, thread_cpu(), Instant::now());
    while t0.elapsed() < Duration::from_secs(3) {
        h.step();
        frames += 1;
        std::thread::sleep(Duration::from_millis(16));
    }
    let per_frame = (thread_cpu() - cpu0) / frames.max(1);
    engine.send(engine::Control::Stop);
    let _ = engine.join();
    println!(
        "UI-thread CPU per frame, 8 transfers: {:>5.2} ms over {frames} frames (target < 8 ms: {})",
        per_frame.as_secs_f64() * 1e3,
        verdict(per_frame < Duration::from_millis(8))
    );
    let rss = rss_mb();
    println!(
        "resident memory: {rss:>7.0} MB   (target < 300 MB: {})",
        verdict(rss < 300.0)
    );
    drop(h);

    // The system fonts (eframe's provider, as the real window has it): the
    // first frame of names in scripts the built-in fonts lack, against the
    // same window of Latin names without them.
    let mut took = [Duration::ZERO; 2];
    for (i, names) in [LATIN, OTHER_SCRIPTS].iter().enumerate() {
        let db = base.join(format!("names-{i}.db"));
        named_library(&db, names)?;
        let t = Instant::now();
        let h = open_window(&db, i == 1);
        took[i] = t.elapsed();
        drop(h);
    }
    let extra = took[1].saturating_sub(took[0]);
    println!(
        "first frame, 200 ops: Latin names {:.1} ms, CJK/Arabic/Hebrew/Devanagari names with system fonts {:.1} ms: +{:.1} ms   (target < +100 ms: {})",
        took[0].as_secs_f64() * 1e3,
        took[1].as_secs_f64() * 1e3,
        extra.as_secs_f64() * 1e3,
        verdict(extra < Duration::from_millis(100))
    );
    std::fs::remove_dir_all(&base)?;
    Ok(())
}

const LATIN: [&str; 4] = [
    "Lisbon_night.jpg",
    "family_photo.png",
    "trip_porto.jpg",
    "delhi_visit.png",
];
const OTHER_SCRIPTS: [&str; 4] = [
    "東京タワー_夜景.jpg",
    "صورة_العائلة.png",
    "תמונה_משפחתית.jpg",
    "दिल्ली_यात्रा.png",
];

/// Opens the window on `db` (with the system font provider eframe installs
/// in the real window, if `system_fonts`) and steps it until it shows rows.
fn open_window(db: &Path, system_fonts: bool) -> Harness<'static, App> {
    let db = db.to_owned();
    let mut h: Harness<'static, App> = Harness::builder()
        .with_size(egui::vec2(1400.0, 800.0))
        .build_eframe(move |cc| {
            if system_fonts {
                cc.egui_ctx.add_font_provider(std::sync::Arc::new(
                    egui_system_font_provider::SystemFontProvider::new(),
                ));
            }
            App::new(&db, None, &cc.egui_ctx).expect("app")
        });
    h.step();
    wait(&mut h, "first rows", |app| {
        !app.model.snapshot.rows.is_empty()
    });
    // One more frame draws the rows the model sent.
    h.step();
    h
}

/// A library of 200 queued uploads whose assets bear these names in turn.
fn named_library(db: &Path, names: &[&str]) -> anyhow::Result<()> {
    use breakdex::store::{ManifestEntry, NewOp, OpType};
    let mut store = Store::open(db)?;
    let root = db.with_extension("provider");
    std::fs::create_dir_all(&root)?;
    let provider = store.add_provider(
        "usb",
        ProviderKind::Local,
        &serde_json::json!({ "root": root }),
        4,
    )?;
    let (mut entries, mut ops) = (Vec::new(), Vec::new());
    for i in 0..200 {
        let name = format!("{i:03}_{}", names[i % names.len()]);
        let hash = blake3::hash(name.as_bytes()).to_hex().to_string();
        entries.push(ManifestEntry {
            content_hash: hash.clone(),
            size_bytes: 100,
            original_name: name,
            local_path: None,
            media_type: "image/jpeg".into(),
            added_at: String::new(),
        });
        ops.push(NewOp {
            content_hash: hash,
            provider_id: provider.id.clone(),
            operation_type: OpType::Upload,
            priority: 0,
            total_bytes: 100,
        });
    }
    store.record_assets(&entries, &[])?;
    store.enqueue(&ops)?;
    Ok(())
}
