//! The providers window adding and editing remote providers, through
//! egui_kittest against real servers (rclone's WebDAV, OpenSSH's SFTP, as
//! the `remote` tests start them): what it saves, where the secret goes,
//! and the plain errors it shows in the form.

use std::path::PathBuf;

use breakdex::store::{ProviderRow, Store};
use breakdex::ui::App;
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use crate::common::TempLib;
use crate::remote::{
    forget_host, free_port, new_secret, start_s3, start_sftp, start_webdav, user_name,
};
use crate::ui::{harness, library, loaded, settle, settle_on};

pub(crate) type H = Harness<'static, App>;

/// The window with the Providers window open.
pub(crate) fn providers_window(lib: &TempLib) -> H {
    let mut h = harness(&lib.db());
    settle(&mut h, "first load", loaded);
    h.get_by_label("🗄 Providers").click();
    h.run_steps(2);
    h
}

/// Clicks the labelled field and types into it (after what it holds).
pub(crate) fn type_into(h: &mut H, label: &str, text: &str) {
    h.get_by_label(label).click();
    h.run_steps(2);
    h.get_by_label(label).type_text(text);
    h.run_steps(2);
}

/// Replaces what the labelled field holds.
pub(crate) fn replace_in(h: &mut H, label: &str, text: &str) {
    h.get_by_label(label).click();
    h.run_steps(2);
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.run_steps(1);
    h.get_by_label(label).type_text(text);
    h.run_steps(2);
}

/// Opens the form for a new provider of the kind labelled `kind`.
pub(crate) fn new_provider_form(h: &mut H, kind: &str) {
    h.get_by_label("➕ Add a provider…").click();
    h.run_steps(2);
    h.get_by_label(kind).click();
    h.run_steps(3);
    // Every field is a labelled widget, for screen readers (and these tests).
    h.check_accessibility();
}

/// Opens the form for a new provider of the kind labelled `kind`, with
/// encryption (ticked by default for the remote kinds) unticked: these
/// tests are about plain providers (`ui_encrypt` has the rest).
fn plain_provider_form(h: &mut H, kind: &str) {
    new_provider_form(h, kind);
    untick_encryption(h);
}

fn untick_encryption(h: &mut H) {
    click_still(h, "Encrypt every copy (age format)");
    h.run_steps(3);
    assert!(
        h.query_by_label("Passphrase").is_none(),
        "encryption unticked"
    );
}

