//! The application: menu, toolbar, tabs, filters, the grid, the status bar,
//! drops, notices, and the small windows (providers, error details,
//! priority, shortcuts, about). Keys, menus and buttons all end in
//! [`App::command`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use egui::{Align2, Color32, RichText};

use super::assets::{self, AssetRequest, AssetSpec, AssetsHandle, health_index};
use super::assets_grid::{self, AssetEvent};
use super::excludes::ExcludeEditor;
use super::format;
use super::grid::{self, GridEvent};
use super::health_settings::HealthSettings;
use super::history::HistoryWindow;
use super::import::{self, ImportProgress};
use super::menu;
use super::model::{self, Action, ModelHandle, Request, Restoring, Snapshot, Tab, ViewSpec};
use super::notices::{self, Notices};
use super::picker::{Picked, Picker, Purpose};
use super::providers::ProvidersPanel;
use super::shortcuts::{self, Command};
use super::watched::{Asked, WatchedWindow};
use crate::bandwidth::Rates;
use crate::engine::{self, Control, EngineConfig, EngineHandle};
use crate::setup;
use crate::store::{Health, OpState};

/// Which of the two views fills the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum View {
    /// The queue of operations.
    #[default]
    Queue,
    /// The library's assets and their health.
    Assets,
}

/// The Breakdex window.
pub struct App {
    db: PathBuf,
    pub model: ModelHandle,
    pub assets: AssetsHandle,
    /// The view shown.
    pub view: View,
    /// What the Assets grid should show, its selection (by content hash),
    /// its anchor and the window last asked of its model.
    asset_spec: AssetSpec,
    pub asset_selected: HashSet<String>,
    asset_anchor: Option<usize>,
    asset_window_asked: (usize, usize),
    health_settings: HealthSettings,
    excludes: ExcludeEditor,
    history: HistoryWindow,
    watched: WatchedWindow,
    /// The folders of the last drop that held some, with its "Keep
    /// watching this folder" checkbox.
    watch_offer: Option<WatchOffer>,
    engine: Option<EngineHandle>,
    /// The library's pause as this window shows it, and as the model last
    /// read it from the library.
    paused: bool,
    paused_seen: bool,
    /// What the grid should show; sent to the model when it changes.
    spec: ViewSpec,
    /// Selected ops, by id, and the row last clicked (for shift-click).
    pub selected: HashSet<String>,
    anchor: Option<usize>,
    imports: Vec<Arc<ImportProgress>>,
    /// Problems of finished imports, until dismissed.
    import_problems: Vec<String>,
    /// The file or folder dialog open, if any.
    pub picker: Picker,
    providers: ProvidersPanel,
    /// An op's error shown in full: (title, message).
    details: Option<(String, String)>,
    /// Ops whose priority is being set, and the text typed.
    /// The ops, the priority typed, and whether the field got its focus.
    priority_dialog: Option<(Vec<String>, String, bool)>,
    /// A cancel or removal of several ops, waiting for the person to confirm.
    pub confirm: Option<Action>,
    /// The window last asked of the model.
    window_asked: (usize, usize),
    pub help_open: bool,
    about_open: bool,
    /// Put the cursor in the search field at the next frame.
    focus_search: bool,
    pub notices: Notices,
    /// What the window just did that shows nowhere else ("hash copied"),
    /// said in the status bar for a few seconds.
    told: Option<(String, Instant)>,
    /// What the last import that ended did (`ImportProgress::summary`),
    /// said in the status bar until the next one.
    last_import: Option<String>,
    ctx: egui::Context,
}

/// A drop of folders: "Keep watching this folder", ticked or not; once the
/// drop's import has ended, a tick watches them, and what the import hashed
/// is not hashed again.
struct WatchOffer {
    folders: Vec<PathBuf>,
    import: Arc<ImportProgress>,
    ticked: bool,
    sent: bool,
}

/// How long the status bar says what the window just did.
const TOLD_FOR: Duration = Duration::from_secs(4);

/// egui's light theme draws a text field white on a near-white window
/// (255 on 248) with no outline: a person cannot see where to type. Widgets
/// at rest get a thin grey outline there (a field, a button, a checkbox).
fn outline_light_fields(ctx: &egui::Context) {
    ctx.style_mut_of(egui::Theme::Light, |s| {
        s.visuals.widgets.inactive.bg_stroke =
            egui::Stroke::new(1.0, egui::Color32::from_gray(190));
    });
}

/// A dialog opening centred over the window (it can still be moved).
fn centred<'a>(window: egui::Window<'a>, ctx: &egui::Context) -> egui::Window<'a> {
    window
        .pivot(egui::Align2::CENTER_CENTER)
        .default_pos(ctx.content_rect().center())
}

/// A settings window: centred, of the size of what it holds.
pub(super) fn settings_window(title: &str, ctx: &egui::Context) -> egui::Window<'static> {
    centred(egui::Window::new(title.to_owned()), ctx)
        .collapsible(false)
        .resizable(false)
}

