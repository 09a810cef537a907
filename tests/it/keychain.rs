//! Secrets in a real OS keychain: GNOME Keyring's Secret Service on a private
//! D-Bus session bus that the test starts (no service activation, so nothing
//! starts behind the test's back), with a WebDAV server (rclone) to use the
//! secret against. `secret-tool` (libsecret) looks into the keychain from
//! outside, as a person's keychain manager would.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::remote::{
    RATE, Server, add_webdav, free_port, need, new_secret, round_trip, start_webdav, throttled,
};

/// The password that unlocks the test keychain.
const UNLOCK: &str = "keychain-unlock-pw";

/// A D-Bus session bus and a GNOME Keyring on it, both stopped when dropped.
struct Keychain {
    dir: PathBuf,
    address: String,
    _bus: Server,
    keyring: Option<Server>,
}

impl Keychain {
    /// A bus in `dir` and an unlocked keyring (made on first start) on it.
    fn start(dir: &Path) -> Keychain {
        let dir = dir.join("keychain");
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let socket = dir.join("bus");
        let config = dir.join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                socket.display()
            ),
        )
        .unwrap();
        let bus = Server::start(
            Command::new(need("dbus-daemon"))
                .arg(format!("--config-file={}", config.display()))
                .arg("--nofork"),
            dir.join("bus.log"),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "the D-Bus daemon did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut keychain = Keychain {
            address: format!("unix:path={}", socket.display()),
            dir,
            _bus: bus,
            keyring: None,
        };
        keychain.start_keyring();
        keychain
    }

    /// Starts GNOME Keyring on the bus, unlocking its login keyring, and
    /// waits until it owns the Secret Service name.
    fn start_keyring(&mut self) {
        let mut cmd = Command::new(need("gnome-keyring-daemon"));
        cmd.args(["--foreground", "--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .env("HOME", &self.dir)
            .env("XDG_DATA_HOME", self.dir.join("data"))
            .env("XDG_RUNTIME_DIR", &self.dir)
            .stdin(Stdio::piped());
        let log = std::fs::File::create(self.dir.join("keyring.log")).unwrap();
        let mut child = cmd
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start gnome-keyring-daemon");
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(UNLOCK.as_bytes()).unwrap();
        drop(stdin);
        self.keyring = Some(Server::adopt(child, self.dir.join("keyring.log")));
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.name_has_owner() {
            assert!(
                Instant::now() < deadline,
                "GNOME Keyring did not take the Secret Service name:\n{}",
                std::fs::read_to_string(self.dir.join("keyring.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop_keyring(&mut self) {
        if let Some(server) = self.keyring.take() {
            server.stop();
        }
        assert!(!self.name_has_owner(), "the keyring is gone");
    }

    fn name_has_owner(&self) -> bool {
        let out = Command::new(need("dbus-send"))
            .args([
                &format!("--bus={}", self.address),
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.secrets",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains("boolean true")
    }

    /// What the keychain holds for a provider id, looked up with libsecret.
    fn lookup(&self, provider_id: &str) -> Option<String> {
        let out = Command::new(need("secret-tool"))
            .args(["lookup", "service", "Breakdex", "username", provider_id])
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .output()
            .unwrap();
        (out.status.success() && !out.stdout.is_empty())
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The environment that points breakdex at this keychain; `store` is
    /// what `BREAKDEX_SECRET_STORE` says.
    fn env(&self, store: &str) -> Vec<(String, String)> {
        vec![
            ("DBUS_SESSION_BUS_ADDRESS".into(), self.address.clone()),
            ("BREAKDEX_SECRET_STORE".into(), store.into()),
        ]
    }
}

fn provider_id(lib: &TempLib, name: &str) -> String {
    lib.read_db()
        .query_row(
            "SELECT id FROM sync_providers WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn secrets_go_to_the_keychain_when_there_is_one() {
    let mut lib = TempLib::new();
    let keychain = Keychain::start(lib.dir.path());
    lib.env = keychain.env("auto");
    let port = free_port();
    let password = new_secret("keychain");
    let _server = start_webdav(lib.dir.path(), &lib.path("dav-root"), port, &password);
    let port = throttled(port, RATE);

    let o = add_webdav(&lib, "nas", port, &password);
    assert_success(&o, "provider add webdav");
    assert!(
        stdout(&o).contains("secret in the OS keychain"),
        "{}",
        stdout(&o)
    );
    let id = provider_id(&lib, "nas");
    assert_eq!(keychain.lookup(&id).as_deref(), Some(password.as_str()));
    assert!(
        !lib.path("library-secrets.json").exists(),
        "no secrets file when the keychain holds the secret"
    );
    let list = stdout(&lib.ok(&["provider", "list"]));
    assert!(list.contains("secret: the OS keychain"), "{list}");

    // Every operation works with the secret from the keychain, and it shows
    // up nowhere else (database, outputs, debug logs).
    round_trip(&lib, "nas", Some(&password));

    let o = lib.ok(&["provider", "remove", "nas"]);
    assert!(
        stdout(&o).contains("removed provider 'nas'"),
        "{}",
        stdout(&o)
    );
    assert_eq!(keychain.lookup(&id), None, "removing forgets the secret");
}

#[test]
fn a_keychain_that_goes_away_makes_its_providers_wait() {
    let mut lib = TempLib::new();
    let mut keychain = Keychain::start(lib.dir.path());
    lib.env = keychain.env("auto");
    let port = free_port();
    let password = new_secret("kcoff");
    let _server = start_webdav(lib.dir.path(), &lib.path("dav-root"), port, &password);
    assert_success(&add_webdav(&lib, "nas", port, &password), "add");

    // The keychain stops: the provider waits as offline, spending no retry,
    // and the run says why.
    keychain.stop_keyring();
    let file = lib.write_file("in/a.bin", 200_000, 7);
    lib.ok(&["add", file.to_str().unwrap(), "--provider", "nas"]);
    let o = lib.exec(&["run", "--until-idle", "--retry-base-ms", "50"]);
    assert_no_panic(&o);
    assert_eq!(o.status.code(), Some(3), "{}\n{}", stdout(&o), stderr(&o));
    assert!(
        stderr(&o)
            .contains("provider 'nas' is offline: its secret cannot be read from the OS keychain"),
        "{}",
        stderr(&o)
    );
    let op = &lib.ops_json()[0];
    assert_eq!(op["status"], "queued", "{op:#?}");
    assert_eq!(op["retry_count"], 0, "{op:#?}");

    // Back (and unlocked): the op completes with the secret it kept.
    keychain.start_keyring();
    let o = lib.exec(&["run", "--until-idle", "--retry-base-ms", "50"]);
    assert_success(&o, "run once the keychain is back");
    assert_eq!(lib.ops_json()[0]["status"], "completed");
    assert!(
        files_under(&lib.path("dav-root"))
            .iter()
            .any(|p| hash_of(p) == hash_of(&file)),
        "the object is on the server"
    );
}

#[test]
fn the_secret_store_can_be_chosen_and_a_missing_keychain_is_explained() {
    let mut lib = TempLib::new();
    let mut keychain = Keychain::start(lib.dir.path());
    let port = free_port();

    // Asked for the file, the file it is, keychain or not.
    lib.env = keychain.env("file");
    let o = add_webdav(&lib, "in-file", port, "file-pw-1");
    assert_success(&o, "add with BREAKDEX_SECRET_STORE=file");
    assert!(stdout(&o).contains("secret in file "), "{}", stdout(&o));
    assert_eq!(keychain.lookup(&provider_id(&lib, "in-file")), None);

    // No keychain on the bus: auto falls back to the file ...
    keychain.stop_keyring();
    lib.env = keychain.env("auto");
    let o = add_webdav(&lib, "fallback", port, "file-pw-2");
    assert_success(&o, "add with no keychain");
    assert!(stdout(&o).contains("secret in file "), "{}", stdout(&o));

    // ... and a keychain asked for by name is a clear error, adding nothing.
    lib.env = keychain.env("keychain");
    let o = add_webdav(&lib, "needs-keychain", port, "kc-pw");
    assert_failure(
        &o,
        "add with BREAKDEX_SECRET_STORE=keychain and no keychain",
    );
    assert!(
        stderr(&o).contains("BREAKDEX_SECRET_STORE=keychain, but the OS keychain is not available"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("kc-pw"));
    let list = stdout(&lib.ok(&["provider", "list"]));
    assert!(!list.contains("needs-keychain"), "{list}");

    // A value that means nothing is refused, naming the choices.
    lib.env = keychain.env("vault");
    let o = add_webdav(&lib, "odd", port, "odd-pw");
    assert_failure(&o, "add with an unknown BREAKDEX_SECRET_STORE");
    assert!(
        stderr(&o).contains("it may be 'keychain', 'file' or 'auto'"),
        "{}",
        stderr(&o)
    );
}
