//! Encryption in the window (issue 15), through egui_kittest: the provider
//! form's checkbox (on by default for the remote kinds, off for a local
//! folder), the passphrase typed twice in masked fields and checked, what
//! losing it means said in the form, the recovery sheet saved from the
//! providers window (opened by the Debian `age` tool), and encryption
//! changed in the edit form only while the provider holds no copies.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use breakdex::providers::register::Encryption;
use breakdex::store::Store;
use breakdex::ui::{Action, App, Request};
use egui_kittest::kittest::{NodeT, Queryable};

use crate::common::{TempLib, files_under, hash_of};
use crate::encrypt::{age_decrypt, assert_nowhere_in};
use crate::ui::{harness, settle, settle_on};
use crate::ui_providers::{
    H, click_row_button, click_still, new_provider_form, providers_window, save, settle_on_text,
    type_into,
};

const ENCRYPT: &str = "Encrypt every copy (age format)";
const PASSPHRASE: &str = "correct horse battery staple";

fn ticked(h: &H) -> bool {
    h.get_by_label(ENCRYPT).accesskit_node().toggled() == Some(egui::accesskit::Toggled::True)
}

/// Types the passphrase and its repetition into the form.
fn type_passphrases(h: &mut H, first: &str, again: &str) {
    type_into(h, "Passphrase", first);
    type_into(h, "Passphrase again", again);
}

fn wrapped_key(root: &Path) -> Vec<u8> {
    std::fs::read(root.join("keys/breakdex-library-key.age")).unwrap_or_default()
}

#[test]
fn the_form_encrypts_remote_kinds_by_default_and_checks_the_passphrase() {
    let lib = TempLib::new();
    let store = crate::ui::library(&lib);
    let mut h = providers_window(&lib);
    new_provider_form(&mut h, "Local folder");
    assert!(!ticked(&h), "a local folder is not encrypted by default");
    assert!(h.query_by_label("Passphrase").is_none());
    for kind in ["S3-compatible", "WebDAV", "SFTP"] {
        h.get_by_label(kind).click();
        h.run_steps(3);
        assert!(ticked(&h), "{kind} is encrypted by default");
        assert!(h.query_by_label("Passphrase").is_some(), "{kind}");
        assert!(
            (h.query_all_by_label_contains("lose both and the copies are lost")
                .next())
            .is_some(),
            "{kind}: the form says what a lost passphrase means"
        );
    }
    h.get_by_label("Local folder").click();
    h.run_steps(3);
    assert!(!ticked(&h));
    click_still(&mut h, ENCRYPT);
    h.run_steps(3);
    assert!(ticked(&h), "ticked by hand");
    h.check_accessibility();

    let root = lib.path("vault");
    type_into(&mut h, "Name", "vault");
    // ("Folder" also heads a column of the queue.)
    let folder = h.get_by_role_and_label(egui::accesskit::Role::TextInput, "Folder");
    folder.click();
    h.run_steps(2);
    (h.get_by_role_and_label(egui::accesskit::Role::TextInput, "Folder"))
        .type_text(root.to_str().unwrap());
    h.run_steps(2);
    // Too short, then two that differ: refused in the form, nothing added.
    type_passphrases(&mut h, "too short", "too short");
    save(&mut h);
    settle_on_text(
        &mut h,
        "The passphrase has 9 characters; it needs at least 10.",
    );
    assert_eq!(
        h.get_by_label("Passphrase").value().unwrap_or_default(),
        "",
        "the passphrase left the form"
    );
    type_passphrases(&mut h, PASSPHRASE, "correct horse battery stapler");
    save(&mut h);
    settle_on_text(&mut h, "The two passphrases differ.");
    assert!(store.provider_by_name("vault").unwrap().is_none());
    assert!(wrapped_key(&root).is_empty(), "nothing was written");

    type_passphrases(&mut h, PASSPHRASE, PASSPHRASE);
    assert_eq!(
        h.get_by_label("Passphrase")
            .value()
            .map(|v| v.contains("horse")),
        Some(false),
        "the passphrase field is masked"
    );
    save(&mut h);
    settle(&mut h, "the provider is added", |app| {
        (app.model.snapshot.notice.as_deref()).is_some_and(|n| n.contains("'vault' added"))
    });
    let row = store.provider_by_name("vault").unwrap().expect("added");
    let recipient = row.settings["encryption"]["recipient"]
        .as_str()
        .expect("it encrypts")
        .to_string();
    assert!(recipient.starts_with("age1"), "{recipient}");
    let wrapped = wrapped_key(&root);
    assert!(
        wrapped.starts_with(b"age-encryption.org/v1\n-> scrypt "),
        "the key on the provider, locked with the passphrase"
    );
    let notice = h.state().model.snapshot.notice.clone().unwrap();
    assert!(
        notice.contains(&format!("made the library key {recipient}"))
            && notice.contains("Keep the passphrase safe"),
        "{notice}"
    );
    // The window names the key and offers the recovery sheet; the row
    // says the provider encrypts.
    h.run_steps(2);
    assert!(h.query_by_label("Save recovery sheet…").is_some());
    assert!(
        (h.query_all_by_label_contains("local · encrypted · ").next()).is_some(),
        "the row says it encrypts"
    );
    assert_nowhere_in(&lib, PASSPHRASE);
}