impl App {
    /// Opens the library at `db`. With `engine: Some(paused)` it also runs
    /// the queue (starting paused if asked); tests pass `None`.
    pub fn new(db: &Path, engine: Option<bool>, ctx: &egui::Context) -> anyhow::Result<App> {
        let store = setup::open_library(db)?;
        drop(store);
        outline_light_fields(ctx);
        let waker = ctx.clone();
        let model = model::start(db.to_owned(), move || waker.request_repaint())?;
        let waker = ctx.clone();
        let assets = assets::start(db.to_owned(), move || waker.request_repaint())?;
        let paused = engine == Some(true);
        let engine = match engine {
            Some(paused) => {
                let config = EngineConfig::new(db, &setup::library_dir(db));
                let handle = engine::start(config)?;
                if paused {
                    handle.send(Control::Pause);
                }
                Some(handle)
            }
            None => None,
        };
        Ok(App {
            db: db.to_owned(),
            model,
            assets,
            view: View::Queue,
            asset_spec: AssetSpec::default(),
            asset_selected: HashSet::new(),
            asset_anchor: None,
            asset_window_asked: (0, 0),
            health_settings: HealthSettings::default(),
            excludes: ExcludeEditor::default(),
            history: HistoryWindow::default(),
            watched: WatchedWindow::default(),
            watch_offer: None,
            engine,
            paused,
            paused_seen: false,
            spec: ViewSpec::default(),
            selected: HashSet::new(),
            anchor: None,
            imports: Vec::new(),
            import_problems: Vec::new(),
            picker: Picker::default(),
            providers: ProvidersPanel::default(),
            details: None,
            priority_dialog: None,
            confirm: None,
            window_asked: (0, 0),
            help_open: false,
            about_open: false,
            focus_search: false,
            notices: Notices::default(),
            told: None,
            last_import: None,
            ctx: ctx.clone(),
        })
    }

    /// Imports files and folders (what a drop or "Add files…" does).
    pub fn import(&mut self, paths: Vec<PathBuf>) {
        if paths.is_empty() {
            return;
        }
        let folders: Vec<PathBuf> = paths.iter().filter(|p| p.is_dir()).cloned().collect();
        let waker = self.ctx.clone();
        let progress = import::start(self.db.clone(), paths, move || waker.request_repaint());
        self.watch_offer = (!folders.is_empty()).then(|| WatchOffer {
            folders,
            import: progress.clone(),
            ticked: false,
            sent: false,
        });
        self.imports.push(progress);
    }

    /// The drop's folders are watched once it is ticked and its import
    /// ended.
    fn keep_watching(&mut self) {
        let Some(offer) = self
            .watch_offer
            .as_mut()
            .filter(|o| o.ticked && !o.sent && o.import.finished.load(Ordering::SeqCst))
        else {
            return;
        };
        offer.sent = true;
        let seen =
            std::mem::take(&mut *offer.import.seen.lock().unwrap_or_else(|e| e.into_inner()));
        for dir in offer.folders.clone() {
            let (reply, _) = std::sync::mpsc::channel();
            self.model.send(Request::Act(Action::WatchFolder {
                dir,
                seen: seen.clone(),
                reply,
            }));
        }
    }

    /// Whether imports are still running.
    pub fn importing(&self) -> bool {
        self.imports
            .iter()
            .any(|p| !p.finished.load(Ordering::SeqCst))
    }

    /// The view the grid asks for.
    pub fn spec(&self) -> &ViewSpec {
        &self.spec
    }

    fn set_spec(&mut self, spec: ViewSpec) {
        if spec != self.spec {
            self.spec = spec;
            self.model.send(Request::View(self.spec.clone()));
        }
    }

    /// The Assets grid's view; sent to its model when it changes.
    pub fn asset_spec(&self) -> &AssetSpec {
        &self.asset_spec
    }

    fn set_asset_spec(&mut self, spec: AssetSpec) {
        if spec != self.asset_spec {
            self.asset_spec = spec;
            self.assets
                .send(AssetRequest::View(self.asset_spec.clone()));
        }
    }

    /// Shows the queue or the assets.
    pub fn show_view(&mut self, view: View) {
        if view != self.view {
            self.view = view;
            self.assets.send(AssetRequest::Shown(view == View::Assets));
        }
    }

    fn act(&mut self, action: Action) {
        self.model.send(Request::Act(action));
    }

    /// Does `action`, but a cancel or removal of several ops asks first.
    fn act_or_ask(&mut self, action: Action) {
        match &action {
            Action::Cancel(ids) | Action::Remove(ids) if ids.len() > 1 => {
                self.confirm = Some(action);
            }
            _ => self.act(action),
        }
    }

    /// Does what a key, a menu entry or a toolbar button asked for.
    pub fn command(&mut self, command: Command) {
        let selected = || self.selected.iter().cloned().collect::<Vec<String>>();
        match command {
            Command::AddFiles => self.picker.open(Purpose::AddFiles, &self.ctx),
            Command::History => {
                let read = self.history.open();
                self.act(read);
            }
            Command::ExcludeRules => {
                let read = self.excludes.open();
                self.act(read);
            }
            Command::WatchedFolders => {
                let read = self.watched.open();
                self.act(read);
            }
            Command::RestoreAll => self
                .picker
                .open(Purpose::RestoreInto(Restoring::All), &self.ctx),
            Command::PauseResume => {
                // The library's pause: this window's engine at once, any
                // other engine of the library at its next look.
                self.paused = !self.paused;
                match &self.engine {
                    Some(engine) => engine.send(if self.paused {
                        Control::Pause
                    } else {
                        Control::Resume
                    }),
                    None => self.act(Action::SetPaused(self.paused)),
                }
            }
            Command::RetryAllFailed => self.act(Action::RetryAllFailed),
            Command::Providers => self.providers.open = !self.providers.open,
            Command::FocusSearch => self.focus_search = true,
            Command::SwitchView => self.show_view(match self.view {
                View::Queue => View::Assets,
                View::Assets => View::Queue,
            }),
            Command::ShowTab(tab) => {
                self.show_view(View::Queue);
                let spec = ViewSpec {
                    tab,
                    ..self.spec.clone()
                };
                self.set_spec(spec);
            }
            Command::Help => self.help_open = !self.help_open,
            Command::About => self.about_open = !self.about_open,
            Command::OpenDataFolder => {
                if let Some(dir) = self.db.parent().map(Path::to_path_buf) {
                    self.open_folder(&dir);
                }
            }
            Command::OpenLogFolder => {
                let dir = crate::logs::log_dir();
                let _ = std::fs::create_dir_all(&dir);
                self.open_folder(&dir);
            }
            Command::Quit => self.ctx.send_viewport_cmd(egui::ViewportCommand::Close),
            Command::RetryNow => self.act(Action::RetryNow(selected())),
            Command::Cancel => self.act_or_ask(Action::Cancel(selected())),
            Command::Remove => self.act_or_ask(Action::Remove(selected())),
            Command::PriorityUp => self.act(Action::BumpPriority(selected(), 1)),
            Command::PriorityDown => self.act(Action::BumpPriority(selected(), -1)),
            Command::SetPriority => self.ask_priority(selected()),
            Command::CopyHashes => {
                let hashes: Vec<String> = self
                    .model
                    .snapshot
                    .rows
                    .iter()
                    .filter(|r| self.selected.contains(&r.id))
                    .map(|r| r.content_hash.clone())
                    .collect();
                self.ctx.copy_text(hashes.join("\n"));
            }
        }
    }

