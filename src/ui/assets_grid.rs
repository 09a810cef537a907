//! The Assets grid: one virtualized, sortable row per asset with its copies
//! and health badge, selection, and the row menu (verify now, restore to,
//! upload to, delete the copy on, reveal, copy hash).
//!
//! Drawing never changes state: it returns [`AssetEvent`]s for the app.

use std::collections::HashSet;

use egui::{Color32, RichText};

use super::assets::{AssetAction, AssetLine, AssetSort, AssetsSnapshot};
use super::format;
use super::grid::{ColumnSpec, SheetRow, menu_item, row_click, sheet};
use crate::store::{Health, timestamp_of_millis};

/// What a person did in the Assets grid.
#[derive(Debug)]
pub enum AssetEvent {
    Sort(AssetSort),
    Click {
        index: usize,
        hash: String,
        ctrl: bool,
        shift: bool,
    },
    Act(AssetAction),
    /// Restore these assets into a folder to be picked.
    RestoreTo(Vec<String>),
    Reveal(String),
    CopyHash(String),
    /// The rows the grid drew: (first, count).
    Window(usize, usize),
}

const fn column(
    label: &'static str,
    sort: AssetSort,
    want: f32,
    min: f32,
    narrows: u8,
) -> ColumnSpec<AssetSort> {
    ColumnSpec {
        label,
        sort: Some(sort),
        hover: "",
        want,
        min,
        narrows,
    }
}

const COLUMNS: [ColumnSpec<AssetSort>; 6] = [
    column("Asset", AssetSort::Name, 420.0, 140.0, 5),
    column("Size", AssetSort::Size, 80.0, 56.0, 2),
    column("Added", AssetSort::Added, 120.0, 70.0, 0),
    column("Copies", AssetSort::Copies, 150.0, 80.0, 3),
    column("Oldest verification", AssetSort::Verified, 150.0, 80.0, 1),
    column("Health", AssetSort::Health, 120.0, 90.0, 4),
];

const GREEN: Color32 = Color32::from_rgb(60, 170, 90);
const RED: Color32 = Color32::from_rgb(220, 70, 70);
const AMBER: Color32 = Color32::from_rgb(215, 150, 30);
const GREY: Color32 = Color32::from_rgb(120, 130, 140);

/// A health's badge colour and words.
pub fn badge(h: Health) -> (Color32, &'static str) {
    match h {
        Health::Safe => (GREEN, "✔ safe"),
        Health::AtRisk => (AMBER, "⚠ at risk"),
        Health::Damaged => (RED, "✖ damaged"),
        Health::LocalOnly => (GREY, "🖴 local only"),
    }
}

/// Draws the grid and returns what was done in it.
pub fn show(
    ui: &mut egui::Ui,
    snap: &AssetsSnapshot,
    selected: &HashSet<String>,
) -> Vec<AssetEvent> {
    let mut events = Vec::new();
    if snap.view_len == 0 {
        ui.centered_and_justified(|ui| {
            ui.label(if snap.loading {
                "Reading the library…"
            } else if snap.total == 0 && snap.spec.provider.is_none() {
                "No assets yet. Drop files or folders here, or use “Add files…”."
            } else {
                "No assets match."
            });
        });
        return events;
    }
    let sorted = (snap.spec.sort, snap.spec.descending);
    let out = sheet(ui, &COLUMNS, sorted, snap.view_len, |row| {
        let index = row.index();
        let Some(line) = index
            .checked_sub(snap.window_start)
            .and_then(|i| snap.rows.get(i))
        else {
            row.col(|ui| {
                ui.weak("…");
            });
            return;
        };
        let hash = &line.row.content_hash;
        let is_selected = selected.contains(hash);
        row.set_selected(is_selected);
        draw_row(row, line, snap.enabled_providers);
        if let Some((ctrl, shift)) = row_click(row, is_selected) {
            events.push(AssetEvent::Click {
                index,
                hash: hash.clone(),
                ctrl,
                shift,
            });
        }
        row.response().context_menu(|ui| {
            let targets = if is_selected {
                selected.iter().cloned().collect()
            } else {
                vec![hash.clone()]
            };
            menu(ui, snap, line, targets, &mut events);
        });
    });
    if let Some(key) = out.sort {
        events.push(AssetEvent::Sort(key));
    }
    if let Some((start, len)) = out.window {
        events.push(AssetEvent::Window(start, len));
    }
    events
}