#[test]
fn the_recovery_sheet_saved_from_the_window_opens_a_copy_with_age() {
    let lib = TempLib::new();
    let pass_dir = tempfile::tempdir().unwrap();
    let pass_file = pass_dir.path().join("pass");
    std::fs::write(&pass_file, PASSPHRASE).unwrap();
    let root = lib.path("vault");
    lib.ok(&[
        "provider",
        "add",
        "local",
        "vault",
        "--root",
        root.to_str().unwrap(),
        "--encrypt",
        "--passphrase-file",
        pass_file.to_str().unwrap(),
    ]);
    let photo = lib.write_file("photo.jpg", 200_000, 7);
    lib.ok(&["add", photo.to_str().unwrap(), "--provider", "vault"]);
    lib.ok(&["run", "--until-idle", "--retry-base-ms", "50"]);
    let objects = files_under(&root.join("objects"));
    assert_eq!(objects.len(), 1, "one encrypted copy");

    let mut h = harness(&lib.db());
    settle(&mut h, "first load", |app| !app.model.snapshot.loading);
    h.get_by_label("🗄 Providers").click();
    h.run_steps(2);
    // Breakdex's own folder dialog (no desktop one is asked for here).
    h.state_mut().picker.desktop_has_none = true;
    click_still(&mut h, "Save recovery sheet…");
    h.run_steps(2);
    assert!(h.state().picker.busy(), "the folder picker is open");
    // The folder the picker would hand over, twice: the second sheet goes
    // beside the first, never over it.
    let folder = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        (h.state().model).send(Request::Act(Action::SaveRecoverySheet(
            folder.path().to_path_buf(),
        )));
    }
    let first = folder.path().join("breakdex-recovery-sheet.txt");
    let second = folder.path().join("breakdex-recovery-sheet (2).txt");
    settle(&mut h, "both sheets written", |app| {
        second.exists()
            && (app.model.snapshot.notice.as_deref())
                .is_some_and(|n| n.contains("breakdex-recovery-sheet (2).txt"))
    });
    for sheet in [&first, &second] {
        let mode = std::fs::metadata(sheet).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", sheet.display());
        let opened = age_decrypt(sheet, &objects[0]);
        assert_eq!(
            blake3::hash(&opened).to_hex().to_string(),
            hash_of(&photo),
            "age -d -i SHEET gives the photo back"
        );
    }
    let notice = h.state().model.snapshot.notice.clone().unwrap();
    assert!(
        notice.contains("mode 0600") && notice.contains("print it"),
        "{notice}"
    );
}

