//! The providers window: each provider with its online state; add (a local
//! folder, S3-compatible storage, WebDAV or SFTP), edit, remove, test,
//! enable and disable.
//!
//! The form only turns what was typed into a [`NewProvider`]: the model
//! thread checks and saves it through `providers::register`, the same path
//! as `provider add`. The form waits for that answer, then closes, or shows
//! the problem. A secret (S3 secret key, WebDAV password) is typed in a
//! password field and leaves the form when it is submitted.
//!
//! Encryption is chosen in the form (on by default for the remote kinds,
//! off for a local folder; changeable only while the provider holds no
//! copies), with the passphrase typed twice in masked fields, never kept;
//! the window says what a lost passphrase means and saves the recovery
//! sheet (the library's key) into a folder the person picks.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver};

use egui::{Color32, RichText};

use super::assets::ProviderChoice;
use super::format::bytes;
use super::model::{Action, ProviderStatus};
use crate::bandwidth::Rates;
use crate::crypto::Passphrase;
use crate::providers::register::{Encryption, NewProvider, Target};
use crate::secrets::Secret;
use crate::store::{ProviderKind, ProviderRow};
use crate::units::{format_duration, format_rate};

/// The kinds the form offers, as a person calls them.
const KINDS: [(ProviderKind, &str); 4] = [
    (ProviderKind::Local, "Local folder"),
    (ProviderKind::S3, "S3-compatible"),
    (ProviderKind::Webdav, "WebDAV"),
    (ProviderKind::Sftp, "SFTP"),
];

/// The width of a row's name, place and scrub line.
const NAME_WIDTH: f32 = 300.0;
/// The width of a row's state, enough for its longest word ("checking…").
const STATE_WIDTH: f32 = 90.0;

fn kind_label(kind: ProviderKind) -> &'static str {
    KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or("", |(_, label)| label)
}

/// The form for adding or editing a provider: the text as typed, every
/// kind's fields at once (switching kinds loses nothing typed).
struct Form {
    /// `Some(id)` when editing that provider (its kind stays).
    editing: Option<String>,
    kind: ProviderKind,
    name: String,
    concurrency: String,
    /// Local: the folder.
    folder: String,
    /// S3 and WebDAV: the server's URL.
    endpoint: String,
    bucket: String,
    region: String,
    prefix: String,
    path_style: bool,
    access_key_id: String,
    /// WebDAV and SFTP.
    user: String,
    /// WebDAV and SFTP: a folder on the server.
    remote_root: String,
    host: String,
    port: String,
    key: String,
    trust_new_host: bool,
    /// The S3 secret access key or the WebDAV password, until submitted.
    secret: String,
    /// Encrypt its copies: as ticked, else the kind's default.
    encrypt: Option<bool>,
    /// Editing: whether it encrypts now, and whether it holds copies (then
    /// that cannot change; unknown until the assets model counted).
    encrypts_now: bool,
    holds_copies: Option<bool>,
    /// The passphrase, typed twice, until submitted.
    passphrase: String,
    passphrase_again: String,
    error: Option<String>,
    /// The model's answer to the submitted form, while it is awaited.
    pending: Option<Receiver<Result<String, String>>>,
}

impl Form {
    fn new() -> Form {
        Form {
            editing: None,
            kind: ProviderKind::Local,
            name: String::new(),
            concurrency: "4".into(),
            folder: String::new(),
            endpoint: String::new(),
            bucket: String::new(),
            region: "us-east-1".into(),
            prefix: String::new(),
            path_style: false,
            access_key_id: String::new(),
            user: String::new(),
            remote_root: String::new(),
            host: String::new(),
            port: "22".into(),
            key: String::new(),
            trust_new_host: false,
            secret: String::new(),
            encrypt: None,
            encrypts_now: false,
            holds_copies: Some(false),
            passphrase: String::new(),
            passphrase_again: String::new(),
            error: None,
            pending: None,
        }
    }

