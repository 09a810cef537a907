//! The grid of operations: sortable headers, one virtualized row per op with
//! the seed's state indicators, selection, the context menu and keys.
//!
//! Drawing never changes state: it returns [`GridEvent`]s for the app to apply.

use std::collections::HashSet;

use egui::{Color32, RichText, Sense};
use egui_extras::{Column, TableBuilder};

use super::format;
use super::model::{Action, Snapshot};
use crate::store::{OpRow, OpState, SortKey};

/// What a person did in the grid.
#[derive(Debug)]
pub enum GridEvent {
    Sort(SortKey),
    Click {
        index: usize,
        id: String,
        ctrl: bool,
        shift: bool,
    },
    Act(Action),
    AskPriority(Vec<String>),
    ShowError(String, String),
    Reveal(String),
    /// Copy this content hash to the clipboard (and say so).
    CopyHash(String),
    /// Restore the assets of these ops into a folder to be picked.
    RestoreTo(Vec<String>),
    /// The rows the grid drew: (first, count).
    Window(usize, usize),
}

/// A grid's column: its header, what clicking it sorts by (`None`: shown,
/// not sorted, and `hover` says what it is), the width it gets when there
/// is room, the narrowest it goes, and the order columns narrow in (the
/// least useful first) when the window is narrower than all.
pub struct ColumnSpec<S> {
    pub label: &'static str,
    pub sort: Option<S>,
    pub hover: &'static str,
    pub want: f32,
    pub min: f32,
    pub narrows: u8,
}

const fn column(
    label: &'static str,
    sort: Option<SortKey>,
    want: f32,
    min: f32,
    narrows: u8,
) -> ColumnSpec<SortKey> {
    ColumnSpec {
        label,
        sort,
        hover: "",
        want,
        min,
        narrows,
    }
}

/// The queue's columns.
const COLUMNS: [ColumnSpec<SortKey>; 13] = [
    column("Asset", Some(SortKey::AssetName), 170.0, 90.0, 12),
    ColumnSpec {
        hover: "Where the asset was added from (its first recorded path)",
        ..column("Folder", None, 140.0, 60.0, 9)
    },
    column("Provider", Some(SortKey::Provider), 100.0, 60.0, 10),
    column("Operation", Some(SortKey::OperationType), 90.0, 60.0, 5),
    column("Status", Some(SortKey::Status), 200.0, 110.0, 11),
    column("Priority", Some(SortKey::Priority), 58.0, 44.0, 3),
    column("Progress", Some(SortKey::Progress), 72.0, 48.0, 8),
    column("Retries", Some(SortKey::Retries), 62.0, 46.0, 4),
    column("Size", Some(SortKey::Size), 64.0, 50.0, 7),
    column("Created", Some(SortKey::CreatedAt), 72.0, 50.0, 1),
    column("Started", Some(SortKey::StartedAt), 72.0, 50.0, 2),
    column("Completed", Some(SortKey::CompletedAt), 86.0, 56.0, 6),
    column("Hash", Some(SortKey::ContentHash), 96.0, 48.0, 0),
];

/// Each column's width in `available` points, `None` for a column left out
/// at this width: all as wide as they like when there is room; else the
/// least useful narrow first, each to its minimum. The most useful column
/// (the name) keeps the width it wants: while it could not beside the
/// others at their minimums, the least useful are left out, one by one.
/// Below the most useful alone at its minimum, the grid scrolls sideways.
pub fn column_widths<S>(
    columns: &[ColumnSpec<S>],
    available: f32,
    spacing: f32,
) -> Vec<Option<f32>> {
    let by_use = |rank: u8| columns.iter().position(|c| c.narrows == rank);
    let top = (columns.iter().enumerate())
        .max_by_key(|(_, c)| c.narrows)
        .map_or(0, |(i, _)| i);
    let mut shown = vec![true; columns.len()];
    // With a column left out, the header's end keeps room to say so.
    let mark = |shown: &[bool]| {
        if shown.iter().all(|s| *s) {
            0.0
        } else {
            LEFT_OUT_MARK
        }
    };
    let at_least = |shown: &[bool]| -> f32 {
        (columns.iter().enumerate())
            .filter(|(i, _)| shown[*i])
            .map(|(i, c)| spacing + if i == top { c.want } else { c.min })
            .sum::<f32>()
            + mark(shown)
    };
    for rank in 0..columns.len() as u8 {
        if at_least(&shown) <= available {
            break;
        }
        if let Some(i) = by_use(rank).filter(|i| *i != top) {
            shown[i] = false;
        }
    }
    let wanted: f32 = (columns.iter().zip(&shown))
        .filter(|(_, s)| **s)
        .map(|(c, _)| c.want + spacing)
        .sum();
    let mut excess = (wanted + mark(&shown) - available).max(0.0);
    let mut widths: Vec<Option<f32>> = (columns.iter().zip(&shown))
        .map(|(c, s)| s.then_some(c.want))
        .collect();
    for rank in 0..columns.len() as u8 {
        let Some(i) = by_use(rank) else { continue };
        if let Some(width) = &mut widths[i] {
            let give = excess.min(columns[i].want - columns[i].min);
            *width -= give;
            excess -= give;
        }
    }
    widths
}