#[test]
fn encryption_changes_in_the_edit_form_only_while_the_provider_holds_no_copies() {
    let lib = TempLib::new();
    let (full, empty) = (lib.path("full"), lib.path("empty"));
    for (name, root) in [("full", &full), ("empty", &empty)] {
        lib.ok(&[
            "provider",
            "add",
            "local",
            name,
            "--root",
            root.to_str().unwrap(),
        ]);
    }
    let photo = lib.write_file("photo.jpg", 50_000, 3);
    lib.ok(&["add", photo.to_str().unwrap(), "--provider", "full"]);
    lib.ok(&["run", "--until-idle", "--retry-base-ms", "50"]);
    let store = Store::open(&lib.db()).unwrap();
    let id_of = |name: &str| store.provider_by_name(name).unwrap().unwrap().id;
    assert_eq!(store.copies_on(&id_of("full")).unwrap().len(), 1);
    assert!(store.copies_on(&id_of("empty")).unwrap().is_empty());

    let mut h = providers_window(&lib);
    // What each holds is counted by the assets model.
    settle(&mut h, "the providers' holdings counted", |app| {
        app.assets.snapshot.providers.len() >= 2
    });
    click_row_button(&mut h, "full", "Edit");
    let checkbox = h.get_by_label(ENCRYPT);
    assert!(checkbox.accesskit_node().is_disabled(), "it holds a copy");
    assert!(!ticked(&h));
    click_still(&mut h, "Cancel");
    h.run_steps(2);

    // The model refuses it too, whoever asks.
    let (reply, answer) = std::sync::mpsc::channel();
    let row = store.provider_by_name("full").unwrap().unwrap();
    (h.state().model).send(Request::Act(Action::UpdateProvider {
        id: row.id.clone(),
        spec: breakdex::providers::register::NewProvider::from_row(&row),
        secret: None,
        encryption: Encryption::Start(breakdex::crypto::Passphrase::new(PASSPHRASE).unwrap()),
        reply,
    }));
    let said = loop {
        h.step();
        if let Ok(said) = answer.try_recv() {
            break said;
        }
    };
    let refusal = said.expect_err("refused");
    assert!(
        refusal.contains("provider 'full' holds 1 copy: it cannot start encrypting now"),
        "{refusal}"
    );
    assert!(wrapped_key(&full).is_empty());

    // A provider that holds nothing starts encrypting from its edit form…
    click_row_button(&mut h, "empty", "Edit");
    assert!(!h.get_by_label(ENCRYPT).accesskit_node().is_disabled());
    assert!(h.query_by_label("Passphrase").is_none());
    click_still(&mut h, ENCRYPT);
    h.run_steps(3);
    type_passphrases(&mut h, PASSPHRASE, PASSPHRASE);
    save(&mut h);
    settle_on(&mut h, "it encrypts", |_| {
        (store.provider_by_name("empty").unwrap().unwrap().settings)
            .get("encryption")
            .is_some()
    });
    assert!(wrapped_key(&empty).starts_with(b"age-encryption.org/v1\n-> scrypt "));

    // …and stops again, asking for nothing.
    settle(&mut h, "the form closed", |app: &App| {
        app.model.snapshot.notice.is_some()
    });
    h.run_steps(3);
    click_row_button(&mut h, "empty", "Edit");
    assert!(ticked(&h));
    assert!(
        h.query_by_label("Passphrase").is_none(),
        "it encrypts already"
    );
    click_still(&mut h, ENCRYPT);
    h.run_steps(3);
    assert!(h.query_by_label("Passphrase").is_none());
    save(&mut h);
    settle_on(&mut h, "it no longer encrypts", |_| {
        (store.provider_by_name("empty").unwrap().unwrap().settings)
            .get("encryption")
            .is_none()
    });
    assert_nowhere_in(&lib, PASSPHRASE);
}
