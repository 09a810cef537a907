//! The menu bar (File, Queue, View, Help) and the About window.

use egui::{Button, ThemePreference};

use super::shortcuts::{self, Command};

/// Draws the menu bar; returns the command chosen, if any.
pub fn bar(ui: &mut egui::Ui, paused: bool, failed: usize) -> Option<Command> {
    let mut chosen = None;
    egui::MenuBar::new().ui(ui, |ui| {
        ui.menu_button("File", |ui| {
            item(ui, "Add files…", Command::AddFiles, true, &mut chosen);
            item(
                ui,
                "Watched folders…",
                Command::WatchedFolders,
                true,
                &mut chosen,
            );
            item(
                ui,
                "Exclude rules…",
                Command::ExcludeRules,
                true,
                &mut chosen,
            );
            item(
                ui,
                "Restore library to…",
                Command::RestoreAll,
                true,
                &mut chosen,
            );
            ui.separator();
            item(
                ui,
                "Open data folder",
                Command::OpenDataFolder,
                true,
                &mut chosen,
            );
            item(
                ui,
                "Open log folder",
                Command::OpenLogFolder,
                true,
                &mut chosen,
            );
            ui.separator();
            item(ui, "Quit", Command::Quit, true, &mut chosen);
        });
        ui.menu_button("Queue", |ui| {
            let label = if paused { "Resume" } else { "Pause" };
            item(ui, label, Command::PauseResume, true, &mut chosen);
            item(
                ui,
                "Retry all failed",
                Command::RetryAllFailed,
                failed > 0,
                &mut chosen,
            );
            ui.separator();
            item(ui, "Providers…", Command::Providers, true, &mut chosen);
            item(ui, "History…", Command::History, true, &mut chosen);
        });
        ui.menu_button("View", |ui| {
            item(
                ui,
                "Switch between queue and assets",
                Command::SwitchView,
                true,
                &mut chosen,
            );
            ui.separator();
            let mut theme = ui.ctx().options(|o| o.theme_preference);
            let before = theme;
            ui.label("Theme");
            ui.radio_value(&mut theme, ThemePreference::System, "Follow the system");
            ui.radio_value(&mut theme, ThemePreference::Light, "Light");
            ui.radio_value(&mut theme, ThemePreference::Dark, "Dark");
            if theme != before {
                ui.ctx().set_theme(theme);
            }
        });
        ui.menu_button("Help", |ui| {
            item(ui, "Keyboard shortcuts", Command::Help, true, &mut chosen);
            item(ui, "About Breakdex", Command::About, true, &mut chosen);
        });
    });
    chosen
}

/// A menu entry showing its shortcut; a click closes the menu.
fn item(
    ui: &mut egui::Ui,
    label: &str,
    command: Command,
    enabled: bool,
    chosen: &mut Option<Command>,
) {
    let mut button = Button::new(label);
    if let Some(keys) = shortcuts::for_command(command) {
        button = button.shortcut_text(ui.ctx().format_shortcut(keys));
    }
    if ui.add_enabled(enabled, button).clicked() {
        *chosen = Some(command);
    }
}

/// The About window's text.
pub fn about(ui: &mut egui::Ui, db: &std::path::Path) {
    ui.heading(format!("Breakdex {}", env!("CARGO_PKG_VERSION")));
    ui.label(env!("CARGO_PKG_DESCRIPTION"));
    ui.add_space(6.0);
    egui::Grid::new("about-paths")
        .num_columns(2)
        .spacing([12.0, 4.0])
        .show(ui, |ui| {
            ui.label("Library");
            ui.monospace(db.display().to_string());
            ui.end_row();
            ui.label("Logs");
            ui.monospace(crate::logs::log_dir().display().to_string());
            ui.end_row();
        });
    ui.add_space(6.0);
    ui.label(format!("License: {}", env!("CARGO_PKG_LICENSE")));
}