    /// The form filled with a provider's stored settings (not its secret);
    /// `held_bytes` is what it holds, if counted yet.
    fn edit(row: &ProviderRow, held_bytes: Option<i64>) -> Form {
        let spec = NewProvider::from_row(row);
        let encrypts_now = row.settings.get("encryption").is_some();
        let mut form = Form {
            editing: Some(row.id.clone()),
            kind: row.kind,
            name: spec.name,
            concurrency: spec.concurrency.to_string(),
            encrypt: Some(encrypts_now),
            encrypts_now,
            holds_copies: held_bytes.map(|b| b > 0),
            ..Form::new()
        };
        let text = |s: Option<String>| s.unwrap_or_default();
        match spec.target {
            Target::Local { root } => form.folder = root.display().to_string(),
            Target::S3 {
                endpoint,
                bucket,
                region,
                prefix,
                path_style,
                access_key_id,
            } => {
                form.endpoint = endpoint;
                form.bucket = bucket;
                form.region = region;
                form.prefix = text(prefix);
                form.path_style = path_style;
                form.access_key_id = access_key_id;
            }
            Target::Webdav {
                endpoint,
                root,
                user,
            } => {
                form.endpoint = endpoint;
                form.remote_root = text(root);
                form.user = user;
            }
            Target::Sftp {
                host,
                port,
                user,
                key,
                root,
                trust_new_host,
            } => {
                form.host = host;
                form.port = port.to_string();
                form.user = user;
                form.key = key.display().to_string();
                form.remote_root = text(root);
                form.trust_new_host = trust_new_host;
            }
        }
        form
    }

