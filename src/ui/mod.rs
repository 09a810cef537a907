//! The window: a live, sortable grid of the queue, drag and drop, providers.
//!
//! The UI thread only draws and sends requests. The queue is read by the
//! model thread (`model`), imports hash on their own thread (`import`), and
//! the engine runs the ops on its own thread; each wakes the window with a
//! repaint request when it has news.

mod app;
mod assets;
mod assets_grid;
mod excludes;
pub(crate) mod format;
mod grid;
mod health_settings;
mod history;
mod import;
mod menu;
mod model;
mod notices;
mod order;
mod picker;
mod providers;
mod shortcuts;
mod watched;

use std::path::Path;

pub use app::{App, View};
pub use assets::{AssetAction, AssetRequest, AssetSort, AssetSpec, AssetsSnapshot};
pub use model::{Action, Request, Restoring, Snapshot, Tab, ViewSpec};
pub use notices::Notice;
pub use shortcuts::{Command, SHORTCUTS};

/// The app's ID: the desktop entry's name, the Wayland app ID, the X11 class.
pub const APP_ID: &str = "io.github.breakdex.Breakdex";

/// The window's icon (the 256 px render of assets/breakdex.svg).
const ICON_PNG: &[u8] =
    include_bytes!("../../packaging/icons/hicolor/256x256/apps/io.github.breakdex.Breakdex.png");

/// Opens the window on the library at `db` and runs until it is closed.
/// With `paused`, the queue waits for the Resume button.
pub fn run(db: &Path, paused: bool) -> anyhow::Result<()> {
    // Open (and create) the library first, so problems are reported plainly.
    drop(crate::setup::open_library(db)?);
    tracing::info!(
        "Breakdex {} opening the window on {}",
        env!("CARGO_PKG_VERSION"),
        db.display()
    );
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("Breakdex")
        .with_app_id(APP_ID)
        .with_inner_size([1320.0, 780.0])
        .with_min_inner_size([720.0, 420.0])
        .with_drag_and_drop(true);
    match eframe::icon_data::from_png_bytes(ICON_PNG) {
        Ok(icon) => viewport = viewport.with_icon(icon),
        Err(e) => tracing::warn!("the window icon is unreadable: {e}"),
    }
    let options = eframe::NativeOptions {
        viewport,
        // Size, position, theme and the like, kept between runs.
        persist_window: true,
        persistence_path: Some(crate::logs::state_dir().join("window.ron")),
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
