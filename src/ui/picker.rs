//! Choosing files to add, and a folder to restore into, to watch or to
//! save the recovery sheet in: the desktop's own
//! dialog (the XDG desktop portal, else zenity, through rfd, on a thread of
//! its own since it blocks), and where the desktop has neither, a dialog
//! drawn by egui (egui_file), so that choosing always works.
//!
//! rfd answers `None` to a multiple pick only when no dialog could be shown
//! (a cancel is an empty list), which is how the fallback knows.

use std::path::PathBuf;
use std::sync::mpsc::Receiver;

use super::model::Restoring;
use super::notices::Notice;

/// What the files or folder are chosen for.
#[derive(Clone, Debug, PartialEq)]
pub enum Purpose {
    AddFiles,
    /// Restore these assets into it.
    RestoreInto(Restoring),
    /// A folder to watch.
    WatchFolder,
    /// A folder to write the recovery sheet (the library's key) into.
    RecoverySheet,
}

/// What was chosen.
#[derive(Debug, PartialEq)]
pub enum Picked {
    Files(Vec<PathBuf>),
    Folder(Restoring, PathBuf),
    WatchFolder(PathBuf),
    RecoverySheet(PathBuf),
}

/// The dialog open now, if any.
#[derive(Default)]
pub struct Picker {
    /// The desktop's dialog, running; `None` from it means it has none.
    asked: Option<(Purpose, Receiver<Option<Vec<PathBuf>>>)>,
    /// Breakdex's own dialog, shown.
    drawn: Option<(Purpose, egui_file::FileDialog)>,
    /// The desktop was found to have no dialog: the next pick goes straight
    /// to Breakdex's own.
    pub desktop_has_none: bool,
}

impl Picker {
    /// Whether a dialog is open.
    pub fn busy(&self) -> bool {
        self.asked.is_some() || self.drawn.is_some()
    }

    /// Opens a dialog for `purpose` (nothing if one is open already).
    pub fn open(&mut self, purpose: Purpose, ctx: &egui::Context) {
        if self.busy() {
            return;
        }
        if self.desktop_has_none {
            self.draw(purpose);
            return;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let waker = ctx.clone();
        let (title, folders) = (purpose.title(), purpose != Purpose::AddFiles);
        std::thread::spawn(move || {
            let dialog = rfd::FileDialog::new().set_title(title);
            let picked = if folders {
                dialog.pick_folders()
            } else {
                dialog.pick_files()
            };
            let _ = tx.send(picked);
            waker.request_repaint();
        });
        self.asked = Some((purpose, rx));
    }

    fn draw(&mut self, purpose: Purpose) {
        let mut dialog = match purpose {
            Purpose::AddFiles => egui_file::FileDialog::open_file().multi_select(true),
            Purpose::RestoreInto(_) | Purpose::WatchFolder | Purpose::RecoverySheet => {
                egui_file::FileDialog::select_folder()
            }
        }
        .title(purpose.title());
        if let Some(home) = std::env::var_os("HOME") {
            dialog = dialog.initial_path(home);
        }
        dialog.open();
        self.drawn = Some((purpose, dialog));
    }

    /// Takes the desktop dialog's answer and draws Breakdex's own; returns
    /// what was chosen, and the notice to give when the desktop turned out
    /// to have no dialog.
    pub fn show(&mut self, ctx: &egui::Context) -> (Option<Picked>, Option<Notice>) {
        let mut notice = None;
        if let Some((_, rx)) = &self.asked
            && let Ok(answer) = rx.try_recv()
        {
            let (purpose, _) = self.asked.take().expect("asked");
            match answer {
                Some(paths) => return (picked(purpose, paths), None),
                None => {
                    self.desktop_has_none = true;
                    notice = Some(Notice {
                        title: "This desktop has no file dialog".into(),
                        body: "Neither the XDG desktop portal nor zenity answered, so \
                               Breakdex shows its own. Installing \
                               xdg-desktop-portal-gtk (or zenity) brings back the usual one."
                            .into(),
                        failure: false,
                        at: std::time::Instant::now(),
                    });
                    self.draw(purpose);
                }
            }
        }
        let Some((_, dialog)) = &mut self.drawn else {
            return (None, notice);
        };
        dialog.show(ctx);
        match dialog.state() {
            egui_file::State::Open => (None, notice),
            egui_file::State::Selected => {
                let mut paths: Vec<PathBuf> =
                    dialog.selection().into_iter().map(PathBuf::from).collect();
                if paths.is_empty() {
                    paths.extend(dialog.path().map(PathBuf::from));
                }
                let (purpose, _) = self.drawn.take().expect("drawn");
                (picked(purpose, paths), notice)
            }
            egui_file::State::Closed | egui_file::State::Cancelled => {
                self.drawn = None;
                (None, notice)
            }
        }
    }
}

impl Purpose {
    fn title(&self) -> &'static str {
        match self {
            Purpose::AddFiles => "Add files to Breakdex",
            Purpose::RestoreInto(_) => "Restore to folder",
            Purpose::WatchFolder => "Watch a folder",
            Purpose::RecoverySheet => "Save the recovery sheet into a folder",
        }
    }
}

/// The paths chosen for `purpose`; nothing when none was (a cancel).
fn picked(purpose: Purpose, mut paths: Vec<PathBuf>) -> Option<Picked> {
    match purpose {
        _ if paths.is_empty() => None,
        Purpose::AddFiles => Some(Picked::Files(paths)),
        Purpose::RestoreInto(what) => Some(Picked::Folder(what, paths.swap_remove(0))),
        Purpose::WatchFolder => Some(Picked::WatchFolder(paths.swap_remove(0))),
        Purpose::RecoverySheet => Some(Picked::RecoverySheet(paths.swap_remove(0))),
    }
}
