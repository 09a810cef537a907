//! The providers window: each provider with its online state; add, edit,
//! remove, test, enable and disable.

use egui::{Color32, RichText};

use super::model::{Action, ProviderStatus};
use crate::store::ProviderKind;

/// The form for adding or editing a local-folder provider.
#[derive(Default)]
struct Form {
    /// `Some(id)` when editing that provider.
    editing: Option<String>,
    name: String,
    root: String,
    concurrency: String,
    error: Option<String>,
}

/// The providers window and its state.
#[derive(Default)]
pub struct ProvidersPanel {
    pub open: bool,
    form: Option<Form>,
    /// A provider waiting for the person to confirm its removal.
    confirm_remove: Option<(String, String)>,
}

impl ProvidersPanel {
    /// Draws the window (when open); returns the actions asked for.
    pub fn show(&mut self, ctx: &egui::Context, providers: &[ProviderStatus]) -> Vec<Action> {
        let mut actions = Vec::new();
        if !self.open {
            return actions;
        }
        let mut open = true;
        egui::Window::new("Providers")
            .open(&mut open)
            .default_width(560.0)
            .show(ctx, |ui| {
                egui::Grid::new("providers-grid")
                    .num_columns(4)
                    .striped(true)
                    .spacing([12.0, 6.0])
                    .show(ui, |ui| {
                        for p in providers {
                            self.provider_row(ui, p, &mut actions);
                            ui.end_row();
                        }
                    });
                ui.separator();
                if self.form.is_none() && ui.button("➕ Add a local folder…").clicked() {
                    self.form = Some(Form {
                        concurrency: "4".into(),
                        ..Form::default()
                    });
                }
                if let Some(action) = self.form_ui(ui) {
                    actions.push(action);
                }
            });
        if !open {
            self.open = false;
            self.form = None;
        }
        if let Some((id, name)) = self.confirm_remove.clone() {
            egui::Window::new("Remove provider?")
                .collapsible(false)
                .show(ctx, |ui| {
                    ui.label(format!(
                        "Remove '{name}' and its operations from the queue? Files already on it are not deleted."
                    ));
                    ui.horizontal(|ui| {
                        if ui.button("Remove").clicked() {
                            actions.push(Action::RemoveProvider(id.clone()));
                            self.confirm_remove = None;
                        }
                        if ui.button("Keep").clicked() {
                            self.confirm_remove = None;
                        }
                    });
                });
        }
        actions
    }

    fn provider_row(&mut self, ui: &mut egui::Ui, p: &ProviderStatus, actions: &mut Vec<Action>) {
        let row = &p.row;
        ui.vertical(|ui| {
            ui.strong(&row.name);
            let where_ = row
                .settings
                .get("root")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            ui.small(format!("{} · {where_}", row.kind.as_str()));
        });
        match (&p.online, row.enabled) {
            (_, false) => {
                ui.label(RichText::new("disabled").weak());
            }
            (Ok(()), true) => {
                ui.label(RichText::new("● online").color(Color32::from_rgb(60, 170, 90)));
            }
            (Err(reason), true) => {
                ui.label(RichText::new("● offline").color(Color32::from_rgb(215, 120, 30)))
                    .on_hover_text(reason);
            }
        }
        ui.horizontal(|ui| {
            let toggle = if row.enabled { "Disable" } else { "Enable" };
            if ui.button(toggle).clicked() {
                actions.push(Action::SetProviderEnabled(row.id.clone(), !row.enabled));
            }
            if ui
                .button("Test")
                .on_hover_text("Write, read back and delete a small probe")
                .clicked()
            {
                actions.push(Action::TestProvider(row.id.clone()));
            }
            // The form edits local folders only; remote providers are
            // changed from the command line (their secrets come from stdin).
            if row.kind == ProviderKind::Local && ui.button("Edit").clicked() {
                self.form = Some(Form {
                    editing: Some(row.id.clone()),
                    name: row.name.clone(),
                    root: row
                        .settings
                        .get("root")
                        .and_then(|v| v.as_str())
                        .unwrap_or("")
                        .to_string(),
                    concurrency: row.concurrency.to_string(),
                    error: None,
                });
            }
            if ui.button("Remove").clicked() {
                self.confirm_remove = Some((row.id.clone(), row.name.clone()));
            }
        });
    }

    fn form_ui(&mut self, ui: &mut egui::Ui) -> Option<Action> {
        let form = self.form.as_mut()?;
        let mut action = None;
        let mut close = false;
        ui.heading(if form.editing.is_some() {
            "Edit provider"
        } else {
            "New local-folder provider"
        });
        egui::Grid::new("provider-form")
            .num_columns(2)
            .show(ui, |ui| {
                ui.label("Name");
                ui.text_edit_singleline(&mut form.name);
                ui.end_row();
                ui.label("Folder");
                ui.text_edit_singleline(&mut form.root);
                ui.end_row();
                ui.label("Parallel transfers");
                ui.text_edit_singleline(&mut form.concurrency);
                ui.end_row();
            });
        if let Some(e) = &form.error {
            ui.label(RichText::new(e).color(Color32::from_rgb(220, 70, 70)));
        }
        ui.horizontal(|ui| {
            if ui.button("Save").clicked() {
                match validate(form) {
                    Ok((settings, concurrency)) => {
                        action = Some(match &form.editing {
                            Some(id) => Action::UpdateProvider {
                                id: id.clone(),
                                name: form.name.trim().to_string(),
                                settings,
                                concurrency,
                            },
                            None => Action::AddProvider {
                                name: form.name.trim().to_string(),
                                kind: ProviderKind::Local,
                                settings,
                                concurrency,
                            },
                        });
                        close = true;
                    }
                    Err(e) => form.error = Some(e),
                }
            }
            if ui.button("Cancel").clicked() {
                close = true;
            }
        });
        if close {
            self.form = None;
        }
        action
    }
}

/// Checks the form; returns the settings and concurrency to store.
fn validate(form: &Form) -> Result<(serde_json::Value, i64), String> {
    if form.name.trim().is_empty() {
        return Err("Give the provider a name.".into());
    }
    let concurrency: i64 = form
        .concurrency
        .trim()
        .parse()
        .ok()
        .filter(|n| (1..=64).contains(n))
        .ok_or("Parallel transfers must be a number from 1 to 64.")?;
    let root = std::path::PathBuf::from(form.root.trim());
    if !root.is_absolute() {
        return Err("The folder must be a full path, like /media/backup.".into());
    }
    crate::providers::check_local_root(form.name.trim(), &root).map_err(|f| f.message)?;
    Ok((serde_json::json!({ "root": root }), concurrency))
}
