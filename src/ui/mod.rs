//! The window: a live, sortable grid of the queue, drag and drop, providers.
//!
//! The UI thread only draws and sends requests. The queue is read by the
//! model thread (`model`), imports hash on their own thread (`import`), and
//! the engine runs the ops on its own thread; each wakes the window with a
//! repaint request when it has news.

mod app;
mod format;
mod grid;
mod import;
mod model;
mod providers;

use std::path::Path;

pub use app::App;
pub use model::{Action, Snapshot, Tab, ViewSpec};

/// Opens the window on the library at `db` and runs until it is closed.
/// With `paused`, the queue waits for the Resume button.
pub fn run(db: &Path, paused: bool) -> anyhow::Result<()> {
    // Open (and create) the library first, so problems are reported plainly.
    drop(crate::setup::open_library(db)?);
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Breakdex")
            .with_app_id("breakdex")
            .with_inner_size([1320.0, 780.0])
            .with_min_inner_size([720.0, 420.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    let db = db.to_owned();
    eframe::run_native(
        "Breakdex",
        options,
        Box::new(move |cc| Ok(Box::new(App::new(&db, Some(paused), &cc.egui_ctx)?))),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}