    /// Offers to copy the library to a provider just added.
    fn copy_offer(&mut self, ctx: &egui::Context) {
        let Some(offer) = self.model.snapshot.offer.clone() else {
            return;
        };
        let mut answer = None;
        egui::Window::new("Copy the library?")
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
            .show(ctx, |ui| {
                ui.label(format!(
                    "Copy the existing {} asset{}, {}, to {}?",
                    offer.assets,
                    if offer.assets == 1 { "" } else { "s" },
                    format::bytes(offer.bytes),
                    offer.provider
                ));
                ui.label(
                    RichText::new("New files are uploaded to it in any case.")
                        .small()
                        .weak(),
                );
                ui.horizontal(|ui| {
                    if ui.button("Copy them").clicked() {
                        answer = Some(Action::CopyLibrary(offer.provider_id.clone()));
                    }
                    if ui.button("Not now").clicked() {
                        answer = Some(Action::DeclineCopy);
                    }
                });
            });
        if let Some(action) = answer {
            // Answered: the dialog goes at once, before the model's next word.
            self.model.snapshot.offer = None;
            self.act(action);
        }
    }

    /// Opens Set priority on `ids`, filled with the priority of the first
    /// of them shown (so +1 is a keystroke away).
    fn ask_priority(&mut self, ids: Vec<String>) {
        let current = (self.model.snapshot.rows.iter())
            .find(|r| ids.contains(&r.id))
            .map(|r| r.priority.to_string())
            .unwrap_or_default();
        self.priority_dialog = Some((ids, current, false));
    }

    /// Asks before cancelling or removing several ops.
    fn confirm_dialog(&mut self, ctx: &egui::Context) {
        let Some(action) = &self.confirm else {
            return;
        };
        let (verb, n, what) = match action {
            Action::Cancel(ids) => (
                "Cancel",
                ids.len(),
                "They stop, and stay in the queue as cancelled (\"Retry now\" runs them again).",
            ),
            Action::Remove(ids) => (
                "Remove",
                ids.len(),
                "They leave the queue and its history; copies already made stay.",
            ),
            _ => return,
        };
        let mut answer = None;
        egui::Window::new(format!("{verb} {n} operations?"))
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
            .show(ctx, |ui| {
                ui.label(what);
                ui.horizontal(|ui| {
                    if ui.button(format!("{verb} {n} operations")).clicked() {
                        answer = Some(true);
                    }
                    if ui.button("Keep them").clicked() {
                        answer = Some(false);
                    }
                });
            });
        match answer {
            Some(true) => {
                if let Some(action) = self.confirm.take() {
                    self.act(action);
                }
            }
            Some(false) => self.confirm = None,
            None => {}
        }
    }