/// The room at the header's end that says which columns are left out.
const LEFT_OUT_MARK: f32 = 28.0;

/// A row of a sheet as its drawer sees it: cells drawn in the columns'
/// order, those of a column left out at this width skipped.
pub struct SheetRow<'r, 'a, 'b> {
    row: &'r mut egui_extras::TableRow<'a, 'b>,
    shown: &'r [bool],
    next: usize,
}

impl SheetRow<'_, '_, '_> {
    pub fn index(&self) -> usize {
        self.row.index()
    }

    pub fn set_selected(&mut self, selected: bool) {
        self.row.set_selected(selected);
    }

    pub fn response(&self) -> egui::Response {
        self.row.response()
    }

    /// The next column's cell.
    pub fn col(&mut self, cell: impl FnOnce(&mut egui::Ui)) {
        if self.shown.get(self.next).copied().unwrap_or(false) {
            self.row.col(cell);
        }
        self.next += 1;
    }
}

/// A column's header: its name, a button that sorts by it if it sorts;
/// the key to sort by once clicked.
fn header_cell<S: Copy + PartialEq>(
    ui: &mut egui::Ui,
    c: &ColumnSpec<S>,
    sorted: (S, bool),
) -> Option<S> {
    let Some(key) = c.sort else {
        ui.label(RichText::new(c.label).strong())
            .on_hover_text(c.hover);
        return None;
    };
    let active = sorted.0 == key;
    let arrow = match (active, sorted.1) {
        (false, _) => "",
        (true, false) => " ⏶",
        (true, true) => " ⏷",
    };
    let text = RichText::new(format!("{}{arrow}", c.label)).strong();
    ui.selectable_label(active, text)
        .on_hover_text("Sort by this column; click again to reverse")
        .clicked()
        .then_some(key)
}

/// Says, at the end of the header, which columns this width leaves out.
fn left_out(ui: &mut egui::Ui, hidden: &[&str]) {
    let mark = RichText::new(format!("+{}", hidden.len())).weak();
    ui.add(egui::Label::new(mark).extend())
        .on_hover_text(format!(
            "Left out at this width: {} (a wider window shows them)",
            hidden.join(", ")
        ));
}

const ROW_HEIGHT: f32 = 22.0;
/// Rows fetched beyond the visible ones, so scrolling rarely shows blanks.
const MARGIN: usize = 40;

const GREEN: Color32 = Color32::from_rgb(60, 170, 90);
const RED: Color32 = Color32::from_rgb(220, 70, 70);
const AMBER: Color32 = Color32::from_rgb(215, 150, 30);

/// What a person did to a sheet's frame (its rows are the caller's).
pub struct SheetOut<S> {
    /// A header clicked: sort by it.
    pub sort: Option<S>,
    /// The rows to fetch: those drawn and a margin around them.
    pub window: Option<(usize, usize)>,
}

