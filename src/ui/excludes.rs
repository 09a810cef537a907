//! The exclude rules window: the library's list of patterns that adds,
//! drops and watched folders leave out (what `breakdex exclude` keeps), one
//! gitignore pattern per line, checked as it is typed. Reading and saving
//! go through the model thread.

use std::sync::mpsc::{self, Receiver};

use egui::RichText;

use super::model::{Action, answer_on};
use crate::library::exclude::{IGNORE_FILE, check_pattern};

/// The window, when open.
#[derive(Default)]
pub struct ExcludeEditor {
    state: Option<State>,
}

enum State {
    /// Waiting for the list.
    Reading(Receiver<Result<Vec<String>, String>>),
    Editing(Editing),
}

struct Editing {
    text: String,
    /// What is wrong with the lines of `text`, as it was when checked.
    problems: Vec<String>,
    checked: Option<String>,
    /// A save sent, its answer not yet in.
    saving: Option<Receiver<Result<String, String>>>,
    error: Option<String>,
}

impl Editing {
    fn new(text: String, error: Option<String>) -> Editing {
        let mut editing = Editing {
            text,
            problems: Vec::new(),
            checked: None,
            saving: None,
            error,
        };
        editing.check();
        editing
    }

    /// Checks each line again if the text changed.
    fn check(&mut self) {
        if self.checked.as_ref() == Some(&self.text) {
            return;
        }
        self.problems = (self.text.lines().enumerate())
            .filter(|(_, line)| !line.trim().is_empty())
            .filter_map(|(i, line)| {
                check_pattern(line)
                    .err()
                    .map(|e| format!("line {}: {e}", i + 1))
            })
            .collect();
        self.checked = Some(self.text.clone());
    }

    /// A save of `patterns`, its answer awaited.
    fn save(&mut self, patterns: Option<Vec<String>>) -> Action {
        let (reply, answer) = mpsc::channel();
        self.saving = Some(answer);
        self.error = None;
        Action::SaveExcludes { patterns, reply }
    }
}

impl ExcludeEditor {
    pub fn is_open(&self) -> bool {
        self.state.is_some()
    }

    /// Opens the window; the action returned reads the list into it.
    pub fn open(&mut self) -> Action {
        let (reply, answer) = mpsc::channel();
        self.state = Some(State::Reading(answer));
        Action::ReadExcludes(reply)
    }

    /// Draws the window; returns a save to send, if one was asked for.
    pub fn show(&mut self, ctx: &egui::Context) -> Option<Action> {
        let state = self.state.as_mut()?;
        if let State::Reading(answer) = state {
            match answer_on(answer) {
                Some(Ok(list)) => *state = State::Editing(Editing::new(list.join("\n"), None)),
                Some(Err(e)) => *state = State::Editing(Editing::new(String::new(), Some(e))),
                None => {}
            }
        }
        if let State::Editing(editing) = state
            && let Some(answer) = &editing.saving
        {
            match answer_on(answer) {
                Some(Ok(_)) => {
                    self.state = None;
                    return None;
                }
                Some(Err(e)) => {
                    editing.error = Some(e);
                    editing.saving = None;
                }
                None => {}
            }
        }
        let mut open = true;
        let mut action = None;
        let mut cancelled = false;
        super::app::settings_window("Exclude rules", ctx)
            .open(&mut open)
            .show(ctx, |ui| {
                ui.set_max_width(460.0);
                ui.label(
                    "Files and folders these patterns match are left out of what is added, \
                     dropped or found in a watched folder. One pattern per line, as in a \
                     .gitignore: `*.tmp` anywhere, `cache/` folders only, `2026/raw/` that \
                     path of what was added, `!keep.tmp` takes one back (a later line wins).",
                );
                ui.label(
                    RichText::new(format!(
                        "A {IGNORE_FILE} file in a folder adds rules for what is below it."
                    ))
                    .weak(),
                );
                ui.add_space(4.0);
                let State::Editing(editing) = state else {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label("reading the library's rules…");
                    });
                    return;
                };
                let label = ui.label("Patterns, one per line");
                ui.add(
                    egui::TextEdit::multiline(&mut editing.text)
                        .code_editor()
                        .desired_rows(12)
                        .desired_width(f32::INFINITY)
                        .hint_text("no patterns: nothing is left out"),
                )
                .labelled_by(label.id);
                editing.check();
                for problem in editing.problems.iter().chain(&editing.error) {
                    ui.label(RichText::new(problem).color(ui.visuals().error_fg_color));
                }
                ui.add_space(4.0);
                let idle = editing.saving.is_none();
                ui.horizontal(|ui| {
                    let can_save = idle && editing.problems.is_empty();
                    if ui
                        .add_enabled(can_save, egui::Button::new("Save"))
                        .clicked()
                    {
                        let list = editing.text.lines().map(str::to_string).collect();
                        action = Some(editing.save(Some(list)));
                    }
                    if ui
                        .add_enabled(idle, egui::Button::new("Default list"))
                        .on_hover_text("Put back the patterns a new library starts with")
                        .clicked()
                    {
                        action = Some(editing.save(None));
                    }
                    if ui.button("Cancel").clicked() {
                        cancelled = true;
                    }
                    if !idle {
                        ui.spinner();
                    }
                });
            });
        if !open || cancelled {
            self.state = None;
        }
        if self.state.as_ref().is_some_and(|s| match s {
            State::Reading(_) => true,
            State::Editing(e) => e.saving.is_some(),
        }) {
            // The answer comes from another thread, which does not wake us.
            ctx.request_repaint_after(std::time::Duration::from_millis(50));
        }
        action
    }
}
