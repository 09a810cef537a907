//! The copy health settings window: the copy-count policy and the scrub,
//! what `breakdex policy set` and `breakdex scrub set` change, typed as the
//! command line takes them (`7d`, `20M`) and checked as they are typed.

use egui::RichText;

use super::assets::AssetAction;
use crate::store::{Policy, Scrub};
use crate::units::{format_duration, format_rate, parse_duration, parse_rate};

/// The window, and what is typed in it while it is open.
#[derive(Default)]
pub struct HealthSettings {
    typed: Option<Typed>,
}

struct Typed {
    min_copies: String,
    grace: String,
    every: String,
    budget: String,
}

impl HealthSettings {
    pub fn is_open(&self) -> bool {
        self.typed.is_some()
    }

    /// Opens the window on the present settings.
    pub fn open(&mut self, policy: Policy, scrub: Scrub) {
        self.typed = Some(Typed {
            min_copies: policy.min_copies.to_string(),
            grace: format_duration(policy.offline_grace),
            every: format_duration(scrub.every),
            budget: format_rate(scrub.budget_bps),
        });
    }

    pub fn close(&mut self) {
        self.typed = None;
    }

    /// Draws the window; returns the settings to save once Save is pressed.
    pub fn show(&mut self, ctx: &egui::Context) -> Option<AssetAction> {
        let typed = self.typed.as_mut()?;
        let mut open = true;
        let mut saved = None;
        super::app::settings_window("Copy health settings", ctx)
            .open(&mut open)
            .show(ctx, |ui| {
                let min_copies = typed
                    .min_copies
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| "a whole number, 1 or more".to_string());
                let grace = parse_duration(&typed.grace);
                let every = parse_duration(&typed.every)
                    .and_then(|d| if d.as_secs() == 0 { Err("at least 1s".into()) } else { Ok(d) });
                let budget = parse_rate(&typed.budget);
                egui::Grid::new("health-settings")
                    .num_columns(2)
                    .spacing([12.0, 6.0])
                    .show(ui, |ui| {
                        field(
                            ui,
                            "Copies to keep of each asset",
                            "Verified copies on enabled providers; the engine tops up to this",
                            &mut typed.min_copies,
                            &min_copies,
                        );
                        field(
                            ui,
                            "An offline provider's copies still count for",
                            "Unplugging a drive for less than this does not copy its assets elsewhere (7d, 36h)",
                            &mut typed.grace,
                            &grace,
                        );
                        field(
                            ui,
                            "Re-read every copy every",
                            "The scrub: each copy is verified again within this time (30d)",
                            &mut typed.every,
                            &every,
                        );
                        field(
                            ui,
                            "Scrub reads at most",
                            "Bytes per second per provider (20M, 512K; off stops the scrub)",
                            &mut typed.budget,
                            &budget,
                        );
                    });
                ui.add_space(6.0);
                let all = (&min_copies, &grace, &every, &budget);
                if let (Ok(min_copies), Ok(grace), Ok(every), Ok(budget_bps)) = all {
                    if ui.button("Save").clicked() {
                        saved = Some(AssetAction::SetHealth {
                            policy: Policy {
                                min_copies: *min_copies,
                                offline_grace: *grace,
                            },
                            scrub: Scrub {
                                every: *every,
                                budget_bps: *budget_bps,
                            },
                        });
                    }
                } else {
                    ui.add_enabled(false, egui::Button::new("Save"));
                }
            });
        if !open || saved.is_some() {
            self.typed = None;
        }
        saved
    }
}

/// One labelled field, with what is wrong with it under it.
fn field<T>(
    ui: &mut egui::Ui,
    label: &str,
    hover: &str,
    text: &mut String,
    value: &Result<T, String>,
) {
    let label = ui.label(label).on_hover_text(hover);
    ui.vertical(|ui| {
        ui.add(egui::TextEdit::singleline(text).desired_width(90.0))
            .labelled_by(label.id);
        if let Err(why) = value {
            ui.label(
                RichText::new(why)
                    .small()
                    .color(ui.visuals().error_fg_color),
            );
        }
    });
    ui.end_row();
}