/// Draws a virtualized, sortable table of `rows` rows with these columns
/// (`sorted`: the key and whether it is descending); `draw` fills row `i`.
pub fn sheet<S: Copy + PartialEq>(
    ui: &mut egui::Ui,
    columns: &[ColumnSpec<S>],
    sorted: (S, bool),
    rows: usize,
    mut draw: impl FnMut(&mut SheetRow<'_, '_, '_>),
) -> SheetOut<S> {
    let mut out = SheetOut {
        sort: None,
        window: None,
    };
    // Clicks on a cell's text select the row, not the text.
    ui.style_mut().interaction.selectable_labels = false;
    let mut drawn: Option<(usize, usize)> = None;
    let spacing = ui.spacing().item_spacing.x;
    let widths = column_widths(columns, ui.available_width(), spacing);
    let shown: Vec<bool> = widths.iter().map(Option::is_some).collect();
    let hidden: Vec<&str> = (columns.iter().zip(&shown))
        .filter(|(_, s)| !**s)
        .map(|(c, _)| c.label)
        .collect();
    let widths: Vec<f32> = widths.into_iter().flatten().collect();
    // A window narrower than the columns' minimums scrolls them sideways.
    egui::ScrollArea::horizontal().show(ui, |ui| {
        let mut table = TableBuilder::new(ui)
            // Widths a person set by dragging hold until the window's width
            // changes; then the columns share the new width again.
            .id_salt((
                columns[0].label,
                widths.iter().map(|w| *w as u32).collect::<Vec<_>>(),
                hidden.len(),
            ))
            .striped(true)
            .resizable(true)
            .sense(Sense::click())
            .cell_layout(egui::Layout::left_to_right(egui::Align::Center));
        // The last column shown takes the rest (the room kept for the mark
        // of the columns left out among it).
        for (i, width) in widths.iter().enumerate() {
            table = table.column(if i + 1 == widths.len() {
                Column::remainder().at_least(*width).clip(true)
            } else {
                Column::initial(*width).at_least(40.0).clip(true)
            });
        }
        table
            .header(ROW_HEIGHT + 2.0, |mut header| {
                let last = shown.iter().rposition(|s| *s);
                for (i, c) in columns.iter().enumerate().filter(|(i, _)| shown[*i]) {
                    header.col(|ui| {
                        // The mark first, at the right: the name gives way.
                        let right = egui::Layout::right_to_left(egui::Align::Center);
                        let left = egui::Layout::left_to_right(egui::Align::Center);
                        ui.with_layout(right, |ui| {
                            if Some(i) == last && !hidden.is_empty() {
                                left_out(ui, &hidden);
                            }
                            ui.with_layout(left, |ui| {
                                if let Some(key) = header_cell(ui, c, sorted) {
                                    out.sort = Some(key);
                                }
                            });
                        });
                    });
                }
            })
            .body(|body| {
                body.rows(ROW_HEIGHT, rows, |mut row| {
                    let index = row.index();
                    drawn = Some(match drawn {
                        None => (index, index),
                        Some((a, b)) => (a.min(index), b.max(index)),
                    });
                    draw(&mut SheetRow {
                        row: &mut row,
                        shown: &shown,
                        next: 0,
                    });
                });
            });
    });
    out.window = drawn.map(|(a, b)| {
        let start = a.saturating_sub(MARGIN);
        (start, b + 1 + MARGIN - start)
    });
    out
}

/// A row clicked (or right-clicked while not selected): the click to
/// apply to the selection.
pub fn row_click(row: &SheetRow<'_, '_, '_>, selected: bool) -> Option<(bool, bool)> {
    let response = row.response();
    if response.clicked() {
        return Some(
            response
                .ctx
                .input(|i| (i.modifiers.command, i.modifiers.shift)),
        );
    }
    (response.secondary_clicked() && !selected).then_some((false, false))
}

/// Draws the queue's grid and returns what was done in it; `paused` says
/// that the window's engine is paused (queued ops wait for that).
pub fn show(
    ui: &mut egui::Ui,
    snap: &Snapshot,
    selected: &HashSet<String>,
    paused: bool,
) -> Vec<GridEvent> {
    let mut events = Vec::new();
    if snap.view_len == 0 {
        ui.centered_and_justified(|ui| {
            ui.label(if snap.loading {
                "Reading the queue…"
            } else if snap.spec == Default::default() {
                "Nothing queued yet. Drop files or folders here, or use “Add files…”."
            } else {
                "No operations match."
            });
        });
        return events;
    }
    let sorted = (snap.spec.sort, snap.spec.descending);
    let out = sheet(ui, &COLUMNS, sorted, snap.view_len, |row| {
        let index = row.index();
        let Some(op) = index
            .checked_sub(snap.window_start)
            .and_then(|i| snap.rows.get(i))
        else {
            row.col(|ui| {
                ui.weak("…");
            });
            return;
        };
        let is_selected = selected.contains(&op.id);
        row.set_selected(is_selected);
        let waiting = if paused || op.paused_at.is_some() {
            Some("paused".to_string())
        } else {
            (snap.providers.iter())
                .find(|p| p.row.id == op.provider_id)
                .and_then(|p| p.waiting_reason(op.operation_type))
        };
        draw_row(row, op, waiting);
        if let Some((ctrl, shift)) = row_click(row, is_selected) {
            events.push(GridEvent::Click {
                index,
                id: op.id.clone(),
                ctrl,
                shift,
            });
        }
        row.response().context_menu(|ui| {
            let targets = if is_selected {
                selected.iter().cloned().collect()
            } else {
                vec![op.id.clone()]
            };
            menu(ui, op, targets, &mut events);
        });
    });
    if let Some(key) = out.sort {
        events.push(GridEvent::Sort(key));
    }
    if let Some((start, len)) = out.window {
        events.push(GridEvent::Window(start, len));
    }
    events
}

/// One op's cells; `waiting` is why a queued op waits, if it does.
fn draw_row(row: &mut SheetRow<'_, '_, '_>, op: &OpRow, waiting: Option<String>) {
    let name = op.asset_name.as_deref().unwrap_or("(unknown asset)");
    let folder = op
        .asset_path
        .as_deref()
        .and_then(|p| p.rsplit_once('/'))
        .map(|(dir, _)| dir);
    row.col(|ui| {
        let label = ui.label(name);
        if let Some(path) = &op.asset_path {
            let others = op.path_count - 1;
            label.on_hover_text(if others > 0 {
                format!(
                    "{path}\nand {} other path{}",
                    others,
                    if others == 1 { "" } else { "s" }
                )
            } else {
                path.clone()
            });
        }
    });
    row.col(|ui| match folder {
        Some(dir) => {
            ui.label(dir)
                .on_hover_text(op.asset_path.as_deref().unwrap_or(dir));
        }
        None => {
            ui.weak("—")
                .on_hover_text("Added as a single file: no folder recorded");
        }
    });
    row.col(|ui| {
        ui.label(&op.provider_name);
    });
    row.col(|ui| match &op.reason {
        // Queued by the engine on its own: a repair, a policy copy, a scrub.
        Some(why) => {
            let kind = why.split(':').next().unwrap_or(why);
            ui.label(format!("{} ({kind})", op.operation_type.as_str()))
                .on_hover_text(format!("Queued by Breakdex: {why}"));
        }
        None => {
            ui.label(op.operation_type.as_str());
        }
    });
    row.col(|ui| status_cell(ui, op, waiting));
    row.col(|ui| {
        ui.label(op.priority.to_string());
    });
    row.col(|ui| {
        ui.label(format::percent(
            op.state.progress(op.bytes_transferred, op.total_bytes),
        ));
    });
    row.col(|ui| retries_cell(ui, op));
    row.col(|ui| {
        ui.label(format::bytes(op.total_bytes));
    });
    row.col(|ui| {
        ui.label(format::timestamp(Some(&op.created_at)));
    });
    row.col(|ui| {
        ui.label(format::timestamp(op.started_at.as_deref()));
    });
    row.col(|ui| {
        ui.label(format::timestamp(op.completed_at.as_deref()));
    });
    row.col(|ui| {
        ui.monospace(&op.content_hash[..op.content_hash.len().min(12)])
            .on_hover_text(&op.content_hash);
    });
}

/// The attempts that failed, of those allowed: what the seed's retry
/// columns would say, but true of an op that was never retried.
fn retries_cell(ui: &mut egui::Ui, op: &OpRow) {
    match op.state {
        // A cancel spends no retries, whatever the seed's columns say.
        OpState::Cancelled => {
            ui.weak("—");
        }
        // An error no retry can fix ends the op at its first failure.
        OpState::PermanentlyFailed if op.failed_attempts <= 1 => {
            ui.label("not retried").on_hover_text(
                "Retrying cannot fix this error, so it was not retried: \
                 mend the cause, then use \"Retry now\".",
            );
        }
        _ => {
            ui.label(format!("{} of {}", op.failed_attempts, op.max_retries));
        }
    }
}

/// The seed's indicator for each state; `waiting` is why a queued op waits.
fn status_cell(ui: &mut egui::Ui, op: &OpRow, waiting: Option<String>) {
    match op.state {
        OpState::Queued => match waiting {
            Some(why) => {
                ui.label(RichText::new(format!("⏸ waiting: {why}")).color(AMBER))
                    .on_hover_text("Queued; it runs when this is no longer so");
            }
            None => {
                ui.label("⌛ queued")
                    .on_hover_text("Waiting in the queue (pending_in_queue)");
            }
        },
        OpState::InProgress => {
            let fraction = op.state.progress(op.bytes_transferred, op.total_bytes);
            // A narrow column shows the percent alone, not a cut sentence.
            let text = if ui.available_width() < 170.0 {
                format::percent(fraction)
            } else {
                format!(
                    "{} · {} of {}",
                    format::percent(fraction),
                    format::bytes(op.bytes_transferred),
                    format::bytes(op.total_bytes)
                )
            };
            let bar = ui.add(
                egui::ProgressBar::new(fraction.unwrap_or(0.0) as f32)
                    .desired_height(ROW_HEIGHT - 6.0)
                    .corner_radius(3.0)
                    .text(text),
            );
            // Outlined, so that the part still to go shows in the light
            // theme too (its fill is the row's own white there).
            ui.painter().rect_stroke(
                bar.rect,
                3.0,
                ui.visuals().widgets.noninteractive.bg_stroke,
                egui::StrokeKind::Inside,
            );
        }
        OpState::RetryPending => {
            let when = op
                .next_attempt_at
                .as_deref()
                .and_then(format::parse_timestamp)
                .map(|t| (t - format::now_ms()).max(0));
            let text = match when {
                Some(ms) if ms > 0 => format!(
                    "⟳ retry in {}",
                    format::duration(std::time::Duration::from_millis(ms as u64))
                ),
                _ => "⟳ retrying".to_string(),
            };
            ui.label(RichText::new(text).color(AMBER))
                .on_hover_text(format!(
                    "Failed, will be retried automatically: {}",
                    op.error_message.as_deref().unwrap_or("no reason given")
                ));
        }
        OpState::PermanentlyFailed => {
            let badge = egui::Frame::new()
                .fill(RED)
                .corner_radius(4.0)
                .inner_margin(egui::Margin::symmetric(6, 1))
                .show(ui, |ui| {
                    ui.label(RichText::new("⚠ failed").color(Color32::WHITE).strong());
                });
            badge
                .response
                .on_hover_text(op.error_message.as_deref().unwrap_or("no reason given"));
            ui.label(RichText::new(op.error_message.as_deref().unwrap_or("")).color(RED));
        }
        OpState::Completed => {
            ui.label(RichText::new("✔ done").color(GREEN));
        }
        OpState::Cancelled => {
            ui.label(RichText::new("🗙 cancelled").weak())
                .on_hover_text("Cancelled by you: not a failure. \"Retry now\" runs it again.");
        }
    }
}

fn menu(ui: &mut egui::Ui, op: &OpRow, targets: Vec<String>, events: &mut Vec<GridEvent>) {
    let n = targets.len();
    let suffix = if n > 1 {
        format!(" ({n} ops)")
    } else {
        String::new()
    };
    // The clicked row says whether its ops are paused.
    let (pause, paused) = if op.paused_at.is_some() {
        ("Resume", false)
    } else {
        ("Pause", true)
    };
    let items = [
        ("⟳", "Retry now", Action::RetryNow(targets.clone())),
        ("⏸", pause, Action::PauseOps(targets.clone(), paused)),
        ("🗙", "Cancel", Action::Cancel(targets.clone())),
        ("⏶", "Priority up", Action::BumpPriority(targets.clone(), 1)),
        (
            "⏷",
            "Priority down",
            Action::BumpPriority(targets.clone(), -1),
        ),
    ];
    for (icon, label, action) in items {
        if menu_item(ui, icon, &format!("{label}{suffix}"), true).clicked() {
            events.push(GridEvent::Act(action));
            ui.close();
        }
    }
    if menu_item(ui, "", &format!("Set priority…{suffix}"), true).clicked() {
        events.push(GridEvent::AskPriority(targets.clone()));
        ui.close();
    }
    if menu_item(ui, "", &format!("Restore to…{suffix}"), true).clicked() {
        events.push(GridEvent::RestoreTo(targets.clone()));
        ui.close();
    }
    if menu_item(ui, "", &format!("Remove from queue{suffix}"), true).clicked() {
        events.push(GridEvent::Act(Action::Remove(targets)));
        ui.close();
    }
    ui.separator();
    if menu_item(ui, "", "Show error", op.error_message.is_some()).clicked() {
        events.push(GridEvent::ShowError(
            format!(
                "{} on {}",
                op.asset_name.as_deref().unwrap_or("asset"),
                op.provider_name
            ),
            op.error_message.clone().unwrap_or_default(),
        ));
        ui.close();
    }
    if menu_item(ui, "", "Copy hash", true).clicked() {
        events.push(GridEvent::CopyHash(op.content_hash.clone()));
        ui.close();
    }
    if menu_item(ui, "", "Reveal local file", true).clicked() {
        events.push(GridEvent::Reveal(op.content_hash.clone()));
        ui.close();
    }
}

/// A context-menu entry whose label starts at the same place whether it has
/// an icon or not: the icon sits in a slot one line high and wide.
pub fn menu_item(ui: &mut egui::Ui, icon: &str, label: &str, enabled: bool) -> egui::Response {
    use egui::AtomExt as _;
    let slot = egui::vec2(ui.text_style_height(&egui::TextStyle::Button), 0.0);
    let icon: egui::Atom = if icon.is_empty() {
        egui::AtomKind::Empty.into()
    } else {
        icon.into()
    };
    let button = egui::Button::new((icon.atom_size(slot), label));
    ui.add_enabled(enabled, button)
}

/// Updates the selection after a click on row `index`; `shown` are the ids
/// of the rows fetched, the first being row `window_start`.
pub fn select<'a>(
    selected: &mut HashSet<String>,
    anchor: &mut Option<usize>,
    (window_start, shown): (usize, impl Iterator<Item = &'a str>),
    index: usize,
    id: String,
    ctrl: bool,
    shift: bool,
) {
    match (ctrl, shift, *anchor) {
        (_, true, Some(a)) => {
            let (lo, hi) = (a.min(index), a.max(index));
            for (offset, row) in shown.enumerate() {
                if (lo..=hi).contains(&(window_start + offset)) {
                    selected.insert(row.to_string());
                }
            }
        }
        (true, _, _) => {
            if !selected.remove(&id) {
                selected.insert(id);
            }
            *anchor = Some(index);
        }
        _ => {
            selected.clear();
            selected.insert(id);
            *anchor = Some(index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_narrow_the_least_useful_first_and_the_name_keeps_its_width() {
        let n = COLUMNS.len() as f32;
        let wide = column_widths(&COLUMNS, 2000.0, 8.0);
        assert_eq!(
            wide,
            COLUMNS.iter().map(|c| Some(c.want)).collect::<Vec<_>>(),
            "room for all: as wide as they like"
        );
        // 60 points short: the hash gives 48, Created the rest.
        let sum: f32 = COLUMNS.iter().map(|c| c.want + 8.0).sum();
        let w = column_widths(&COLUMNS, sum - 60.0, 8.0);
        assert_eq!(w[12], Some(48.0));
        assert_eq!(w[9], Some(72.0 - 12.0));
        assert_eq!((w[0], w[4], w[10]), (Some(170.0), Some(200.0), Some(72.0)));
        // A 900-point window: the hash and Created are left out, the name
        // keeps what it wants, every other column its minimum or more.
        let w = column_widths(&COLUMNS, 884.0, 8.0);
        assert_eq!((w[12], w[9]), (None, None), "{w:?}");
        assert_eq!(w[0], Some(170.0));
        let shown: Vec<(f32, &ColumnSpec<SortKey>)> = (w.iter().zip(&COLUMNS))
            .filter_map(|(w, c)| w.map(|w| (w, c)))
            .collect();
        assert_eq!(shown.len(), COLUMNS.len() - 2);
        let used: f32 = shown.iter().map(|(w, _)| w + 8.0).sum();
        assert!(used + LEFT_OUT_MARK <= 884.0, "{w:?}");
        for (width, c) in &shown {
            assert!(*width >= c.min, "{} at {width}", c.label);
        }
        // Narrower than the name alone: the name, at its narrowest.
        let w = column_widths(&COLUMNS, 50.0, 8.0);
        assert_eq!(w[0], Some(90.0));
        assert!(w[1..].iter().all(Option::is_none), "{w:?}");
        assert_eq!(n as usize, w.len());
    }
}