fn draw_row(row: &mut SheetRow<'_, '_, '_>, line: &AssetLine, enabled: usize) {
    let a = &line.row;
    row.col(|ui| {
        let path = a.first_path.as_deref().unwrap_or(&a.name);
        ui.label(path).on_hover_text(&a.content_hash);
        let others = a.path_count.saturating_sub(1);
        if others > 0 {
            ui.weak(format!("+{others}")).on_hover_text(format!(
                "and {others} other path{}",
                if others == 1 { "" } else { "s" }
            ));
        }
    });
    row.col(|ui| {
        ui.label(format::bytes(a.size_bytes));
    });
    row.col(|ui| {
        ui.label(format::timestamp(Some(&a.added_at)));
    });
    row.col(|ui| {
        let mut text = format!("{} of {enabled}", line.counted);
        if a.copies.len() > line.counted {
            text += &format!(" · {} held", a.copies.len());
        }
        let hover = if a.copies.is_empty() {
            "No copy on any provider yet".to_string()
        } else {
            (a.copies.iter())
                .map(|c| {
                    let when = c
                        .verified_at
                        .as_deref()
                        .map_or("never verified".into(), |t| {
                            format!("verified {}", format::timestamp(Some(t)))
                        });
                    format!("{}: {}, {when}", c.provider, c.verify_status)
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        ui.label(text).on_hover_text(format!(
            "Verified copies that count (on enabled providers that answer, \
             within the scrub interval) of {enabled} enabled providers\n\n{hover}"
        ));
    });
    row.col(|ui| match line.oldest_verified_s {
        Some(s) => {
            ui.label(format::timestamp(Some(&timestamp_of_millis(
                i64::from(s) * 1000,
            ))));
        }
        None => {
            ui.weak("never");
        }
    });
    row.col(|ui| {
        let (colour, words) = badge(line.health);
        let frame = egui::Frame::new()
            .fill(colour)
            .corner_radius(4.0)
            .inner_margin(egui::Margin::symmetric(6, 1))
            .show(ui, |ui| {
                ui.label(RichText::new(words).color(Color32::WHITE).strong());
            });
        frame.response.on_hover_text(match line.health {
            Health::Safe => "Enough verified copies, verified recently",
            Health::AtRisk => {
                "Fewer verified copies than the policy asks (or copies only on offline \
                 providers, or not verified within the scrub interval)"
            }
            Health::Damaged => "A copy was found missing or corrupt; the engine repairs it",
            Health::LocalOnly => "No copy anywhere yet",
        });
    });
}

fn menu(
    ui: &mut egui::Ui,
    snap: &AssetsSnapshot,
    line: &AssetLine,
    targets: Vec<String>,
    events: &mut Vec<AssetEvent>,
) {
    let n = targets.len();
    let suffix = if n > 1 {
        format!(" ({n} assets)")
    } else {
        String::new()
    };
    let a = &line.row;
    if menu_item(
        ui,
        "✔",
        &format!("Verify now{suffix}"),
        !a.copies.is_empty() || n > 1,
    )
    .clicked()
    {
        events.push(AssetEvent::Act(AssetAction::Verify(targets.clone())));
        ui.close();
    }
    if menu_item(ui, "", &format!("Restore to…{suffix}"), true).clicked() {
        events.push(AssetEvent::RestoreTo(targets.clone()));
        ui.close();
    }
    let holds = |id: &str| a.copies.iter().any(|c| c.provider_id == id);
    ui.menu_button(format!("Upload to{suffix}"), |ui| {
        for p in snap.providers.iter().filter(|p| p.enabled) {
            // One asset: only where it has no copy yet.
            let lacking = n > 1 || !holds(&p.id);
            if ui
                .add_enabled(lacking, egui::Button::new(&p.name))
                .clicked()
            {
                events.push(AssetEvent::Act(AssetAction::UploadTo(
                    targets.clone(),
                    p.id.clone(),
                )));
                ui.close();
            }
        }
    });
    ui.menu_button(format!("Delete the copy on{suffix}"), |ui| {
        let verified_elsewhere =
            |id: &str| (a.copies.iter()).any(|c| c.provider_id != id && c.verify_status == "ok");
        for p in &snap.providers {
            if n == 1 && !holds(&p.id) {
                continue;
            }
            let last = n == 1
                && !verified_elsewhere(&p.id)
                && a.copies
                    .iter()
                    .any(|c| c.provider_id == p.id && c.verify_status == "ok");
            let item = ui.add_enabled(!last, egui::Button::new(&p.name));
            let item = if last {
                item.on_disabled_hover_text(
                    "Refused: it is the only verified copy of this asset. \
                     Copy it to another provider first.",
                )
            } else {
                item
            };
            if item.clicked() {
                events.push(AssetEvent::Act(AssetAction::DeleteCopy(
                    targets.clone(),
                    p.id.clone(),
                )));
                ui.close();
            }
        }
    });
    ui.separator();
    if menu_item(ui, "", "Reveal local file", a.local_path.is_some()).clicked() {
        events.push(AssetEvent::Reveal(a.content_hash.clone()));
        ui.close();
    }
    if menu_item(ui, "", "Copy hash", true).clicked() {
        events.push(AssetEvent::CopyHash(a.content_hash.clone()));
        ui.close();
    }
}
