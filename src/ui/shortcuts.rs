//! Keyboard shortcuts: one table that both the key handling and the Help
//! window read, so the list shown is always the list that works.

use egui::{Key, KeyboardShortcut, Modifiers};

use super::model::Tab;

/// Something the window can be asked to do, from a key, a menu or a button.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    AddFiles,
    /// The library's exclude rules.
    ExcludeRules,
    /// The watched folders' window.
    WatchedFolders,
    /// Restore every asset the library knows into a folder to be picked.
    RestoreAll,
    PauseResume,
    RetryAllFailed,
    Providers,
    /// How long ops are kept, what each provider did per day.
    History,
    FocusSearch,
    /// Between the queue and the assets.
    SwitchView,
    ShowTab(Tab),
    Help,
    About,
    OpenDataFolder,
    OpenLogFolder,
    Quit,
    /// On the selected rows:
    RetryNow,
    Cancel,
    Remove,
    PriorityUp,
    PriorityDown,
    SetPriority,
    CopyHashes,
}

/// A key and what it does.
pub struct Shortcut {
    /// The first is shown; the others work too.
    pub keys: &'static [KeyboardShortcut],
    pub command: Command,
    pub what: &'static str,
    /// Acts on the selected rows (and only when some are selected).
    pub on_selection: bool,
}

const fn key(modifiers: Modifiers, key: Key) -> KeyboardShortcut {
    KeyboardShortcut::new(modifiers, key)
}

const CMD: Modifiers = Modifiers::COMMAND;
const CMD_SHIFT: Modifiers = Modifiers::COMMAND.plus(Modifiers::SHIFT);
const NONE: Modifiers = Modifiers::NONE;

/// Every shortcut, in the order the Help window lists them. A key with more
/// modifiers comes before the same key with fewer (Ctrl+Shift+P before
/// Ctrl+P), since a shortcut also matches when Shift is held.
pub const SHORTCUTS: &[Shortcut] = &[
    global(&[key(CMD, Key::O)], Command::AddFiles, "Add files…"),
    global(
        &[key(CMD_SHIFT, Key::P)],
        Command::PauseResume,
        "Pause or resume the queue",
    ),
    global(
        &[key(CMD_SHIFT, Key::R)],
        Command::RetryAllFailed,
        "Retry all failed operations",
    ),
    global(&[key(CMD, Key::P)], Command::Providers, "Providers"),
    global(
        &[key(CMD, Key::F)],
        Command::FocusSearch,
        "Search by name, folder or hash",
    ),
    global(
        &[key(CMD_SHIFT, Key::A)],
        Command::SwitchView,
        "Switch between the queue and the assets",
    ),
    global(&[key(CMD, Key::Num1)], Command::ShowTab(Tab::All), "All"),
    global(
        &[key(CMD, Key::Num2)],
        Command::ShowTab(Tab::Queued),
        "Queued",
    ),
    global(
        &[key(CMD, Key::Num3)],
        Command::ShowTab(Tab::Active),
        "Active",
    ),
    global(
        &[key(CMD, Key::Num4)],
        Command::ShowTab(Tab::Failed),
        "Failed",
    ),
    global(
        &[key(CMD, Key::Num5)],
        Command::ShowTab(Tab::Completed),
        "Completed",
    ),
    global(
        &[key(CMD, Key::Num6)],
        Command::ShowTab(Tab::Cancelled),
        "Cancelled",
    ),
    global(&[key(NONE, Key::F1)], Command::Help, "Keyboard shortcuts"),
    global(&[key(CMD, Key::Q)], Command::Quit, "Quit"),
    selection(&[key(NONE, Key::R)], Command::RetryNow, "Retry now"),
    selection(&[key(NONE, Key::Escape)], Command::Cancel, "Cancel"),
    selection(
        &[key(NONE, Key::Delete)],
        Command::Remove,
        "Remove from the queue",
    ),
    selection(
        &[key(NONE, Key::Plus), key(NONE, Key::Equals)],
        Command::PriorityUp,
        "Raise priority",
    ),
    selection(
        &[key(NONE, Key::Minus)],
        Command::PriorityDown,
        "Lower priority",
    ),
    selection(&[key(NONE, Key::P)], Command::SetPriority, "Set priority…"),
    selection(
        &[key(CMD, Key::C)],
        Command::CopyHashes,
        "Copy content hashes",
    ),
];