    /// What was typed, as a provider to check and save. Only what a form
    /// must settle itself (numbers, full paths) is checked here; the rest is
    /// `providers::register`'s.
    fn spec(&self) -> Result<NewProvider, String> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err("Give the provider a name.".into());
        }
        let concurrency: i64 = self
            .concurrency
            .trim()
            .parse()
            .ok()
            .filter(|n| (1..=64).contains(n))
            .ok_or("Parallel transfers must be a number from 1 to 64.")?;
        let text = |s: &str| s.trim().to_string();
        let optional = |s: &str| Some(text(s)).filter(|s| !s.is_empty());
        let full_path = |s: &str, what: &str, example: &str| {
            let path = PathBuf::from(s.trim());
            if path.is_absolute() {
                Ok(path)
            } else {
                Err(format!("The {what} must be a full path, like {example}."))
            }
        };
        let target = match self.kind {
            ProviderKind::Local => Target::Local {
                root: full_path(&self.folder, "folder", "/media/backup")?,
            },
            ProviderKind::S3 => Target::S3 {
                endpoint: text(&self.endpoint),
                bucket: text(&self.bucket),
                region: text(&self.region),
                prefix: optional(&self.prefix),
                path_style: self.path_style,
                access_key_id: text(&self.access_key_id),
            },
            ProviderKind::Webdav => Target::Webdav {
                endpoint: text(&self.endpoint),
                root: optional(&self.remote_root),
                user: text(&self.user),
            },
            ProviderKind::Sftp => Target::Sftp {
                host: text(&self.host),
                port: self
                    .port
                    .trim()
                    .parse()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or("The port must be a number from 1 to 65535.")?,
                user: text(&self.user),
                key: full_path(&self.key, "key file", "/home/me/.ssh/id_ed25519")?,
                root: optional(&self.remote_root),
                trust_new_host: self.trust_new_host,
            },
        };
        Ok(NewProvider {
            name: name.to_string(),
            concurrency,
            target,
        })
    }

    /// Whether the copies are to be encrypted, as ticked or by default
    /// (the remote kinds: their storage is someone else's).
    fn encrypts(&self) -> bool {
        self.encrypt.unwrap_or(self.kind != ProviderKind::Local)
    }

    /// Whether the form asks for a passphrase: encryption starts with it.
    fn wants_passphrase(&self) -> bool {
        self.encrypts() && !self.encrypts_now
    }

    /// What saving does to its encryption, the passphrase checked (the two
    /// typed alike, long enough).
    fn encryption(&self, first: &str, again: &str) -> Result<Encryption, String> {
        match (self.encrypts(), self.encrypts_now) {
            (true, false) => {
                let passphrase = Passphrase::new(first).map_err(|e| capitalized(&e.to_string()))?;
                if Passphrase::new(again).ok().as_ref() != Some(&passphrase) {
                    return Err("The two passphrases differ.".into());
                }
                Ok(Encryption::Start(passphrase))
            }
            (false, true) => Ok(Encryption::Stop),
            _ => Ok(Encryption::Keep),
        }
    }

    /// The action that saves the form, the secret and the passphrase taken
    /// out of it; or the form's own complaint, shown in it.
    fn submit(&mut self) -> Option<Action> {
        let typed = std::mem::take(&mut self.secret);
        let first = std::mem::take(&mut self.passphrase);
        let again = std::mem::take(&mut self.passphrase_again);
        let checked = self
            .spec()
            .and_then(|spec| Ok((spec, self.encryption(&first, &again)?)));
        let (spec, encryption) = match checked {
            Ok(checked) => checked,
            Err(e) => {
                self.error = Some(e);
                return None;
            }
        };
        // Editing with the field left empty keeps the stored secret.
        let secret = spec
            .target
            .secret_name()
            .filter(|_| !(typed.is_empty() && self.editing.is_some()))
            .map(|_| Secret::new(typed));
        let (reply, answer) = mpsc::channel();
        self.pending = Some(answer);
        self.error = None;
        Some(match &self.editing {
            Some(id) => Action::UpdateProvider {
                id: id.clone(),
                spec,
                secret,
                encryption,
                reply,
            },
            None => Action::AddProvider {
                spec,
                secret,
                encrypt: match encryption {
                    Encryption::Start(passphrase) => Some(passphrase),
                    _ => None,
                },
                reply,
            },
        })
    }

    /// Takes the model's answer, if it came: true when the form is done.
    fn answered(&mut self) -> bool {
        let Some(answer) = &self.pending else {
            return false;
        };
        let error = match super::model::answer_on(answer) {
            Some(Ok(_)) => return true,
            None => return false,
            Some(Err(e)) => e,
        };
        self.error = Some(error);
        self.pending = None;
        false
    }
}

/// The providers window and its state.
#[derive(Default)]
pub struct ProvidersPanel {
    pub open: bool,
    /// Save recovery sheet… was clicked: the app opens the folder picker.
    pub pick_sheet_folder: bool,
    form: Option<Form>,
    /// A provider waiting for the person to confirm its removal.
    confirm_remove: Option<(String, String)>,
}