    /// Esc closes the window on top (a question, which it answers "no", a
    /// dialog, Help, About) and goes no further, so closing Help never
    /// cancels the selected ops; over the providers window or a file dialog
    /// it does nothing (a half-typed form is not thrown away). Only with no
    /// window open does it reach the rows.
    fn escape_closes_a_window(&mut self, ctx: &egui::Context) {
        let open = [
            self.confirm.is_some(),
            self.priority_dialog.is_some(),
            self.details.is_some(),
            !self.import_problems.is_empty(),
            self.help_open,
            self.about_open,
            self.health_settings.is_open(),
            self.excludes.is_open(),
            self.history.is_open(),
            self.watched.is_open(),
            self.providers.open,
            self.picker.busy(),
        ];
        if !open.contains(&true)
            || !ctx.input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::Escape))
        {
            return;
        }
        if self.confirm.take().is_some() || self.priority_dialog.take().is_some() {
            return;
        }
        if self.details.take().is_some() {
            return;
        }
        if !self.import_problems.is_empty() {
            self.import_problems.clear();
        } else if self.health_settings.is_open() {
            self.health_settings.close();
        } else if self.history.is_open() {
            self.history.close();
        } else if self.watched.is_open() {
            self.watched.close();
        } else if self.help_open {
            self.help_open = false;
        } else {
            self.about_open = false;
        }
    }

    /// Restores the assets of `ops` (every asset with `None`) into `into`,
    /// each at every path it was added under (what "Restore to…" does once
    /// the folder is picked).
    pub fn restore_to(&mut self, what: Restoring, into: PathBuf) {
        self.act(Action::Restore { what, into });
    }

    fn toolbar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            if ui
                .button("➕ Add files…")
                .on_hover_text("Choose files to back up (or drop files and folders on the window)")
                .clicked()
            {
                self.command(Command::AddFiles);
            }
            let (label, hover) = if self.paused {
                ("▶ Resume", "Let every engine of this library go on")
            } else {
                (
                    "⏸ Pause",
                    "Stop every transfer of this library within a second, this window's \
                     and command-line runs' alike; uploads to a local folder go on from \
                     where they stopped",
                )
            };
            if ui.button(label).on_hover_text(hover).clicked() {
                self.command(Command::PauseResume);
            }
            let failed = self.model.snapshot.permanently_failed;
            if ui
                .add_enabled(failed > 0, egui::Button::new("⟳ Retry all failed"))
                .clicked()
            {
                self.command(Command::RetryAllFailed);
            }
            if ui.button("🗄 Providers").clicked() {
                self.command(Command::Providers);
            }
            ui.separator();
            // The filters of the view shown.
            let (mut provider, mut text) = match self.view {
                View::Queue => (self.spec.provider.clone(), self.spec.text.clone()),
                View::Assets => (
                    self.asset_spec.provider.clone(),
                    self.asset_spec.text.clone(),
                ),
            };
            let providers = &self.model.snapshot.providers;
            let current = provider
                .as_ref()
                .and_then(|id| providers.iter().find(|p| &p.row.id == id))
                .map(|p| p.row.name.clone())
                .unwrap_or_else(|| "All providers".into());
            let label = ui.label("Provider:");
            egui::ComboBox::from_id_salt("provider-filter")
                .selected_text(current)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut provider, None, "All providers");
                    for p in providers {
                        ui.selectable_value(
                            &mut provider,
                            Some(p.row.id.clone()),
                            p.row.name.clone(),
                        );
                    }
                })
                .response
                .labelled_by(label.id);
            let label = ui.label("Search:");
            let search = ui
                .add(
                    egui::TextEdit::singleline(&mut text)
                        .hint_text("name, folder or hash")
                        .desired_width(220.0),
                )
                .labelled_by(label.id);
            if std::mem::take(&mut self.focus_search) {
                search.request_focus();
            }
            match self.view {
                View::Queue => self.set_spec(ViewSpec {
                    provider,
                    text,
                    ..self.spec.clone()
                }),
                View::Assets => self.set_asset_spec(AssetSpec {
                    provider,
                    text,
                    ..self.asset_spec.clone()
                }),
            }
        });
    }

    /// The switch between the queue and the assets, above everything else.
    fn view_switch(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let s = &self.assets.snapshot;
            let assets = if s.counting {
                "Assets (…)".to_string()
            } else {
                format!("Assets ({})", s.library_counts.iter().sum::<usize>())
            };
            let q = &self.model.snapshot;
            let queue = if q.loading {
                "Queue (…)".to_string()
            } else {
                format!("Queue ({})", q.tab_counts[0])
            };
            for (view, text, hover) in [
                (
                    View::Queue,
                    queue,
                    "The operations: uploads, verifies, downloads, deletes",
                ),
                (
                    View::Assets,
                    assets,
                    "Every asset of the library and how safe it is",
                ),
            ] {
                let text = RichText::new(text).heading();
                if ui
                    .selectable_label(self.view == view, text)
                    .on_hover_text(format!("{hover} (Ctrl+Shift+A switches)"))
                    .clicked()
                {
                    self.show_view(view);
                }
            }
        });
    }

    /// The Assets view's tabs: all, then one per health, each with its count.
    fn health_tabs(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let s = &self.assets.snapshot;
            let mut spec = self.asset_spec.clone();
            let tabs = std::iter::once((None, "All", s.total)).chain(
                Health::ALL
                    .iter()
                    .map(|h| (Some(*h), health_label(*h), s.counts[health_index(*h)])),
            );
            for (health, label, count) in tabs {
                let text = if s.loading {
                    format!("{label} (…)")
                } else {
                    format!("{label} ({count})")
                };
                if ui.selectable_label(spec.health == health, text).clicked() {
                    spec.health = health;
                }
            }
            self.set_asset_spec(spec);
            ui.separator();
            let s = &self.assets.snapshot;
            if ui
                .button(format!("⚙ Policy: {}", format::copies(s.policy.min_copies)))
                .on_hover_text("How many copies to keep, and how often to re-read them")
                .clicked()
            {
                self.health_settings.open(s.policy, s.scrub);
            }
        });
    }

    fn tabs(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let s = &self.model.snapshot;
            let mut spec = self.spec.clone();
            for (i, tab) in Tab::ALL.iter().enumerate() {
                // Until the whole queue is read, no count is shown as zero.
                let text = if s.loading {
                    format!("{} (…)", tab.label())
                } else {
                    match tab {
                        Tab::Queued if s.waiting > 0 => {
                            format!("Queued ({}, {} waiting)", s.tab_counts[i], s.waiting)
                        }
                        _ => format!("{} ({})", tab.label(), s.tab_counts[i]),
                    }
                };
                if ui.selectable_label(spec.tab == *tab, text).clicked() {
                    spec.tab = *tab;
                }
            }
            self.set_spec(spec);
        });
    }

    fn status_bar(&mut self, ui: &mut egui::Ui) {
        let s = &self.model.snapshot;
        let a = &self.assets.snapshot;
        let mut limit_action = None;
        // Wrapped: a narrow window shows the rest on a second line, never
        // cuts off "paused" or an offline provider at its end.
        ui.horizontal_wrapped(|ui| {
            ui.label(counts_line(s));
            ui.separator();
            ui.label(health_line(a)).on_hover_text(format!(
                "Copy health, by the policy of {} per asset",
                format::copies(a.policy.min_copies)
            ));
            ui.separator();
            ui.label(pace_line(s));
            if self.paused {
                ui.label(RichText::new("paused").color(ui.visuals().warn_fg_color));
            }
            limit_action = ui.push_id("limits", |ui| limits_menu(ui, s.limit)).inner;
            if !s.limit_problems.is_empty() {
                ui.label(RichText::new("⚠ timetable").color(ui.visuals().warn_fg_color))
                    .on_hover_text(s.limit_problems.join("\n"));
            }
            if let Some(p) = s
                .providers
                .iter()
                .find(|p| matches!(p.online, Some(Err(_))) && p.row.enabled)
            {
                ui.separator();
                ui.label(
                    RichText::new(format!("⚠ {} offline", p.row.name))
                        .color(ui.visuals().warn_fg_color),
                )
                .on_hover_text(p.online.clone().and_then(Result::err).unwrap_or_default());
            }
            for p in s.providers.iter().filter(|p| p.row.enabled) {
                if let Some((words, reason)) = &p.full {
                    ui.separator();
                    ui.label(
                        RichText::new(format!("⚠ {} {words}", p.row.name))
                            .color(ui.visuals().warn_fg_color),
                    )
                    .on_hover_text(format!(
                        "{reason}. Its uploads wait without spending their tries, \
                         and go on their own once it has room (looked at every minute)."
                    ));
                }
            }
            if let Some(line) = self
                .last_import
                .as_ref()
                .filter(|_| self.imports.is_empty())
            {
                ui.separator();
                ui.label(line);
            }
            if let Some(offer) = &mut self.watch_offer {
                ui.separator();
                let label = match offer.folders.as_slice() {
                    [one] => format!(
                        "Keep watching {}",
                        one.file_name().unwrap_or(one.as_os_str()).to_string_lossy()
                    ),
                    many => format!("Keep watching these {} folders", many.len()),
                };
                let shown: Vec<String> = offer
                    .folders
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect();
                // Its own id, whatever the status bar shows before it.
                ui.push_id("keep-watching", |ui| {
                    ui.add_enabled(!offer.sent, egui::Checkbox::new(&mut offer.ticked, label))
                        .on_hover_text(format!(
                            "New and changed files in {} are added and uploaded while \
                             Breakdex is open (File → Watched folders…)",
                            shown.join(", ")
                        ));
                });
            }
            for progress in &self.imports {
                if progress.finished.load(Ordering::SeqCst) {
                    continue;
                }
                let total = progress.bytes_total.load(Ordering::SeqCst).max(1);
                let done = progress.bytes_done.load(Ordering::SeqCst);
                ui.separator();
                ui.add(
                    egui::ProgressBar::new(done as f32 / total as f32)
                        .desired_width(160.0)
                        .text(format!(
                            "hashing {} of {} files",
                            progress.files_done.load(Ordering::SeqCst),
                            progress.files_total.load(Ordering::SeqCst)
                        )),
                )
                .on_hover_text(progress.summary());
            }
            if let Some((said, _)) = self.told.as_ref().filter(|(_, at)| at.elapsed() < TOLD_FOR) {
                ui.separator();
                ui.label(RichText::new(said).strong());
            } else {
                // The view shown speaks first.
                let (first, second) = match self.view {
                    View::Queue => ((&s.error, &s.notice), (&a.error, &a.notice)),
                    View::Assets => ((&a.error, &a.notice), (&s.error, &s.notice)),
                };
                if let Some(e) = first.0.as_ref().or(second.0.as_ref()) {
                    ui.separator();
                    ui.label(RichText::new(e).color(ui.visuals().error_fg_color));
                } else if let Some(n) = first.1.as_ref().or(second.1.as_ref()) {
                    ui.separator();
                    ui.label(n);
                }
            }
        });
        if let Some(action) = limit_action {
            self.act(action);
        }
    }

    /// Takes finished imports' problems and dialog results.
    fn collect_background(&mut self) {
        let mut problems = Vec::new();
        let last_import = &mut self.last_import;
        self.imports.retain(|p| {
            if p.finished.load(Ordering::SeqCst) {
                *last_import = Some(p.summary());
                problems.extend(
                    p.problems
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .drain(..),
                );
                false
            } else {
                true
            }
        });
        self.import_problems.extend(problems);
        self.keep_watching();
        if self.engine.as_ref().is_some_and(EngineHandle::is_finished)
            && let Some(Err(e)) = self.engine.take().map(EngineHandle::join)
        {
            self.import_problems
                .push(format!("the engine stopped: {e}"));
        }
    }

    fn drops(&mut self, ctx: &egui::Context) {
        let (hovering, dropped) = ctx.input(|i| {
            (
                !i.raw.hovered_files.is_empty(),
                i.raw
                    .dropped_files
                    .iter()
                    .map(|f| f.path().to_path_buf())
                    .filter(|p| !p.as_os_str().is_empty())
                    .collect::<Vec<_>>(),
            )
        });
        if !dropped.is_empty() {
            self.import(dropped);
        }
        if hovering {
            let painter = ctx.layer_painter(egui::LayerId::new(
                egui::Order::Foreground,
                egui::Id::unique("drop-target"),
            ));
            let rect = ctx.content_rect().shrink(12.0);
            painter.rect_filled(rect, 12.0, Color32::from_black_alpha(170));
            painter.rect_stroke(
                rect,
                12.0,
                egui::Stroke::new(3.0, Color32::from_rgb(90, 170, 255)),
                egui::StrokeKind::Inside,
            );
            painter.text(
                rect.center(),
                Align2::CENTER_CENTER,
                "Drop files or folders to back them up",
                egui::FontId::proportional(26.0),
                Color32::WHITE,
            );
        }
    }

    fn dialogs(&mut self, ctx: &egui::Context) {
        // The file dialog's answer, or Breakdex's own file dialog.
        let (picked, notice) = self.picker.show(ctx);
        if let Some(notice) = notice {
            self.notices.shown.push(notice);
        }
        match picked {
            Some(Picked::Files(paths)) => self.import(paths),
            Some(Picked::Folder(what, into)) => self.restore_to(what, into),
            Some(Picked::WatchFolder(dir)) => {
                let reply = self
                    .watched
                    .changing()
                    .unwrap_or_else(|| std::sync::mpsc::channel().0);
                self.act(super::watched::watch_action(dir, reply));
            }
            Some(Picked::RecoverySheet(dir)) => self.act(Action::SaveRecoverySheet(dir)),
            None => {}
        }
        if let Some((title, message)) = &self.details {
            let mut open = true;
            centred(egui::Window::new(title.clone()), ctx)
                .open(&mut open)
                .collapsible(false)
                .default_width(420.0)
                .show(ctx, |ui| {
                    ui.label(message.clone());
                    if ui.button("Copy").clicked() {
                        ctx.copy_text(message.clone());
                    }
                });
            if !open {
                self.details = None;
            }
        }
        if !self.import_problems.is_empty() {
            let mut open = true;
            centred(egui::Window::new("Some paths were not added"), ctx)
                .open(&mut open)
                .collapsible(false)
                .default_width(480.0)
                .show(ctx, |ui| {
                    egui::ScrollArea::vertical()
                        .max_height(240.0)
                        .show(ui, |ui| {
                            for p in &self.import_problems {
                                ui.label(p);
                            }
                        });
                });
            if !open {
                self.import_problems.clear();
            }
        }
        let mut done = None;
        if let Some((ids, text, focused)) = &mut self.priority_dialog {
            let mut open = true;
            centred(egui::Window::new("Set priority"), ctx)
                .open(&mut open)
                .collapsible(false)
                .show(ctx, |ui| {
                    ui.label(format!(
                        "Priority for {} op{} (higher runs first):",
                        ids.len(),
                        if ids.len() == 1 { "" } else { "s" }
                    ));
                    let edit = ui.text_edit_singleline(text);
                    if !std::mem::replace(focused, true) {
                        edit.request_focus();
                    }
                    let value = text.trim().parse::<i64>();
                    if value.is_err() && !text.trim().is_empty() {
                        ui.label(
                            RichText::new("a whole number, please")
                                .color(ui.visuals().error_fg_color),
                        );
                    }
                    let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                    if (ui
                        .add_enabled(value.is_ok(), egui::Button::new("Set"))
                        .clicked()
                        || enter)
                        && let Ok(v) = value
                    {
                        done = Some(Action::SetPriority(ids.clone(), v));
                    }
                });
            if !open {
                self.priority_dialog = None;
            }
        }
        if let Some(action) = done {
            self.priority_dialog = None;
            self.act(action);
        }
        self.confirm_dialog(ctx);
        self.copy_offer(ctx);
        if let Some(action) = self.health_settings.show(ctx) {
            self.assets.send(AssetRequest::Act(action));
        }
        if let Some(action) = self.excludes.show(ctx) {
            self.act(action);
        }
        if let Some(action) = self.history.show(ctx) {
            self.act(action);
        }
        for asked in self.watched.show(ctx) {
            match asked {
                Asked::Act(action) => self.act(*action),
                Asked::PickFolder => self.picker.open(Purpose::WatchFolder, &self.ctx),
            }
        }
        let snap = &self.model.snapshot;
        let scrubs = &self.assets.snapshot.providers;
        let actions = self
            .providers
            .show(ctx, &snap.providers, &snap.scans, scrubs);
        for action in actions {
            self.act(action);
        }
        if std::mem::take(&mut self.providers.pick_sheet_folder) {
            self.picker.open(Purpose::RecoverySheet, &self.ctx);
        }
    }

    fn apply(&mut self, events: Vec<GridEvent>) {
        for event in events {
            match event {
                GridEvent::Sort(key) => {
                    let mut spec = self.spec.clone();
                    if spec.sort == key {
                        spec.descending = !spec.descending;
                    } else {
                        spec.sort = key;
                        spec.descending = false;
                    }
                    self.set_spec(spec);
                }
                GridEvent::Click {
                    index,
                    id,
                    ctrl,
                    shift,
                } => grid::select(
                    &mut self.selected,
                    &mut self.anchor,
                    (
                        self.model.snapshot.window_start,
                        self.model.snapshot.rows.iter().map(|r| r.id.as_str()),
                    ),
                    index,
                    id,
                    ctrl,
                    shift,
                ),
                GridEvent::Act(action) => self.act_or_ask(action),
                GridEvent::AskPriority(ids) => self.ask_priority(ids),
                GridEvent::ShowError(title, message) => self.details = Some((title, message)),
                GridEvent::Reveal(hash) => self.reveal(&hash),
                GridEvent::CopyHash(hash) => self.copy_hash(hash),
                GridEvent::RestoreTo(ops) => self
                    .picker
                    .open(Purpose::RestoreInto(Restoring::Ops(ops)), &self.ctx),
                GridEvent::Window(start, len) => {
                    if (start, len) != self.window_asked {
                        self.window_asked = (start, len);
                        self.model.send(Request::Window { start, len });
                    }
                }
            }
        }
    }

    fn apply_assets(&mut self, events: Vec<AssetEvent>) {
        for event in events {
            match event {
                AssetEvent::Sort(key) => {
                    let mut spec = self.asset_spec.clone();
                    if spec.sort == key {
                        spec.descending = !spec.descending;
                    } else {
                        spec.sort = key;
                        spec.descending = false;
                    }
                    self.set_asset_spec(spec);
                }
                AssetEvent::Click {
                    index,
                    hash,
                    ctrl,
                    shift,
                } => grid::select(
                    &mut self.asset_selected,
                    &mut self.asset_anchor,
                    (
                        self.assets.snapshot.window_start,
                        (self.assets.snapshot.rows.iter()).map(|r| r.row.content_hash.as_str()),
                    ),
                    index,
                    hash,
                    ctrl,
                    shift,
                ),
                AssetEvent::Act(action) => self.assets.send(AssetRequest::Act(action)),
                AssetEvent::RestoreTo(hashes) => self
                    .picker
                    .open(Purpose::RestoreInto(Restoring::Assets(hashes)), &self.ctx),
                AssetEvent::Reveal(hash) => self.reveal(&hash),
                AssetEvent::CopyHash(hash) => self.copy_hash(hash),
                AssetEvent::Window(start, len) => {
                    if (start, len) != self.asset_window_asked {
                        self.asset_window_asked = (start, len);
                        self.assets.send(AssetRequest::Window { start, len });
                    }
                }
            }
        }
    }

    /// Puts a content hash on the clipboard, and says so.
    fn copy_hash(&mut self, hash: String) {
        self.ctx.copy_text(hash.clone());
        self.told = Some((format!("✔ hash copied: {hash}"), Instant::now()));
    }

    /// Opens the folder holding an asset's local file.
    fn reveal(&mut self, hash: &str) {
        let path = crate::store::Store::open(&self.db)
            .ok()
            .and_then(|s| s.asset(hash).ok().flatten())
            .and_then(|a| a.local_path);
        match path.as_deref().map(Path::new).and_then(Path::parent) {
            Some(dir) if dir.is_dir() => self.open_folder(dir),
            _ => {
                self.details = Some((
                    "No local file".into(),
                    "The library has no local copy of this asset; queue a download first.".into(),
                ))
            }
        }
    }

    /// Shows a folder in the platform's file manager.
    fn open_folder(&mut self, dir: &Path) {
        let opener = if cfg!(target_os = "macos") {
            "open"
        } else if cfg!(windows) {
            "explorer"
        } else {
            "xdg-open"
        };
        if let Err(e) = std::process::Command::new(opener).arg(dir).spawn() {
            // The folder is there; what is missing is a way to show it.
            let why = if e.kind() == std::io::ErrorKind::NotFound {
                format!("no file manager could be started ({opener} is not installed)")
            } else {
                format!("{opener} could not be started: {e}")
            };
            self.details = Some((
                "Cannot show the folder".into(),
                format!("The folder is {}\n\n({why})", dir.display()),
            ));
        }
    }

    /// The Help and About windows, and the notices.
    fn help_and_notices(&mut self, ctx: &egui::Context) {
        centred(egui::Window::new("Keyboard shortcuts"), ctx)
            .open(&mut self.help_open)
            .collapsible(false)
            .resizable(false)
            .show(ctx, shortcuts::help);
        let db = self.db.clone();
        centred(egui::Window::new("About Breakdex"), ctx)
            .open(&mut self.about_open)
            .collapsible(false)
            .resizable(false)
            .show(ctx, |ui| menu::about(ui, &db));
        let in_front = ctx.input(|i| i.focused);
        for notice in self.notices.observe(&self.model.snapshot) {
            tracing::info!("{}: {}", notice.title, notice.body);
            if !in_front {
                notices::notify_desktop(&notice);
            }
        }
        if self.notices.show(ctx) {
            ctx.request_repaint_after(Duration::from_secs(1));
        }
    }
}

