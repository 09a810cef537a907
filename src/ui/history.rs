//! The history window: how long completed operations are kept (what
//! `breakdex history set --keep` changes) and, per provider, what it did on
//! each of the last 30 days: a bar per day of the bytes it moved (uploads
//! and downloads, then verification reads above them, a red mark on a day
//! with failed attempts), the day's totals on hover. Reading and saving go
//! through the model thread.

use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use egui::{Color32, RichText, Sense, Stroke, vec2};

use super::format;
use super::model::{Action, answer_on};
use crate::store::{DailyRow, DayTotals, SHOWN_DAYS, Store, StoreError, shown_days};
use crate::units::{format_keep, parse_keep};

/// What the window shows, read on the model thread.
#[derive(Clone, Debug)]
pub struct HistoryFacts {
    pub keep: Option<Duration>,
    /// Per provider name (sorted), its totals for each of `shown_days()`.
    pub providers: Vec<(String, Vec<DayTotals>)>,
    pub days: Vec<String>,
}

impl HistoryFacts {
    pub fn read(store: &Store) -> Result<HistoryFacts, StoreError> {
        let days = shown_days();
        let mut providers: Vec<(String, Vec<DayTotals>)> = store
            .providers()?
            .into_iter()
            .map(|p| (p.name, vec![DayTotals::default(); days.len()]))
            .collect();
        providers.sort_by(|a, b| a.0.cmp(&b.0));
        for DailyRow {
            provider,
            day,
            totals,
            ..
        } in store.daily(&days[0])?
        {
            let (Some(p), Some(d)) = (
                providers.iter_mut().find(|(name, _)| *name == provider),
                days.iter().position(|x| *x == day),
            ) else {
                continue;
            };
            p.1[d] = totals;
        }
        Ok(HistoryFacts {
            keep: store.history_keep()?,
            providers,
            days,
        })
    }
}

/// The window, when open.
#[derive(Default)]
pub struct HistoryWindow {
    state: Option<State>,
}

enum State {
    Reading(Receiver<Result<HistoryFacts, String>>),
    Shown(Shown),
}

struct Shown {
    facts: Option<HistoryFacts>,
    keep: String,
    saving: Option<Receiver<Result<String, String>>>,
    said: Option<Result<String, String>>,
}

impl HistoryWindow {
    pub fn is_open(&self) -> bool {
        self.state.is_some()
    }

    /// Opens the window; the action returned reads what it shows.
    pub fn open(&mut self) -> Action {
        let (reply, answer) = mpsc::channel();
        self.state = Some(State::Reading(answer));
        Action::ReadHistory(reply)
    }

    pub fn close(&mut self) {
        self.state = None;
    }

    /// Draws the window; returns a change to send, if one was asked for.
    pub fn show(&mut self, ctx: &egui::Context) -> Option<Action> {
        let state = self.state.as_mut()?;
        if let State::Reading(answer) = state {
            let read = answer_on(answer).map(|read| match read {
                Ok(facts) => (Some(facts), None),
                Err(e) => (None, Some(Err(e))),
            });
            if let Some((facts, said)) = read {
                let keep = facts.as_ref().map(|f| format_keep(f.keep));
                *state = State::Shown(Shown {
                    facts,
                    keep: keep.unwrap_or_default(),
                    saving: None,
                    said,
                });
            }
        }
        if let State::Shown(shown) = state
            && let Some(said) = shown.saving.as_ref().and_then(answer_on)
        {
            shown.said = Some(said);
            shown.saving = None;
        }
        let mut open = true;
        let mut action = None;
        super::app::settings_window("History", ctx)
            .open(&mut open)
            .show(ctx, |ui| {
                ui.set_min_width(440.0);
                let State::Shown(shown) = state else {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label("reading the history…");
                    });
                    return;
                };
                action = keep_row(ui, shown);
                if let Some(facts) = &shown.facts {
                    ui.separator();
                    ui.label(RichText::new(format!("The last {SHOWN_DAYS} days (UTC)")).strong());
                    legend(ui);
                    for (name, days) in &facts.providers {
                        provider_row(ui, name, days, &facts.days);
                    }
                }
            });
        if !open {
            self.state = None;
        }
        if self.state.as_ref().is_some_and(|s| match s {
            State::Reading(_) => true,
            State::Shown(s) => s.saving.is_some(),
        }) {
            // The answer comes from another thread, which does not wake us.
            ctx.request_repaint_after(Duration::from_millis(50));
        }
        action
    }
}