impl ProvidersPanel {
    /// Draws the window (when open); returns the actions asked for.
    /// `scans` says what each provider's last scan found, `scrubs` what
    /// each one's scrub reads.
    pub fn show(
        &mut self,
        ctx: &egui::Context,
        providers: &[ProviderStatus],
        scans: &[(String, String)],
        scrubs: &[ProviderChoice],
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        if !self.open {
            return actions;
        }
        if self.form.as_mut().is_some_and(Form::answered) {
            self.form = None;
        }
        let mut open = true;
        // Centred across, hung from its top left corner so that it grows
        // right and down (a window pinned by its centre moves what is being
        // clicked as it grows), never taller than the window: a long form
        // scrolls (at 900x600 the S3 form is taller than that).
        let screen = ctx.content_rect();
        let width = 760.0_f32.min(screen.width() - 40.0);
        egui::Window::new("Providers")
            .open(&mut open)
            .default_pos(egui::pos2(
                screen.center().x - width / 2.0,
                screen.top() + 30.0,
            ))
            .default_width(width)
            .max_height(screen.height() - 60.0)
            .show(ctx, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    if let Some(recipient) = library_recipient(providers) {
                        self.key_line(ui, recipient);
                        ui.separator();
                    }
                    egui::Grid::new("providers-grid")
                        .num_columns(4)
                        .striped(true)
                        .spacing([12.0, 6.0])
                        .show(ui, |ui| {
                            for p in providers {
                                let scrub = scrubs.iter().find(|c| c.id == p.row.id);
                                self.provider_row(ui, p, scrub, &mut actions);
                                ui.end_row();
                                if let Some((_, line)) =
                                    scans.iter().find(|(id, _)| *id == p.row.id)
                                {
                                    ui.label("");
                                    ui.label(RichText::new(line).small());
                                    ui.end_row();
                                }
                            }
                        });
                    ui.separator();
                    if self.form.is_none() && ui.button("➕ Add a provider…").clicked() {
                        self.form = Some(Form::new());
                    }
                    if let Some(action) = self.form_ui(ui) {
                        actions.push(action);
                    }
                });
            });
        if !open {
            self.open = false;
            self.form = None;
        }
        if let Some((id, name)) = self.confirm_remove.clone() {
            egui::Window::new("Remove provider?")
                .collapsible(false)
                .pivot(egui::Align2::CENTER_CENTER)
                .default_pos(ctx.content_rect().center())
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

    /// The library's key, when a provider encrypts, and the button that
    /// saves it as a recovery sheet.
    fn key_line(&mut self, ui: &mut egui::Ui, recipient: &str) {
        ui.horizontal_wrapped(|ui| {
            let short = match recipient.len() {
                n if n > 20 => format!("{}…{}", &recipient[..12], &recipient[n - 6..]),
                _ => recipient.to_string(),
            };
            ui.label(format!(
                "🔒 Encrypted providers use the library key {short}"
            ))
            .on_hover_text(recipient);
            if ui
                .button("Save recovery sheet…")
                .on_hover_text(
                    "Write the library's key to a file in a folder you choose, to print and \
                     keep away from this computer. With it, `age -d -i FILE` opens any \
                     encrypted copy, without Breakdex and without the passphrase; \
                     anyone holding it can too.",
                )
                .clicked()
            {
                self.pick_sheet_folder = true;
            }
        });
    }

    fn provider_row(
        &mut self,
        ui: &mut egui::Ui,
        p: &ProviderStatus,
        scrub: Option<&ProviderChoice>,
        actions: &mut Vec<Action>,
    ) {
        let row = &p.row;
        // Every cell keeps its size whatever the checker thread and the
        // assets model say, and its own id: a row that grew or shrank when
        // a state came in would move what is below and beside it under a
        // pointer about to click.
        ui.push_id((&row.id, "about"), |ui| {
            ui.vertical(|ui| {
                // Wide enough for a name and a path on one line each; a
                // longer path is cut short, whole in its tooltip.
                ui.set_width(NAME_WIDTH);
                ui.add(egui::Label::new(RichText::new(&row.name).strong()).truncate())
                    .on_hover_text(&row.name);
                // Its own bandwidth limit, before the path that may be cut.
                let limit = match p.limit {
                    l if l == Rates::default() => String::new(),
                    l => format!(
                        " · limit up {}, down {}",
                        format_rate(l.up),
                        format_rate(l.down)
                    ),
                };
                let sealed = match row.settings.get("encryption") {
                    Some(_) => " · encrypted",
                    None => "",
                };
                let place = format!("{}{sealed}{limit} · {}", row.kind.as_str(), where_(row));
                ui.add(egui::Label::new(RichText::new(&place).small()).truncate())
                    .on_hover_text(place);
                match scrub {
                    Some(c) => scrub_line(ui, c),
                    None => {
                        ui.label(
                            RichText::new("scrub: counting what it holds…")
                                .small()
                                .weak(),
                        );
                    }
                }
            });
        });
        ui.push_id((&row.id, "state"), |ui| {
            ui.horizontal(|ui| {
                ui.set_width(STATE_WIDTH);
                match (&p.online, row.enabled) {
                    (_, false) => {
                        ui.label(RichText::new("disabled").weak());
                    }
                    (_, true) if p.paused => {
                        state(ui, "paused", Color32::GRAY)
                            .on_hover_text("Paused: none of its operations run until resumed");
                    }
                    (Some(Ok(())), true) if p.full.is_some() => {
                        let (words, reason) = p.full.clone().unwrap_or_default();
                        state(ui, "full", Color32::from_rgb(200, 60, 50))
                            .on_hover_text(format!("{words}: {reason}"));
                    }
                    (Some(Ok(())), true) => {
                        state(ui, "online", Color32::from_rgb(60, 170, 90))
                            .on_hover_text("It answered when last looked at");
                    }
                    (Some(Err(reason)), true) => {
                        state(ui, "offline", Color32::from_rgb(215, 120, 30)).on_hover_text(reason);
                    }
                    (None, true) => {
                        state(ui, "checking…", Color32::GRAY)
                            .on_hover_text("Looking whether its server answers");
                    }
                }
            });
        });
        ui.push_id((&row.id, "buttons"), |ui| {
            let held_bytes = scrub.map(|c| c.held_bytes);
            ui.horizontal(|ui| self.row_buttons(ui, p, held_bytes, actions));
        });
    }

    fn row_buttons(
        &mut self,
        ui: &mut egui::Ui,
        p: &ProviderStatus,
        held_bytes: Option<i64>,
        actions: &mut Vec<Action>,
    ) {
        let row = &p.row;
        let toggle = if row.enabled { "Disable" } else { "Enable" };
        if ui.button(toggle).clicked() {
            actions.push(Action::SetProviderEnabled(row.id.clone(), !row.enabled));
        }
        let (pause, hover) = if p.paused {
            ("Resume", "Let its transfers go on")
        } else {
            (
                "Pause",
                "Stop its transfers within a second, in every engine of this library",
            )
        };
        if ui.button(pause).on_hover_text(hover).clicked() {
            actions.push(Action::SetProviderPaused(row.id.clone(), !p.paused));
        }
        if ui
            .button("Test")
            .on_hover_text("Write, read back and delete a small probe")
            .clicked()
        {
            actions.push(Action::TestProvider(row.id.clone()));
        }
        if ui
            .button("Scan")
            .on_hover_text(
                "Scan for existing assets: read the catalog on this provider into the \
                 library (every asset it holds, with its paths)",
            )
            .clicked()
        {
            actions.push(Action::ScanProvider(row.id.clone()));
        }
        if ui.button("Edit").clicked() {
            self.form = Some(Form::edit(row, held_bytes));
        }
        if ui.button("Remove").clicked() {
            self.confirm_remove = Some((row.id.clone(), row.name.clone()));
        }
    }

    fn form_ui(&mut self, ui: &mut egui::Ui) -> Option<Action> {
        let form = self.form.as_mut()?;
        let mut action = None;
        let mut close = false;
        let waiting = form.pending.is_some();
        ui.heading(if form.editing.is_some() {
            "Edit provider"
        } else {
            "New provider"
        });
        ui.add_enabled_ui(!waiting, |ui| {
            egui::Grid::new("provider-form")
                .num_columns(2)
                .show(ui, |ui| fields(ui, form));
        });
        let form_error = form.error.is_some();
        if let Some(e) = &form.error {
            ui.label(RichText::new(e).color(ui.visuals().error_fg_color));
        }
        ui.horizontal(|ui| {
            if waiting {
                ui.label("Checking and saving…");
            } else if ui.button("Save").clicked() {
                action = form.submit();
            }
            if ui.button("Cancel").clicked() {
                close = true;
            }
        });
        if close {
            self.form = None;
            // The form's problem, also shown in the status line, goes with it.
            if form_error {
                action = Some(Action::DismissError);
            }
        }
        action
    }
}