/// Steps until `text` is shown (a label containing it: the form's, and
/// the status line's).
pub(crate) fn settle_on_text(h: &mut H, text: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        h.step();
        if h.query_all_by_label_contains(text).next().is_some() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {text:?} to show"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

fn provider(store: &Store, name: &str) -> Option<ProviderRow> {
    store.provider_by_name(name).unwrap()
}

/// The provider's row in the window (rows are sorted by name), for its
/// buttons.
fn row_index(h: &H, name: &str) -> usize {
    h.state()
        .model
        .snapshot
        .providers
        .iter()
        .position(|p| p.row.name == name)
        .unwrap_or_else(|| panic!("the window lists no provider '{name}'"))
}

/// Clicks the provider's `button` (Test, Edit…), once the rows stopped
/// moving: a row's state ("online") comes from the window's checker thread,
/// and a row whose state text changes moves the buttons beside it, so a
/// click sent where the last frame drew one would land beside it.
pub(crate) fn click_row_button(h: &mut H, name: &str, button: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::time::Instant::now() < deadline
        && h.state()
            .model
            .snapshot
            .providers
            .iter()
            .any(|p| p.row.enabled && p.online.is_none())
    {
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    h.run_steps(2);
    let at = row_index(h, name);
    h.query_all_by_label(button)
        .nth(at)
        .unwrap_or_else(|| panic!("no {button} button for '{name}'"))
        .click();
    h.run_steps(2);
}

/// Clicks Test on the provider; returns the status line it ends with.
fn test_click(h: &mut H, name: &str) -> String {
    click_row_button(h, name, "Test");
    let verdict = |app: &App| {
        let s = &app.model.snapshot;
        s.notice
            .as_deref()
            .filter(|n| n.contains(&format!("provider '{name}' works")))
            .or(s.error.as_deref().filter(|e| e.contains(name)))
            .map(str::to_string)
    };
    settle(h, "the test's verdict", |app| verdict(app).is_some());
    verdict(h.state()).unwrap()
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The secret is in none of the database files.
fn assert_not_in_database(lib: &TempLib, secret: &str) {
    for suffix in ["", "-wal", "-shm"] {
        let path = PathBuf::from(format!("{}{suffix}", lib.db().display()));
        if let Ok(bytes) = std::fs::read(&path) {
            assert!(
                !contains(&bytes, secret),
                "the secret is in {}",
                path.display()
            );
        }
    }
}

fn secrets_file(lib: &TempLib) -> Vec<u8> {
    std::fs::read(lib.path("library-secrets.json")).unwrap_or_default()
}

#[test]
fn a_webdav_provider_added_in_the_window_works_and_keeps_its_password_apart() {
    let lib = TempLib::new();
    let store = library(&lib);
    let port = free_port();
    let password = new_secret("davui");
    let _server = start_webdav(lib.dir.path(), &lib.path("dav-root"), port, &password);
    let mut h = providers_window(&lib);
    plain_provider_form(&mut h, "WebDAV");
    type_into(&mut h, "Name", "dav-ui");
    type_into(&mut h, "Endpoint URL", &format!("http://127.0.0.1:{port}"));
    type_into(&mut h, "Folder on the server", "/breakdex");
    type_into(&mut h, "User", "bx");
    type_into(&mut h, "Password", &password);
    assert_eq!(
        h.get_by_label("Password")
            .value()
            .map(|v| v.contains(&password)),
        Some(false),
        "the password field is masked"
    );
    save(&mut h);
    settle(&mut h, "the provider is added", |app| {
        provider(&store, "dav-ui").is_some() && app.model.snapshot.notice.is_some()
    });
    h.run_steps(2);
    assert!(h.query_by_label("Save").is_none(), "the form closed");

    let row = provider(&store, "dav-ui").unwrap();
    assert_eq!(row.kind.as_str(), "webdav");
    assert_eq!(row.concurrency, 4);
    let secrets_path = lib.path("library-secrets.json");
    assert_eq!(
        row.settings,
        serde_json::json!({
            "endpoint": format!("http://127.0.0.1:{port}"),
            "root": "/breakdex",
            "user": "bx",
            "secret_file": secrets_path,
        })
    );
    let notice = h.state().model.snapshot.notice.clone().unwrap();
    assert_eq!(
        notice,
        format!(
            "provider 'dav-ui' added (secret in file {})",
            secrets_path.display()
        )
    );
    assert_not_in_database(&lib, &password);
    assert!(contains(&secrets_file(&lib), &password));

    let verdict = test_click(&mut h, "dav-ui");
    assert!(verdict.contains("works"), "{verdict}");
    breakdex::providers::test_round_trip(&row).expect("a round trip on the server");
}

#[test]
fn editing_a_webdav_provider_keeps_or_replaces_its_password() {
    let lib = TempLib::new();
    let store = library(&lib);
    let port = free_port();
    let password = new_secret("davui");
    let _server = start_webdav(lib.dir.path(), &lib.path("dav-root"), port, &password);
    let mut h = providers_window(&lib);
    plain_provider_form(&mut h, "WebDAV");
    type_into(&mut h, "Name", "nas");
    type_into(&mut h, "Endpoint URL", &format!("http://127.0.0.1:{port}"));
    type_into(&mut h, "User", "bx");
    type_into(&mut h, "Password", &password);
    save(&mut h);
    settle(&mut h, "the provider is added", |app| {
        app.model
            .snapshot
            .providers
            .iter()
            .any(|p| p.row.name == "nas")
    });
    let id = provider(&store, "nas").unwrap().id;

    // New name and folder, the password field left empty: the stored
    // password stays.
    click_row_button(&mut h, "nas", "Edit");
    h.check_accessibility();
    assert_eq!(
        h.get_by_label("Endpoint URL").value().as_deref(),
        Some(format!("http://127.0.0.1:{port}").as_str()),
        "the form shows the stored settings"
    );
    replace_in(&mut h, "Name", "old-nas");
    replace_in(&mut h, "Folder on the server", "/renamed");
    save(&mut h);
    settle(&mut h, "the provider is saved", |app| {
        app.model
            .snapshot
            .providers
            .iter()
            .any(|p| p.row.name == "old-nas")
    });
    let row = store.provider(&id).unwrap();
    assert_eq!(row.name, "old-nas");
    assert_eq!(row.settings["root"], "/renamed");
    assert_eq!(row.settings["user"], "bx");
    assert!(
        contains(&secrets_file(&lib), &password),
        "the password stays"
    );
    let verdict = test_click(&mut h, "old-nas");
    assert!(verdict.contains("works"), "{verdict}");

    // A typed password replaces the stored one.
    let other = new_secret("other");
    click_row_button(&mut h, "old-nas", "Edit");
    type_into(&mut h, "Password", &other);
    save(&mut h);
    // Until the window shows the save, its status line still holds the
    // first test's verdict.
    settle(
        &mut h,
        "the new password is stored and the save shown",
        |app| {
            contains(&secrets_file(&lib), &other)
                && app
                    .model
                    .snapshot
                    .notice
                    .as_deref()
                    .is_some_and(|n| n.starts_with("provider 'old-nas' saved"))
        },
    );
    assert!(!contains(&secrets_file(&lib), &password));
    assert_not_in_database(&lib, &other);
    let verdict = test_click(&mut h, "old-nas");
    assert!(
        verdict.contains("rejected the user name or password"),
        "{verdict}"
    );
}

#[test]
fn a_bad_endpoint_shows_the_plain_error_in_the_form_and_adds_nothing() {
    let lib = TempLib::new();
    let store = library(&lib);
    let before = store.providers().unwrap().len();
    let mut h = providers_window(&lib);
    // Every kind's fields are labelled widgets.
    for kind in ["Local folder", "S3-compatible", "SFTP"] {
        if h.query_by_label(kind).is_none() {
            h.get_by_label("➕ Add a provider…").click();
            h.run_steps(2);
        }
        h.get_by_label(kind).click();
        h.run_steps(3);
        h.check_accessibility();
    }
    h.get_by_label("WebDAV").click();
    h.run_steps(3);
    untick_encryption(&mut h);
    type_into(&mut h, "Name", "bad");
    type_into(&mut h, "Endpoint URL", "ftp://x");
    type_into(&mut h, "User", "bx");
    type_into(&mut h, "Password", "pw-not-kept");
    save(&mut h);
    settle_on_text(&mut h, "the endpoint must be an http:// or https:// URL");
    // The form stays open, with the problem and without the password.
    assert!(h.query_by_label("Save").is_some());
    assert_eq!(
        h.get_by_label("Password").value().unwrap_or_default(),
        "",
        "the password left the form"
    );
    assert_eq!(store.providers().unwrap().len(), before);
    assert!(provider(&store, "bad").is_none());
    assert!(!contains(&secrets_file(&lib), "pw-not-kept"));
    // Shown twice, in the form and in the status line, each time in the
    // error colour.
    let message = "the endpoint must be an http:// or https:// URL";
    // (The status line hears of it from the model thread, maybe a frame
    // after the form.)
    settle_on(&mut h, "the error in the status line too", |h| {
        h.query_all_by_label_contains(message).count() >= 2
    });
    let shown: Vec<egui::Rect> = h
        .query_all_by_label_contains(message)
        .map(|n| n.rect())
        .collect();
    assert_eq!(shown.len(), 2, "in the form and in the status line");
    let error_fg = format!("{:?}", h.ctx.global_style().visuals.error_fg_color);
    for at in shown {
        let painted = h.output().shapes.iter().any(|s| {
            let text = format!("{:?}", s.shape);
            text.contains(message)
                && text.contains(&error_fg)
                && s.shape.visual_bounding_rect().intersects(at)
        });
        assert!(painted, "the error at {at:?} is painted in {error_fg}");
    }
    // Cancel closes the form, and the status line forgets its problem.
    click_still(&mut h, "Cancel");
    settle(&mut h, "the status line cleared", |app| {
        app.model.snapshot.error.is_none()
    });
    h.run_steps(2);
    assert!(h.query_all_by_label_contains(message).next().is_none());
}

#[test]
fn an_unknown_sftp_host_is_refused_until_its_key_is_trusted() {
    let lib = TempLib::new();
    let store = library(&lib);
    let port = free_port();
    let (_server, key) = start_sftp(lib.dir.path(), port);
    forget_host(port);
    let mut h = providers_window(&lib);
    plain_provider_form(&mut h, "SFTP");
    type_into(&mut h, "Name", "box");
    type_into(&mut h, "Host", "127.0.0.1");
    replace_in(&mut h, "Port", &port.to_string());
    type_into(&mut h, "User", &user_name());
    type_into(&mut h, "Private key file", &key.to_string_lossy());
    type_into(
        &mut h,
        "Folder on the server",
        &lib.path("sftp-root").to_string_lossy(),
    );
    save(&mut h);
    settle_on_text(&mut h, &format!("the host [127.0.0.1]:{port} is not in"));
    assert!(
        h.query_all_by_label_contains("SHA256:").next().is_some(),
        "its keys"
    );
    assert!(provider(&store, "box").is_none());

    click_still(&mut h, "Trust this host's key");
    save(&mut h);
    settle(&mut h, "the provider is added", |app| {
        app.model
            .snapshot
            .providers
            .iter()
            .any(|p| p.row.name == "box")
    });
    let notice = h.state().model.snapshot.notice.clone().unwrap_or_default();
    assert!(
        notice.contains("trusted the host key") && notice.contains("SHA256:"),
        "{notice}"
    );
    let row = provider(&store, "box").unwrap();
    assert_eq!(row.settings["port"], port);
    assert_eq!(row.settings["key"], key.to_string_lossy().as_ref());
    assert!(row.settings.get("secret_file").is_none());
    let verdict = test_click(&mut h, "box");
    forget_host(port);
    assert!(verdict.contains("works"), "{verdict}");
}

#[test]
fn an_s3_provider_added_in_the_window_works() {
    let lib = TempLib::new();
    let store = library(&lib);
    let port = free_port();
    let (_server, key_id, secret) = start_s3(lib.dir.path(), port, true, "");
    let mut h = providers_window(&lib);
    plain_provider_form(&mut h, "S3-compatible");
    type_into(&mut h, "Name", "b2");
    type_into(&mut h, "Endpoint URL", &format!("http://127.0.0.1:{port}"));
    type_into(&mut h, "Bucket", "bx-bucket");
    type_into(&mut h, "Prefix", "photos");
    type_into(&mut h, "Access key ID", &key_id);
    type_into(&mut h, "Secret access key", &secret);
    h.get_by_label("Bucket in the path (MinIO, most self-hosted servers)")
        .click();
    replace_in(&mut h, "Parallel transfers", "6");
    save(&mut h);
    settle(&mut h, "the provider is added", |app| {
        app.model
            .snapshot
            .providers
            .iter()
            .any(|p| p.row.name == "b2")
    });
    let row = provider(&store, "b2").unwrap();
    assert_eq!(row.concurrency, 6);
    assert_eq!(
        row.settings,
        serde_json::json!({
            "endpoint": format!("http://127.0.0.1:{port}"),
            "bucket": "bx-bucket",
            "region": "us-east-1",
            "prefix": "photos",
            "path_style": true,
            "access_key_id": key_id,
            "secret_file": lib.path("library-secrets.json"),
        })
    );
    assert_not_in_database(&lib, &secret);
    assert!(contains(&secrets_file(&lib), &secret));
    let verdict = test_click(&mut h, "b2");
    assert!(verdict.contains("works"), "{verdict}");
}

/// Clicks the form's Save, scrolled into view first (a long form scrolls
/// in the providers window).
pub(crate) fn save(h: &mut Harness<'static, App>) {
    h.get_by_label("Save").scroll_to_me();
    click_still(h, "Save");
}

/// Clicks the widget labelled `label` once it stands still, as a screen
/// reader would (the providers window scrolls a focused field into view
/// with an animation, and a pointer click sent by the harness meanwhile
/// lands where the widget was).
pub(crate) fn click_still(h: &mut Harness<'static, App>, label: &str) {
    let mut was = h.get_by_label(label).rect();
    for _ in 0..200 {
        h.step();
        let now = h.get_by_label(label).rect();
        if now == was {
            break;
        }
        was = now;
    }
    h.get_by_label(label).click_accesskit();
}

#[test]
fn each_provider_says_what_its_scrub_reads_a_month() {
    let lib = TempLib::new();
    // Three 1 MiB copies on the default provider; another one holding none,
    // its scrub off.
    let files: Vec<String> = (0..3)
        .map(|i| {
            let f = lib.write_file(&format!("photos/{i}.jpg"), 1 << 20, i + 7);
            f.to_str().unwrap().to_string()
        })
        .collect();
    let mut add = vec!["add"];
    add.extend(files.iter().map(String::as_str));
    lib.ok(&add);
    lib.ok(&["run", "--until-idle"]);
    let cold = lib.path("cold");
    lib.ok(&[
        "provider",
        "add",
        "local",
        "cold",
        "--root",
        cold.to_str().unwrap(),
    ]);
    lib.ok(&["scrub", "set", "--every", "1d", "--budget", "1M"]);
    lib.ok(&["scrub", "set", "--provider", "cold", "--budget", "0"]);

    let mut h = providers_window(&lib);
    // 3 MiB re-read once a day with a tenth to spare: 3 MiB x 1.1 x 30 =
    // 103,809,024 bytes a month, well under the budget.
    settle_on_text(
        &mut h,
        "scrub reads about 104 MB a month (every 1d, at most 1M/s)",
    );
    assert_eq!(
        h.query_all_by_label_contains("scrub off").count(),
        1,
        "the provider with its scrub off says so"
    );
}

/// In the light theme a text field (the providers form's, the search box)
/// has an outline that stands out from the window, as in the dark theme its
/// fill does.
#[test]
fn text_fields_can_be_seen_in_either_theme() {
    let lib = TempLib::new();
    let h = harness(&lib.db());
    let ctx = &h.ctx;
    let gap = |a: egui::Color32, b: egui::Color32| {
        let (a, b) = (a.to_array(), b.to_array());
        (0..3).map(|i| a[i].abs_diff(b[i])).max().unwrap()
    };
    let light = ctx.style_of(egui::Theme::Light).visuals.clone();
    let outline = light.widgets.inactive.bg_stroke;
    assert!(outline.width >= 1.0, "{outline:?}");
    assert!(gap(outline.color, light.window_fill) >= 40, "{outline:?}");
    assert!(
        gap(outline.color, light.text_edit_bg_color()) >= 40,
        "{outline:?}"
    );
    let dark = ctx.style_of(egui::Theme::Dark).visuals.clone();
    assert!(gap(dark.text_edit_bg_color(), dark.window_fill) >= 15);
}