const fn global(
    keys: &'static [KeyboardShortcut],
    command: Command,
    what: &'static str,
) -> Shortcut {
    Shortcut {
        keys,
        command,
        what,
        on_selection: false,
    }
}

const fn selection(
    keys: &'static [KeyboardShortcut],
    command: Command,
    what: &'static str,
) -> Shortcut {
    Shortcut {
        keys,
        command,
        what,
        on_selection: true,
    }
}

/// The shortcut shown for a command (in menus), if it has one.
pub fn for_command(command: Command) -> Option<&'static KeyboardShortcut> {
    SHORTCUTS
        .iter()
        .find(|s| s.command == command)
        .and_then(|s| s.keys.first())
}

/// The commands whose keys were pressed this frame. Keys without a modifier
/// are left to a text field being typed in; selection keys need a selection.
pub fn pressed(ctx: &egui::Context, has_selection: bool) -> Vec<Command> {
    let typing = ctx.egui_wants_keyboard_input();
    let mut commands = Vec::new();
    ctx.input_mut(|i| {
        for s in SHORTCUTS {
            if s.on_selection && !has_selection {
                continue;
            }
            let hit = s
                .keys
                .iter()
                .any(|k| (!typing || !k.modifiers.is_none()) && i.consume_shortcut(k));
            // The platform turns the copy keys into a Copy event.
            let copy = s.command == Command::CopyHashes
                && !typing
                && i.events.iter().any(|e| matches!(e, egui::Event::Copy));
            if hit || copy {
                commands.push(s.command);
            }
        }
    });
    commands
}

/// The Help window's list: the keys and what they do, in two groups.
pub fn help(ui: &mut egui::Ui) {
    let keys_of = |ui: &egui::Ui, s: &Shortcut| -> String {
        let keys: Vec<String> = s.keys.iter().map(|k| ui.ctx().format_shortcut(k)).collect();
        keys.join(" or ")
    };
    let what_of = |s: &Shortcut| match s.command {
        Command::ShowTab(_) => format!("Show the {} tab", s.what),
        _ => s.what.to_string(),
    };
    // Both groups in the same column widths, so their texts and stripes
    // line up.
    let widest = |style: egui::TextStyle, text: &dyn Fn(&Shortcut) -> String| {
        let font = style.resolve(ui.style());
        SHORTCUTS
            .iter()
            .map(|s| {
                // (The text first: making it reads the context, which
                // `fonts_mut` holds locked.)
                let text = text(s);
                ui.fonts_mut(|f| {
                    f.layout_no_wrap(text, font.clone(), egui::Color32::WHITE)
                        .size()
                        .x
                })
            })
            .fold(0.0, f32::max)
    };
    let key_width = widest(egui::TextStyle::Monospace, &|s| keys_of(ui, s));
    let what_width = widest(egui::TextStyle::Body, &what_of);
    for (heading, on_selection) in [("Anywhere", false), ("On the selected rows", true)] {
        ui.strong(heading);
        egui::Grid::new(heading)
            .num_columns(2)
            .spacing([24.0, 4.0])
            .striped(true)
            .show(ui, |ui| {
                for s in SHORTCUTS.iter().filter(|s| s.on_selection == on_selection) {
                    let keys = keys_of(ui, s);
                    ui.horizontal(|ui| {
                        ui.set_min_width(key_width);
                        ui.monospace(keys);
                    });
                    ui.horizontal(|ui| {
                        ui.set_min_width(what_width);
                        ui.label(what_of(s));
                    });
                    ui.end_row();
                }
            });
        ui.add_space(8.0);
    }
    ui.label("Right-click rows for the same actions; click a column header to sort.");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_two_shortcuts_share_a_key() {
        let mut seen = Vec::new();
        for s in SHORTCUTS {
            for k in s.keys {
                assert!(
                    !seen.contains(&(k.modifiers, k.logical_key)),
                    "{k:?} is bound twice"
                );
                seen.push((k.modifiers, k.logical_key));
            }
        }
    }
}