/// What the provider's scrub reads: egress from a cloud provider costs
/// money, so the month's bytes are said before they are read.
fn scrub_line(ui: &mut egui::Ui, c: &ProviderChoice) {
    let text = match c.scrub.budget_bps {
        0 => "scrub off".to_string(),
        budget => format!(
            "scrub reads about {} a month (every {}, at most {})",
            bytes(c.scrub.bytes_per_month(c.held_bytes) as i64),
            format_duration(c.scrub.every),
            format_rate(budget)
        ),
    };
    ui.add(egui::Label::new(RichText::new(&text).small().weak()).truncate())
        .on_hover_text(format!(
            "{text}.\nIt holds {} of copies; the scrub re-reads all of them within \
             its interval. Change it with breakdex scrub set --provider {}",
            bytes(c.held_bytes),
            c.name
        ));
}

/// A provider's state: a dot and a word in its colour. (The dot is drawn:
/// the bundled fonts have no "●".)
fn state(ui: &mut egui::Ui, word: &str, color: Color32) -> egui::Response {
    ui.horizontal(|ui| {
        let (dot, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
        ui.painter().circle_filled(dot.center(), 4.0, color);
        ui.label(RichText::new(word).color(color))
    })
    .inner
}

/// The form's fields for its kind, one labelled line each.
fn fields(ui: &mut egui::Ui, form: &mut Form) {
    ui.label("Kind");
    if form.editing.is_some() {
        ui.label(kind_label(form.kind));
    } else {
        ui.horizontal(|ui| {
            for (k, label) in KINDS {
                ui.selectable_value(&mut form.kind, k, label);
            }
        });
    }
    ui.end_row();
    line(ui, "Name", &mut form.name, "");
    let editing = form.editing.is_some();
    match form.kind {
        ProviderKind::Local => line(ui, "Folder", &mut form.folder, "/media/backup"),
        ProviderKind::S3 => {
            line(
                ui,
                "Endpoint URL",
                &mut form.endpoint,
                "https://s3.us-west-004.backblazeb2.com",
            );
            line(ui, "Bucket", &mut form.bucket, "");
            line(ui, "Region", &mut form.region, "");
            line(
                ui,
                "Prefix",
                &mut form.prefix,
                "optional: a folder in the bucket",
            );
            line(ui, "Access key ID", &mut form.access_key_id, "");
            secret_line(ui, "Secret access key", &mut form.secret, editing);
            ui.label("");
            ui.checkbox(
                &mut form.path_style,
                "Bucket in the path (MinIO, most self-hosted servers)",
            );
            ui.end_row();
        }
        ProviderKind::Webdav => {
            line(
                ui,
                "Endpoint URL",
                &mut form.endpoint,
                "https://cloud.example.com/remote.php/dav/files/me",
            );
            line(
                ui,
                "Folder on the server",
                &mut form.remote_root,
                "optional",
            );
            line(ui, "User", &mut form.user, "");
            secret_line(ui, "Password", &mut form.secret, editing);
        }
        ProviderKind::Sftp => {
            line(ui, "Host", &mut form.host, "nas.example.com");
            line(ui, "Port", &mut form.port, "");
            line(ui, "User", &mut form.user, "");
            line(
                ui,
                "Private key file",
                &mut form.key,
                "/home/me/.ssh/id_ed25519",
            );
            line(
                ui,
                "Folder on the server",
                &mut form.remote_root,
                "optional",
            );
            ui.label("");
            ui.checkbox(&mut form.trust_new_host, "Trust this host's key")
                .on_hover_text(
                    "If the host is not in known_hosts yet, add its keys. \
                     Check them with the server's owner first.",
                );
            ui.end_row();
        }
    }
    line(ui, "Parallel transfers", &mut form.concurrency, "");
    encryption_fields(ui, form);
}

/// The label of the form's encryption checkbox.
const ENCRYPT_LABEL: &str = "Encrypt every copy (age format)";

/// The form's encryption: the checkbox, and when encryption starts the
/// passphrase twice and what losing it means.
fn encryption_fields(ui: &mut egui::Ui, form: &mut Form) {
    let mut on = form.encrypts();
    let locked = form.editing.is_some() && form.holds_copies != Some(false);
    ui.label("");
    let hover = if locked && form.holds_copies == Some(true) {
        "It holds copies, written as they are: this cannot change now. \
         Encryption is chosen while a provider holds none."
    } else if locked {
        "Counting what it holds first: encryption changes only while it holds none."
    } else {
        "Each copy is an age file to the library's key: the provider sees \
         sizes, how many and when, not names, contents or hashes. \
         `age -d -i` with the recovery sheet opens any copy, without Breakdex."
    };
    let changed = ui
        .add_enabled(!locked, egui::Checkbox::new(&mut on, ENCRYPT_LABEL))
        .on_hover_text(hover)
        .on_disabled_hover_text(hover)
        .changed();
    if changed {
        form.encrypt = Some(on);
    }
    ui.end_row();
    if !form.wants_passphrase() {
        return;
    }
    secret_line(ui, "Passphrase", &mut form.passphrase, false);
    secret_line(ui, "Passphrase again", &mut form.passphrase_again, false);
    ui.label("");
    ui.add(
        egui::Label::new(
            RichText::new(
                "The library's key goes on this provider, locked with this passphrase \
                 (10 characters or more; Breakdex never keeps it). If this computer is lost, \
                 the copies open only with the passphrase or the recovery sheet: \
                 lose both and the copies are lost.",
            )
            .color(ui.visuals().warn_fg_color),
        )
        .wrap(),
    );
    ui.end_row();
}

/// `text` as a sentence: its first letter capital, a full stop at its end.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    let first = chars.next().map(|c| c.to_uppercase().to_string());
    format!("{}{}.", first.unwrap_or_default(), chars.as_str())
}