impl App {
    /// When the window must be drawn again though no news came: an idle
    /// window costs nothing. Progress, counts and the speed come with the
    /// model's snapshots (each wakes the window); what changes on its own
    /// is hashing progress (polled), a line the status bar says for a few
    /// seconds, and the text of a retry countdown shown.
    pub fn next_look(&self) -> Option<Duration> {
        let s = &self.model.snapshot;
        let told_left = (self.told.as_ref())
            .map(|(_, at)| TOLD_FOR.saturating_sub(at.elapsed()))
            .filter(|left| !left.is_zero());
        if self.importing() || s.loading {
            Some(Duration::from_millis(250))
        } else if let Some(left) = told_left {
            Some(left)
        } else {
            // A retry countdown shown ("retry in 4 min") when its text changes.
            let now = format::now_ms();
            (s.rows.iter())
                .filter(|r| r.state == OpState::RetryPending)
                .filter_map(|r| {
                    r.next_attempt_at
                        .as_deref()
                        .and_then(format::parse_timestamp)
                })
                .filter_map(|at| format::duration_changes_in(at - now))
                .min()
        }
    }
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        self.model.poll();
        // Paused or resumed elsewhere (another window, `breakdex pause`).
        if self.model.snapshot.paused != self.paused_seen {
            self.paused_seen = self.model.snapshot.paused;
            self.paused = self.paused_seen;
        }
        self.assets.poll();
        self.collect_background();
        egui::Panel::top("toolbar").show(ui, |ui| {
            let failed = self.model.snapshot.permanently_failed;
            if let Some(command) = menu::bar(ui, self.paused, failed) {
                self.command(command);
            }
            ui.add_space(4.0);
            self.view_switch(ui);
            ui.add_space(2.0);
            self.toolbar(ui);
            ui.add_space(2.0);
            match self.view {
                View::Queue => self.tabs(ui),
                View::Assets => self.health_tabs(ui),
            }
        });
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar(ui));
        match self.view {
            View::Queue => {
                let events = egui::CentralPanel::default()
                    .show(ui, |ui| {
                        grid::show(ui, &self.model.snapshot, &self.selected, self.paused)
                    })
                    .inner;
                self.apply(events);
            }
            View::Assets => {
                let events = egui::CentralPanel::default()
                    .show(ui, |ui| {
                        assets_grid::show(ui, &self.assets.snapshot, &self.asset_selected)
                    })
                    .inner;
                self.apply_assets(events);
            }
        }
        self.escape_closes_a_window(&ctx);
        // While a confirmation is asked, the row keys wait; they act on the
        // queue's rows only while the queue is shown.
        let on_rows =
            self.view == View::Queue && !self.selected.is_empty() && self.confirm.is_none();
        for command in shortcuts::pressed(&ctx, on_rows) {
            self.command(command);
        }
        self.dialogs(&ctx);
        self.help_and_notices(&ctx);
        self.drops(&ctx);
        if let Some(after) = self.next_look() {
            ctx.request_repaint_after(after);
        }
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        if let Some(engine) = self.engine.take() {
            engine.send(Control::Stop);
            let _ = engine.join();
        }
    }
}

