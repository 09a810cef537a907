//! The Watched folders window (File → Watched folders…): every watched
//! folder with its state in words (watching, scanning, waiting and why,
//! paused, not watched now), how many files were taken from it and when it
//! was last scanned; Add folder… (the folder picker), Pause or Resume and
//! Remove per folder. What `breakdex watch` shows and changes, read again
//! every 2 s while the window is open, through the model thread.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use egui::RichText;

use super::format;
use super::model::{Action, answer_on};
use crate::watch::{Listed, Listing};

/// How often the open window reads the folders' states again.
const READ_EVERY: Duration = Duration::from_secs(2);

/// The window, when open.
#[derive(Default)]
pub struct WatchedWindow {
    state: Option<State>,
}

struct State {
    listing: Option<Result<Listing, String>>,
    reading: Option<Receiver<Result<Listing, String>>>,
    read_at: Instant,
    changing: Option<Receiver<Result<String, String>>>,
    said: Option<Result<String, String>>,
}

/// What the window asks of the app.
pub enum Asked {
    /// A change for the model thread.
    Act(Box<Action>),
    /// The folder picker, for a folder to watch.
    PickFolder,
}

impl WatchedWindow {
    pub fn is_open(&self) -> bool {
        self.state.is_some()
    }

    /// Opens the window; the action returned reads what it shows.
    pub fn open(&mut self) -> Action {
        let (reply, answer) = mpsc::channel();
        self.state = Some(State {
            listing: None,
            reading: Some(answer),
            read_at: Instant::now(),
            changing: None,
            said: None,
        });
        Action::ReadWatched(reply)
    }

    pub fn close(&mut self) {
        self.state = None;
    }

    /// A change the app made for the window (a folder picked to watch):
    /// its answer shows in the window.
    pub fn changing(&mut self) -> Option<super::model::Reply> {
        let state = self.state.as_mut()?;
        let (reply, answer) = mpsc::channel();
        state.changing = Some(answer);
        state.said = None;
        Some(reply)
    }

    /// Draws the window; returns what it asks for.
    pub fn show(&mut self, ctx: &egui::Context) -> Vec<Asked> {
        let mut asked = Vec::new();
        let Some(state) = self.state.as_mut() else {
            return asked;
        };
        if let Some(read) = state.reading.as_ref().and_then(answer_on) {
            state.listing = Some(read);
            state.reading = None;
        }
        if let Some(said) = state.changing.as_ref().and_then(answer_on) {
            state.said = Some(said);
            state.changing = None;
            // What changed shows at once.
            state.read_at = Instant::now() - READ_EVERY;
        }
        if state.reading.is_none() && state.read_at.elapsed() >= READ_EVERY {
            let (reply, answer) = mpsc::channel();
            state.reading = Some(answer);
            state.read_at = Instant::now();
            asked.push(Asked::Act(Box::new(Action::ReadWatched(reply))));
        }
        let mut open = true;
        super::app::settings_window("Watched folders", ctx)
            .open(&mut open)
            .show(ctx, |ui| {
                ui.set_min_width(520.0);
                ui.label(
                    "New and changed files in these folders are added and uploaded while \
                     Breakdex is open. Deleted files keep their copies.",
                );
                ui.add_space(4.0);
                match &state.listing {
                    None => {
                        ui.horizontal(|ui| {
                            ui.spinner();
                            ui.label("reading the watched folders…");
                        });
                    }
                    Some(Err(e)) => {
                        ui.label(RichText::new(e).color(ui.visuals().error_fg_color));
                    }
                    Some(Ok(listing)) if listing.folders.is_empty() => {
                        ui.label(RichText::new("No folder is watched yet.").weak());
                    }
                    Some(Ok(listing)) => {
                        for listed in &listing.folders {
                            ui.separator();
                            if let Some(action) = folder_row(ui, listed, listing.watched_now) {
                                let (reply, answer) = mpsc::channel();
                                state.changing = Some(answer);
                                state.said = None;
                                asked.push(Asked::Act(Box::new(action(reply))));
                            }
                        }
                    }
                }
                ui.separator();
                ui.horizontal(|ui| {
                    if ui
                        .add_enabled(state.changing.is_none(), egui::Button::new("Add folder…"))
                        .clicked()
                    {
                        asked.push(Asked::PickFolder);
                    }
                    match &state.said {
                        Some(Ok(line)) => {
                            ui.label(line);
                        }
                        Some(Err(e)) => {
                            ui.label(RichText::new(e).color(ui.visuals().error_fg_color));
                        }
                        None => {}
                    }
                });
            });
        if !open {
            self.state = None;
        } else {
            // The answers come from another thread, and the states change
            // on their own: look again.
            ctx.request_repaint_after(Duration::from_millis(200));
        }
        asked
    }
}

/// A change asked for one folder, once its reply channel is given.
type Change = Box<dyn FnOnce(super::model::Reply) -> Action>;

/// One folder: its path, state, counts and buttons.
fn folder_row(ui: &mut egui::Ui, listed: &Listed, watched_now: bool) -> Option<Change> {
    let f = &listed.folder;
    let mut change: Option<Change> = None;
    ui.horizontal(|ui| {
        ui.label(RichText::new(&f.path).strong());
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            let id = f.id;
            if ui.button("Remove").on_hover_text(
                "Stop watching it; what was added from it stays in the library, with its copies",
            ).clicked() {
                change = Some(Box::new(move |reply| Action::StopWatching { id, reply }));
            }
            let (label, paused) = if f.paused {
                ("Resume", false)
            } else {
                ("Pause", true)
            };
            if ui.button(label).clicked() {
                change = Some(Box::new(move |reply| Action::SetWatchPaused {
                    id,
                    paused,
                    reply,
                }));
            }
        });
    });
    let state = listed.state_words(watched_now);
    let color = match state {
        "waiting" => ui.visuals().warn_fg_color,
        "watching" => ui.visuals().text_color(),
        _ => ui.visuals().weak_text_color(),
    };
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(state).color(color));
        ui.label(format!(
            "· {} files ({}) · to {} · last scanned {}",
            crate::library::thousands(listed.files as usize),
            format::bytes(listed.bytes as i64),
            listed.destination(),
            match f.scanned_at.as_deref() {
                Some(at) => format::timestamp(Some(at)),
                None => "never".into(),
            },
        ));
    });
    if let Some(problem) = &f.problem {
        ui.label(RichText::new(problem).color(color));
    }
    change
}

/// The folder picker's answer: the folder to watch.
pub fn watch_action(dir: PathBuf, reply: super::model::Reply) -> Action {
    Action::WatchFolder {
        dir,
        seen: Vec::new(),
        reply,
    }
}