/// "Keep completed operations for [30d] [Save]", checked as typed.
fn keep_row(ui: &mut egui::Ui, shown: &mut Shown) -> Option<Action> {
    let mut action = None;
    let keep = parse_keep(&shown.keep);
    ui.horizontal(|ui| {
        let label = ui.label("Keep completed operations for").on_hover_text(
            "30d, 12w, … or off. Older ones are removed in the background; \
                 failed and cancelled operations and deletes of copies stay, \
                 and the totals below are kept",
        );
        ui.add(egui::TextEdit::singleline(&mut shown.keep).desired_width(70.0))
            .labelled_by(label.id);
        let can_save = keep.is_ok() && shown.saving.is_none();
        if ui
            .add_enabled(can_save, egui::Button::new("Save"))
            .clicked()
            && let Ok(keep) = keep.clone()
        {
            let (reply, answer) = mpsc::channel();
            shown.saving = Some(answer);
            shown.said = None;
            action = Some(Action::SetHistoryKeep { keep, reply });
        }
    });
    if let Err(why) = &keep {
        ui.label(RichText::new(why).color(ui.visuals().error_fg_color));
    }
    match &shown.said {
        Some(Ok(line)) => {
            ui.label(line);
        }
        Some(Err(e)) => {
            ui.label(RichText::new(e).color(ui.visuals().error_fg_color));
        }
        None => {}
    }
    action
}

/// One provider: its totals over the days shown, and a bar per day.
fn provider_row(ui: &mut egui::Ui, name: &str, days: &[DayTotals], labels: &[String]) {
    let sum = days.iter().fold(DayTotals::default(), |a, d| a + *d);
    ui.add_space(4.0);
    ui.label(RichText::new(name).strong());
    ui.label(totals_line(&sum).replacen(" · verified", "\nverified", 1));
    const BAR: f32 = 9.0;
    const HEIGHT: f32 = 36.0;
    let (rect, response) =
        ui.allocate_exact_size(vec2(BAR * days.len() as f32, HEIGHT), Sense::hover());
    let moved = |d: &DayTotals| (d.uploaded_bytes + d.downloaded_bytes) as f32;
    let most = days
        .iter()
        .map(|d| moved(d) + d.verified_bytes as f32)
        .fold(0.0, f32::max)
        .max(1.0);
    let visuals = ui.visuals();
    let painter = ui.painter_at(rect);
    painter.line_segment(
        [rect.left_bottom(), rect.right_bottom()],
        Stroke::new(1.0, visuals.weak_text_color()),
    );
    for (i, d) in days.iter().enumerate() {
        let x = rect.left() + i as f32 * BAR;
        let h_moved = moved(d) / most * HEIGHT;
        let h_verified = d.verified_bytes as f32 / most * HEIGHT;
        let bottom = rect.bottom();
        let bar = |from: f32, h: f32, color: Color32| {
            if h > 0.0 {
                let top = from - h.max(1.0);
                painter.rect_filled(
                    egui::Rect::from_min_max(
                        egui::pos2(x + 1.0, top),
                        egui::pos2(x + BAR - 1.0, from),
                    ),
                    1.0,
                    color,
                );
            }
        };
        bar(bottom, h_moved, visuals.selection.bg_fill);
        bar(
            bottom - h_moved,
            h_verified,
            visuals.widgets.inactive.bg_fill,
        );
        if d.failed_attempts > 0 {
            painter.rect_filled(
                egui::Rect::from_min_max(
                    egui::pos2(x + 1.0, rect.top()),
                    egui::pos2(x + BAR - 1.0, rect.top() + 2.0),
                ),
                0.0,
                visuals.error_fg_color,
            );
        }
    }
    if let Some(pos) = response.hover_pos() {
        let i = (((pos.x - rect.left()) / BAR) as usize).min(days.len() - 1);
        response.on_hover_text(format!("{}\n{}", labels[i], totals_line(&days[i])));
    }
    if let (Some(first), Some(_)) = (labels.first(), labels.last()) {
        ui.allocate_ui(vec2(rect.width(), 12.0), |ui| {
            ui.horizontal(|ui| {
                ui.label(RichText::new(first).small().weak());
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    ui.label(RichText::new("today").small().weak());
                });
            });
        });
    }
}

/// What the bars' colours mean.
fn legend(ui: &mut egui::Ui) {
    let v = ui.visuals();
    let (moved, verified, failed) = (
        v.selection.bg_fill,
        v.widgets.inactive.bg_fill,
        v.error_fg_color,
    );
    ui.horizontal(|ui| {
        ui.spacing_mut().item_spacing.x = 4.0;
        ui.label(RichText::new("■").color(moved));
        ui.label(RichText::new("bytes uploaded and downloaded").small());
        ui.label(RichText::new("■").color(verified));
        ui.label(RichText::new("bytes verified").small());
        ui.label(RichText::new("■").color(failed));
        ui.label(RichText::new("failed attempts").small());
    });
}

/// "uploaded 312 (4.1 GB) · downloaded 0 · verified 40 (1.2 GB) · deleted 1 · failed attempts 2".
fn totals_line(t: &DayTotals) -> String {
    let with_bytes = |what: &str, ops: i64, bytes: i64| {
        if ops == 0 {
            format!("{what} 0")
        } else {
            format!("{what} {ops} ({})", format::bytes(bytes))
        }
    };
    format!(
        "{} · {} · {} · deleted {} · failed attempts {}",
        with_bytes("uploaded", t.uploaded_ops, t.uploaded_bytes),
        with_bytes("downloaded", t.downloaded_ops, t.downloaded_bytes),
        with_bytes("verified", t.verified_ops, t.verified_bytes),
        t.deleted_ops,
        t.failed_attempts
    )
}