/// How fast the queue moves, and the time left: only while bytes move (a
/// rate that falls to nothing after the last op would give a time that
/// climbs for ever), from the bytes still queued for providers that can
/// take them and the rate of the last seconds.
fn pace_line(s: &Snapshot) -> String {
    let active = s.tab_counts[2];
    if active == 0 {
        return "idle".into();
    }
    let mut line = format!("{}/s", format::bytes(s.speed as i64));
    if s.speed > 0.0 && s.remaining_bytes > 0 {
        let left = Duration::from_secs_f64(s.remaining_bytes as f64 / s.speed);
        line += &format!(" · {} left", format::duration(left));
    }
    line
}

/// The rates the status bar's limits menu offers, besides none.
const LIMIT_CHOICES: [u64; 6] = [256 << 10, 1 << 20, 5 << 20, 20 << 20, 100 << 20, 1 << 30];

/// The status bar's bandwidth limits: what holds now, and a menu that
/// changes the library's (per provider and timetables: `breakdex limits`).
fn limits_menu(ui: &mut egui::Ui, limit: Rates) -> Option<Action> {
    let words = crate::units::format_rate;
    let text = if limit == Rates::default() {
        "no limit".to_string()
    } else {
        format!("limit: up {}, down {}", words(limit.up), words(limit.down))
    };
    let mut chosen = None;
    ui.menu_button(text, |ui| {
        for (label, up) in [("Uploads at most", true), ("Downloads at most", false)] {
            ui.label(RichText::new(label).strong());
            let now = if up { limit.up } else { limit.down };
            for rate in std::iter::once(0).chain(LIMIT_CHOICES) {
                let name = if rate == 0 {
                    "no limit".to_string()
                } else {
                    words(rate)
                };
                if ui.radio(now == rate, name).clicked() {
                    chosen = Some(if up {
                        Action::SetLimit {
                            up: Some(rate),
                            down: None,
                        }
                    } else {
                        Action::SetLimit {
                            up: None,
                            down: Some(rate),
                        }
                    });
                    ui.close();
                }
            }
            ui.separator();
        }
        ui.weak("Per provider, and a weekly timetable: breakdex limits set");
    })
    .response
    .on_hover_text("Bandwidth limits in force now, for the whole library");
    chosen
}