/// One labelled text line of the form (the label names the field for
/// screen readers).
fn line(ui: &mut egui::Ui, label: &str, text: &mut String, hint: &str) {
    let label = ui.label(label);
    ui.add(
        egui::TextEdit::singleline(text)
            .hint_text(hint)
            .desired_width(340.0),
    )
    .labelled_by(label.id);
    ui.end_row();
}

/// The secret's line: masked, and when editing, empty means "keep it".
fn secret_line(ui: &mut egui::Ui, label: &str, text: &mut String, editing: bool) {
    let label = ui.label(label);
    ui.add(
        egui::TextEdit::singleline(text)
            .password(true)
            .hint_text(if editing {
                "unchanged if left empty"
            } else {
                ""
            })
            .desired_width(340.0),
    )
    .labelled_by(label.id);
    ui.end_row();
}

/// The key the library's encrypted providers encrypt to, if one does.
fn library_recipient(providers: &[ProviderStatus]) -> Option<&str> {
    providers.iter().find_map(|p| {
        (p.row.settings.get("encryption"))
            .and_then(|e| e.get("recipient"))
            .and_then(|r| r.as_str())
    })
}

/// Where a provider keeps its copies, in short.
fn where_(row: &ProviderRow) -> String {
    let text = |key: &str| {
        row.settings
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
    };
    match row.kind {
        ProviderKind::Local => text("root").to_string(),
        ProviderKind::S3 => format!("{} · {}", text("endpoint"), text("bucket")),
        ProviderKind::Webdav => text("endpoint").to_string(),
        ProviderKind::Sftp => format!(
            "{}@{}:{}",
            text("user"),
            text("host"),
            row.settings
                .get("port")
                .and_then(|v| v.as_u64())
                .unwrap_or(22)
        ),
    }
}