/// A health's name in the tabs and the status bar.
fn health_label(h: Health) -> &'static str {
    match h {
        Health::Safe => "Safe",
        Health::AtRisk => "At risk",
        Health::Damaged => "Damaged",
        Health::LocalOnly => "Local only",
    }
}

/// The status bar's line of copy health over the whole library.
fn health_line(a: &assets::AssetsSnapshot) -> String {
    if a.counting {
        return "health: counting…".into();
    }
    let c = a.library_counts;
    let n = |h: Health| c[health_index(h)];
    format!(
        "{} safe · {} at risk · {} damaged · {} local only",
        n(Health::Safe),
        n(Health::AtRisk),
        n(Health::Damaged),
        n(Health::LocalOnly)
    )
}

/// The status bar's counts: the tabs' own numbers (within the provider
/// filter), with the parts of them that wait or will retry.
fn counts_line(s: &Snapshot) -> String {
    if s.loading {
        return "counting…".into();
    }
    let c = s.tab_counts;
    let mut queued = format!("{} queued", c[1]);
    if s.waiting > 0 {
        queued += &format!(" ({} waiting)", s.waiting);
    }
    let mut failed = format!("{} failed", c[3]);
    if s.retry_pending > 0 {
        failed += &format!(" ({} will retry)", s.retry_pending);
    }
    let line = format!(
        "{queued} · {} active · {failed} · {} completed · {} cancelled",
        c[2], c[4], c[5]
    );
    match s.spec.provider.as_ref().and_then(|id| {
        (s.providers.iter())
            .find(|p| &p.row.id == id)
            .map(|p| p.row.name.clone())
    }) {
        Some(name) => format!("{name}: {line}"),
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_count_reads_zero_before_the_queue_is_counted() {
        let loading = Snapshot {
            loading: true,
            view_len: 100,
            ..Snapshot::default()
        };
        assert_eq!(counts_line(&loading), "counting…");
        let counted = Snapshot {
            tab_counts: [9, 3, 1, 4, 1, 0],
            retry_pending: 2,
            waiting: 3,
            ..Snapshot::default()
        };
        assert_eq!(
            counts_line(&counted),
            "3 queued (3 waiting) · 1 active · 4 failed (2 will retry) · 1 completed · 0 cancelled"
        );
    }

    #[test]
    fn time_left_shows_only_while_bytes_move() {
        let mut s = Snapshot {
            speed: 1000.0,
            remaining_bytes: 60_000,
            ..Snapshot::default()
        };
        // The rate of the last seconds lingers after the last op ended.
        assert_eq!(pace_line(&s), "idle");
        s.tab_counts[2] = 1;
        assert_eq!(pace_line(&s), "1.0 kB/s · 1 min left");
        s.speed = 0.0;
        assert_eq!(pace_line(&s), "0 B/s");
    }
}
