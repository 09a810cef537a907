//! Remote providers against real servers on 127.0.0.1, started by the tests
//! on free ports and stopped when done: S3 (moto), WebDAV (rclone serve
//! webdav), SFTP (OpenSSH sshd). A missing server program fails the test
//! with a message saying `scripts/test.sh` installs it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// Big enough that an upload spans several multipart parts and progress
/// reports.
const BIG: usize = 48 << 20;
/// Bytes a second through the throttling proxy (see [`throttled`]) in the
/// round trips: a big transfer then lasts about 2.4 s, several progress
/// reports long.
pub(crate) const RATE: u64 = 20 << 20;

// ---------------------------------------------------------------------------
// Servers.

/// A server process, killed and reaped when dropped.
pub(crate) struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    pub(crate) fn start(cmd: &mut Command, log: PathBuf) -> Server {
        let file = std::fs::File::create(&log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        Server { child, log }
    }

    /// A server started by the caller (who needed more than `start` does).
    pub(crate) fn adopt(child: Child, log: PathBuf) -> Server {
        Server { child, log }
    }

    /// Waits until `port` accepts connections (the server is up).
    pub(crate) fn wait_for(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the server ended ({status}) before listening on {port}:\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "nothing listens on {port} after 30 s"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub(crate) fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Fails the test, plainly, when a program the tests need is missing.
pub(crate) fn need(program: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain([PathBuf::from("/usr/sbin")]);
    for dir in dirs {
        let candidate = dir.join(program);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("`{program}` is not installed: run `bash scripts/test.sh`, which installs it");
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh random secret, so that a grep for it finds only real leaks.
pub(crate) fn new_secret(tag: &str) -> String {
    let bytes = pseudo_random(
        12,
        Instant::now().elapsed().as_nanos() as u64 ^ std::process::id() as u64,
    );
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{tag}-{hex}")
}

const MOTO_SETUP: &str = r#"
import json, sys, boto3
port, auth = sys.argv[1], sys.argv[2] == "auth"
kw = dict(endpoint_url="http://127.0.0.1:" + port, region_name="us-east-1")
key_id, secret = "AKIABREAKDEXTEST", sys.argv[3]
if auth:
    iam = boto3.client("iam", aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="x", **kw)
    iam.create_user(UserName="bx")
    k = iam.create_access_key(UserName="bx")["AccessKey"]
    iam.put_user_policy(UserName="bx", PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    key_id, secret = k["AccessKeyId"], k["SecretAccessKey"]
boto3.client("s3", aws_access_key_id=key_id, aws_secret_access_key=secret, **kw).create_bucket(Bucket="bx-bucket")
print(key_id, secret)
"#;

/// An S3 server (moto) on `port` with the bucket `bx-bucket`. With `auth`,
/// it checks keys and the returned key pair is the only one it accepts;
/// without, it takes any key and the pair returned is `secret` with a fixed id.
pub(crate) fn start_s3(
    dir: &Path,
    port: u16,
    auth: bool,
    secret: &str,
) -> (Server, String, String) {
    let moto = need("moto_server");
    let mut cmd = Command::new(moto);
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    if auth {
        // The first three requests (make a user, its key, its policy) need
        // no key; every later one does.
        cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", "3");
    }
    let mut server = Server::start(&mut cmd, dir.join(format!("moto-{port}.log")));
    server.wait_for(port);
    let out = Command::new("python3")
        .args([
            "-c",
            MOTO_SETUP,
            &port.to_string(),
            if auth { "auth" } else { "any" },
            secret,
        ])
        .env_remove("AWS_PROFILE")
        .output()
        .expect("run python3 (run `bash scripts/test.sh`, which installs moto)");
    assert!(
        out.status.success(),
        "setting up moto failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut parts = text.split_whitespace();
    let id = parts.next().unwrap().to_string();
    let key = parts.next().unwrap().to_string();
    (server, id, key)
}

/// A WebDAV server (rclone) on `port` serving `root`, user `bx`.
pub(crate) fn start_webdav(dir: &Path, root: &Path, port: u16, password: &str) -> Server {
    let rclone = need("rclone");
    std::fs::create_dir_all(root).unwrap();
    let mut server = Server::start(
        Command::new(rclone)
            .args(["serve", "webdav"])
            .arg(root)
            .args([
                "--addr",
                &format!("127.0.0.1:{port}"),
                "--user",
                "bx",
                "--pass",
                password,
            ])
            .env("RCLONE_CONFIG", dir.join("rclone.conf")),
        dir.join(format!("rclone-{port}.log")),
    );
    server.wait_for(port);
    server
}

/// An OpenSSH server on `port`, allowing the key `<dir>/client_key` for the
/// current user. Returns the server and the private key's path.
pub(crate) fn start_sftp(dir: &Path, port: u16) -> (Server, PathBuf) {
    let sshd = need("sshd");
    let keygen = need("ssh-keygen");
    let host_key = dir.join("host_key");
    let client_key = dir.join("client_key");
    for key in [&host_key, &client_key] {
        if !key.exists() {
            let ok = Command::new(&keygen)
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(key)
                .status()
                .unwrap();
            assert!(ok.success());
        }
    }
    std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).unwrap();
    let config = dir.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
             UsePAM no\nStrictModes no\nPasswordAuthentication no\nPermitRootLogin prohibit-password\n\
             PidFile {}\nSubsystem sftp internal-sftp\n",
            host_key.display(),
            dir.join("authorized_keys").display(),
            dir.join(format!("sshd-{port}.pid")).display(),
        ),
    )
    .unwrap();
    let _ = std::fs::create_dir_all("/run/sshd");
    let mut server = Server::start(
        Command::new(sshd)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&config),
        dir.join(format!("sshd-{port}.log")),
    );
    server.wait_for(port);
    (server, client_key)
}

/// Removes what a test put in the user's known_hosts for a port.
pub(crate) fn forget_host(port: u16) {
    let _ = Command::new("ssh-keygen")
        .args(["-R", &format!("[127.0.0.1]:{port}")])
        .output();
}

pub(crate) fn user_name() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

// ---------------------------------------------------------------------------
// Running breakdex.

/// Runs breakdex with `input` on standard input.
fn with_stdin(lib: &TempLib, args: &[&str], input: &str) -> Output {
    let mut child = lib
        .cmd()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{input}\n").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Everything a test saw, for the secret grep.
#[derive(Default)]
struct Seen(Vec<u8>);

impl Seen {
    fn add(&mut self, o: &Output) {
        self.0.extend_from_slice(&o.stdout);
        self.0.extend_from_slice(&o.stderr);
    }
}

/// `run --until-idle` with debug logs, watching the queue while it runs:
/// returns its output and whether an op was seen part way (0 < bytes < total).
fn run_watching(lib: &TempLib, seen: &mut Seen) -> (Output, bool, u64) {
    let mut cmd = lib.cmd();
    cmd.args(["run", "--until-idle", "--retry-base-ms", "50"])
        .env("RUST_LOG", "debug");
    let out_path = lib.path(&format!("run-{}.out", Instant::now().elapsed().as_nanos()));
    let err_path = out_path.with_extension("err");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id();
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let mut mid_transfer = false;
    let mut peak_rss_kib = 0u64;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "run did not finish in time");
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/status"))
            && let Some(line) = text.lines().find(|l| l.starts_with("VmRSS:"))
        {
            let kib: u64 = line
                .split_whitespace()
                .nth(1)
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            peak_rss_kib = peak_rss_kib.max(kib);
        }
        if lib.db().exists()
            && let Ok(n) = lib.read_db().query_row(
                "SELECT COUNT(*) FROM sync_operations WHERE status = 'in_progress'
                   AND bytes_transferred > 0 AND bytes_transferred < total_bytes",
                [],
                |r| r.get::<_, i64>(0),
            )
        {
            mid_transfer |= n > 0;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = Output {
        status,
        stdout: std::fs::read(&out_path).unwrap(),
        stderr: std::fs::read(&err_path).unwrap(),
    };
    seen.add(&out);
    (out, mid_transfer, peak_rss_kib)
}

fn ops_of(lib: &TempLib) -> Vec<serde_json::Value> {
    lib.ops_json()
}

/// The full round trip on a provider that is already added: upload (a
/// small and a big file, progress seen), verify, download, delete_remote;
/// then no trace of `secret` anywhere but in its store.
pub(crate) fn round_trip(lib: &TempLib, provider: &str, secret: Option<&str>) {
    let mut seen = Seen::default();
    let o = lib.exec(&["provider", "test", provider]);
    seen.add(&o);
    assert_success(&o, "provider test");
    assert!(stdout(&o).contains("works"), "{}", stdout(&o));

    let small = lib.write_file("in/small.bin", 100_000, 1);
    let big = lib.write_file("in/big.bin", BIG, 2);
    let (small_hash, big_hash) = (hash_of(&small), hash_of(&big));
    let in_dir = lib.path("in");
    seen.add(&lib.ok(&["add", in_dir.to_str().unwrap(), "--provider", provider]));

    let started = Instant::now();
    let (o, mid, rss) = run_watching(lib, &mut seen);
    assert_success(&o, "run (uploads)");
    eprintln!(
        "{provider}: uploaded {} MiB in {:?}, peak RSS {} MiB",
        (BIG + 100_000) >> 20,
        started.elapsed(),
        rss >> 10
    );
    assert!(
        mid,
        "{provider}: no progress was seen part way through the big upload"
    );
    let ops = ops_of(lib);
    assert!(ops.iter().all(|op| op["status"] == "completed"), "{ops:#?}");

    // Verify both copies.
    seen.add(&lib.ok(&["enqueue", "verify", "--provider", provider]));
    let (o, _, _) = run_watching(lib, &mut seen);
    assert_success(&o, "run (verify)");
    assert_eq!(run_summary(&o)["completed"], 2, "{}", stdout(&o));

    // Download the big one back after its local file is gone.
    std::fs::remove_file(&big).unwrap();
    seen.add(&lib.ok(&[
        "enqueue",
        "download",
        "--provider",
        provider,
        "--hash",
        &big_hash,
    ]));
    let (o, mid, _) = run_watching(lib, &mut seen);
    assert_success(&o, "run (download)");
    assert!(
        mid,
        "{provider}: no progress was seen part way through the download"
    );
    let back: Vec<PathBuf> = files_under(&lib.files_dir())
        .into_iter()
        .filter(|p| !p.to_string_lossy().contains(".breakdex-tmp"))
        .collect();
    assert!(
        back.iter().any(|p| hash_of(p) == big_hash),
        "{provider}: the download is not in the library folder: {back:?}"
    );

    // Delete both; a verify afterwards finds them missing.
    seen.add(&lib.ok(&["enqueue", "delete_remote", "--provider", provider]));
    let (o, _, _) = run_watching(lib, &mut seen);
    assert_success(&o, "run (delete_remote)");
    assert_eq!(run_summary(&o)["completed"], 2, "{}", stdout(&o));
    seen.add(&lib.ok(&[
        "enqueue",
        "verify",
        "--provider",
        provider,
        "--hash",
        &small_hash,
    ]));
    let (o, _, _) = run_watching(lib, &mut seen);
    assert!(!o.status.success(), "a verify of a deleted copy must fail");
    let failed = ops_of(lib)
        .into_iter()
        .find(|op| op["status"] == "failed")
        .expect("the verify failed");
    let reason = failed["error_message"].as_str().unwrap_or_default();
    assert!(reason.contains("missing"), "{reason}");

    if let Some(secret) = secret {
        assert_secret_nowhere(lib, secret, &seen);
    }
}

/// The secret is in none of: the database files, the outputs and debug logs.
fn assert_secret_nowhere(lib: &TempLib, secret: &str, seen: &Seen) {
    let needle = secret.as_bytes();
    let contains = |hay: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    // Nor as an HTTP Basic authorization header (WebDAV's user is `bx`).
    let basic = base64(format!("bx:{secret}").as_bytes());
    assert!(
        !seen.0.windows(basic.len()).any(|w| w == basic.as_bytes()),
        "the secret appears base64-encoded in the output or logs"
    );
    let list = lib.ok(&["provider", "list"]);
    let list_json = lib.ok(&["provider", "list", "--json"]);
    for o in [&list, &list_json] {
        assert!(
            !contains(&o.stdout) && !contains(&o.stderr),
            "provider list shows the secret"
        );
    }
    if let Some(at) = seen.0.windows(needle.len()).position(|w| w == needle) {
        let around = &seen.0[at.saturating_sub(300)..(at + needle.len() + 100).min(seen.0.len())];
        let around = String::from_utf8_lossy(around).replace(secret, "<SECRET>");
        panic!("the secret appears in the output or logs: …{around}…");
    }
    assert!(seen.0.len() > 1000, "debug logs were captured");
    let db = lib.db();
    for suffix in ["", "-wal", "-shm"] {
        let path = PathBuf::from(format!("{}{suffix}", db.display()));
        if let Ok(bytes) = std::fs::read(&path) {
            assert!(!contains(&bytes), "the secret is in {}", path.display());
        }
    }
}

/// The secret is in the secrets file, which only the user can read, and
/// `provider list` says so.
fn assert_secret_in_file(lib: &TempLib, secret: &str) {
    use std::os::unix::fs::PermissionsExt;
    let list = stdout(&lib.ok(&["provider", "list"]));
    assert!(list.contains("secret: file "), "{list}");
    let store = lib.path("library-secrets.json");
    assert!(std::fs::read_to_string(&store).unwrap().contains(secret));
    assert_eq!(
        std::fs::metadata(&store).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

pub(crate) fn add_s3(lib: &TempLib, name: &str, port: u16, key_id: &str, secret: &str) -> Output {
    add_s3_with(lib, name, port, key_id, secret, &[])
}

/// [`add_s3`] with `extra` arguments (`--encrypt`, ...).
pub(crate) fn add_s3_with(
    lib: &TempLib,
    name: &str,
    port: u16,
    key_id: &str,
    secret: &str,
    extra: &[&str],
) -> Output {
    let endpoint = format!("http://127.0.0.1:{port}");
    let mut args = vec![
        "provider",
        "add",
        "s3",
        name,
        "--endpoint",
        &endpoint,
        "--bucket",
        "bx-bucket",
        "--path-style",
        "--access-key-id",
        key_id,
        "--secret-stdin",
    ];
    args.extend_from_slice(extra);
    with_stdin(lib, &args, secret)
}

pub(crate) fn add_webdav(lib: &TempLib, name: &str, port: u16, password: &str) -> Output {
    add_webdav_with(lib, name, port, password, &[])
}

/// [`add_webdav`] with `extra` arguments (`--encrypt`, ...).
pub(crate) fn add_webdav_with(
    lib: &TempLib,
    name: &str,
    port: u16,
    password: &str,
    extra: &[&str],
) -> Output {
    let endpoint = format!("http://127.0.0.1:{port}");
    let mut args = vec![
        "provider",
        "add",
        "webdav",
        name,
        "--endpoint",
        &endpoint,
        "--root",
        "/breakdex",
        "--user",
        "bx",
        "--secret-stdin",
    ];
    args.extend_from_slice(extra);
    with_stdin(lib, &args, password)
}

/// One file added for `provider`, run once: the op fails at once, for good,
/// with a reason naming the provider; no retry was spent.
fn assert_rejected(lib: &TempLib, provider: &str, reason: &str) {
    let file = lib.write_file("in/one.bin", 10_000, 9);
    lib.ok(&["add", file.to_str().unwrap(), "--provider", provider]);
    let o = lib.exec(&["run", "--until-idle", "--retry-base-ms", "50"]);
    assert_failure(&o, "run with wrong credentials");
    assert_eq!(run_summary(&o)["retried"], 0, "{}", stdout(&o));
    let ops = ops_of(lib);
    assert_eq!(ops.len(), 1, "{ops:#?}");
    let op = &ops[0];
    assert_eq!(op["status"], "failed");
    assert_eq!(op["retry_count"], op["max_retries"], "{op:#?}");
    let message = op["error_message"].as_str().unwrap_or_default();
    assert!(message.contains(reason), "{message}");
}

/// One file for a provider whose server is not up: the run ends with exit 3,
/// the op still queued and no retry spent; once the server is up, it
/// completes.
fn assert_waits_offline(lib: &TempLib, provider: &str, start: impl FnOnce()) {
    let file = lib.write_file("in/later.bin", 200_000, 5);
    lib.ok(&["add", file.to_str().unwrap(), "--provider", provider]);
    let o = lib.exec(&["run", "--until-idle", "--retry-base-ms", "50"]);
    assert_no_panic(&o);
    assert_eq!(o.status.code(), Some(3), "{}\n{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains("offline"), "{}", stderr(&o));
    let op = &ops_of(lib)[0];
    assert_eq!(op["status"], "queued", "{op:#?}");
    assert_eq!(op["retry_count"], 0, "{op:#?}");
    let status = lib.status_json();
    let shown = status["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == provider)
        .expect("status lists the provider")
        .clone();
    assert_eq!(shown["online"], false, "{shown:#?}");
    assert!(
        shown["problem"].as_str().unwrap_or("").contains("offline"),
        "{shown:#?}"
    );
    start();
    let o = lib.exec(&["run", "--until-idle", "--retry-base-ms", "50"]);
    assert_success(&o, "run once the server is up");
    assert_eq!(ops_of(lib)[0]["status"], "completed");
}

// ---------------------------------------------------------------------------
// S3.

#[test]
fn s3_round_trip_with_progress_and_no_secret_leaks() {
    let lib = TempLib::new();
    let port = free_port();
    let (_server, key_id, secret) = start_s3(lib.dir.path(), port, true, "unused");
    let port = throttled(port, RATE);
    assert_success(
        &add_s3(&lib, "s3x", port, &key_id, &secret),
        "provider add s3",
    );
    round_trip(&lib, "s3x", Some(&secret));
    assert_secret_in_file(&lib, &secret);
}

#[test]
fn s3_wrong_secret_fails_at_once_with_a_plain_reason() {
    let lib = TempLib::new();
    let port = free_port();
    let (_server, key_id, secret) = start_s3(lib.dir.path(), port, true, "unused");

    // The right key, a bucket that does not exist.
    let other = TempLib::new();
    let o = with_stdin(
        &other,
        &[
            "provider",
            "add",
            "s3",
            "nobucket",
            "--endpoint",
            &format!("http://127.0.0.1:{port}"),
            "--bucket",
            "no-such-bucket",
            "--path-style",
            "--access-key-id",
            &key_id,
            "--secret-stdin",
        ],
        &secret,
    );
    assert_success(&o, "add");
    assert_rejected(
        &other,
        "nobucket",
        "the bucket of provider 'nobucket' does not exist",
    );

    assert_success(
        &add_s3(&lib, "b2-photos", port, &key_id, "not-the-secret"),
        "add",
    );
    let o = lib.exec(&["provider", "test", "b2-photos"]);
    assert_failure(&o, "provider test with a wrong secret");
    assert!(
        stderr(&o).contains("S3 rejected the access key for provider 'b2-photos'"),
        "{}",
        stderr(&o)
    );
    assert_rejected(
        &lib,
        "b2-photos",
        "S3 rejected the access key for provider 'b2-photos'",
    );
}

#[test]
fn s3_offline_from_the_start_waits_then_completes() {
    let lib = TempLib::new();
    let port = free_port();
    let secret = new_secret("s3off");
    assert_success(
        &add_s3(&lib, "s3off", port, "AKIABREAKDEXTEST", &secret),
        "add",
    );
    let mut server = None;
    assert_waits_offline(&lib, "s3off", || {
        server = Some(start_s3(lib.dir.path(), port, false, &secret));
    });

    // A copy changed on the server: verify reports it and marks it bad.
    assert_corruption_found_with(&lib, "s3off", |hash| {
        let key = format!("objects/{}/{}/{hash}", &hash[..2], &hash[2..4]);
        let script = "body = bytearray(c.get_object(Bucket='bx-bucket', Key=sys.argv[1])['Body'].read())\n\
            body[1000] ^= 0xff\n\
            c.put_object(Bucket='bx-bucket', Key=sys.argv[1], Body=bytes(body))\n";
        with_boto3(port, script, &[&key]);
    });
}

// ---------------------------------------------------------------------------
// WebDAV.

#[test]
fn webdav_round_trip_with_progress_and_no_secret_leaks() {
    let lib = TempLib::new();
    let port = free_port();
    let password = new_secret("dav");
    let _server = start_webdav(lib.dir.path(), &lib.path("dav-root"), port, &password);
    // rclone's --bwlimit slows its writes to disk, not its reading of the
    // request, so the throttle sits in front of it.
    let port = throttled(port, RATE);
    assert_success(
        &add_webdav(&lib, "davx", port, &password),
        "provider add webdav",
    );
    round_trip(&lib, "davx", Some(&password));
    assert_secret_in_file(&lib, &password);
}

#[test]
fn webdav_wrong_password_fails_at_once_and_offline_waits() {
    let lib = TempLib::new();
    let port = free_port();
    let password = new_secret("dav");
    let server = start_webdav(lib.dir.path(), &lib.path("dav-root"), port, &password);
    assert_success(&add_webdav(&lib, "nas", port, "wrong-password"), "add");
    assert_rejected(
        &lib,
        "nas",
        "rejected the user name or password for provider 'nas'",
    );
    server.stop();

    let lib = TempLib::new();
    assert_success(&add_webdav(&lib, "nas", port, &password), "add");
    let mut server = None;
    assert_waits_offline(&lib, "nas", || {
        server = Some(start_webdav(
            lib.dir.path(),
            &lib.path("dav-root"),
            port,
            &password,
        ));
    });
}

// ---------------------------------------------------------------------------
// SFTP.

#[test]
fn sftp_round_trip_with_host_key_check() {
    let lib = TempLib::new();
    let server_port = free_port();
    let (_server, key) = start_sftp(lib.dir.path(), server_port);
    let port = throttled(server_port, RATE);
    forget_host(port);
    let user = user_name();
    let args = |trust: bool| {
        let mut a = vec![
            "provider".to_string(),
            "add".into(),
            "sftp".into(),
            "box".into(),
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            port.to_string(),
            "--user".into(),
            user.clone(),
            "--key".into(),
            key.to_string_lossy().into_owned(),
            "--root".into(),
            lib.path("sftp-root").to_string_lossy().into_owned(),
        ];
        if trust {
            a.push("--trust-new-host".into());
        }
        a
    };
    let unknown = lib.exec(&args(false).iter().map(String::as_str).collect::<Vec<_>>());
    assert_failure(&unknown, "adding an unknown host");
    assert!(
        stderr(&unknown).contains("--trust-new-host"),
        "{}",
        stderr(&unknown)
    );
    let trusted = lib.exec(&args(true).iter().map(String::as_str).collect::<Vec<_>>());
    assert_success(&trusted, "adding a host on purpose");
    assert!(stdout(&trusted).contains("SHA256:"), "{}", stdout(&trusted));
    round_trip(&lib, "box", None);
    forget_host(port);
}

// ---------------------------------------------------------------------------
// Faults and memory, on every kind.

/// A large upload holds a bounded amount of memory, whatever the file's size:
/// S3 multipart (8 MiB parts, 4 in flight; files above the 100 MiB single
/// PUT limit), a streaming WebDAV PUT, SFTP writes in pieces. The file (192 MiB) is bigger than the limit.
#[test]
fn large_uploads_keep_memory_flat_on_every_kind() {
    const SIZE: u64 = 192 << 20;
    const LIMIT_MIB: u64 = 128;
    let lib = TempLib::new();
    let big = lib.path("huge/zeros.bin");
    std::fs::create_dir_all(big.parent().unwrap()).unwrap();
    std::fs::File::create(&big).unwrap().set_len(SIZE).unwrap();

    let (s3_port, dav_port, ssh_port) = (free_port(), free_port(), free_port());
    let (_s3, key_id, secret) = start_s3(lib.dir.path(), s3_port, false, "flat-secret");
    assert_success(&add_s3(&lib, "s3", s3_port, &key_id, &secret), "add s3");
    let _dav = start_webdav(lib.dir.path(), &lib.path("dav-root"), dav_port, "pw-flat");
    assert_success(&add_webdav(&lib, "dav", dav_port, "pw-flat"), "add webdav");
    forget_host(ssh_port);
    let ssh_dir = lib.path("ssh");
    std::fs::create_dir_all(&ssh_dir).unwrap();
    let (_ssh, key) = start_sftp(&ssh_dir, ssh_port);
    add_sftp(&lib, "sftp", ssh_port, &key, true);

    for provider in ["s3", "dav", "sftp"] {
        lib.ok(&["add", big.to_str().unwrap(), "--provider", provider]);
        let started = Instant::now();
        let (o, _, rss) = run_watching(&lib, &mut Seen::default());
        assert_success(&o, "run");
        eprintln!(
            "{provider}: {} MiB uploaded in {:?}, peak RSS {} MiB",
            SIZE >> 20,
            started.elapsed(),
            rss >> 10
        );
        assert!(
            rss >> 10 < LIMIT_MIB,
            "{provider}: peak RSS {} MiB for a {} MiB file",
            rss >> 10,
            SIZE >> 20
        );
    }
    forget_host(ssh_port);
}

pub(crate) fn add_sftp(lib: &TempLib, name: &str, port: u16, key: &Path, trust: bool) -> Output {
    add_sftp_with(lib, name, port, key, trust, &[])
}

/// [`add_sftp`] with `extra` arguments (`--encrypt`, `--root` instead of
/// the library's own `sftp-root-NAME`, ...).
pub(crate) fn add_sftp_with(
    lib: &TempLib,
    name: &str,
    port: u16,
    key: &Path,
    trust: bool,
    extra: &[&str],
) -> Output {
    let root = lib.path(&format!("sftp-root-{name}"));
    let port = port.to_string();
    let user = user_name();
    let mut args = vec![
        "provider",
        "add",
        "sftp",
        name,
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--user",
        &user,
        "--key",
        key.to_str().unwrap(),
    ];
    if !extra.contains(&"--root") {
        args.extend(["--root", root.to_str().unwrap()]);
    }
    if trust {
        args.push("--trust-new-host");
    }
    args.extend_from_slice(extra);
    let o = lib.exec(&args);
    if trust {
        assert_success(&o, "provider add sftp");
    }
    o
}

/// A copy whose bytes were changed on the server's disk: verify fails it
/// as corrupt, and the copy is recorded as bad.
fn assert_corruption_found(lib: &TempLib, provider: &str, object: impl Fn(&str) -> PathBuf) {
    assert_corruption_found_with(lib, provider, |hash| {
        let on_disk = object(hash);
        let mut bytes = std::fs::read(&on_disk)
            .unwrap_or_else(|e| panic!("{provider}: no object at {}: {e}", on_disk.display()));
        bytes[1000] ^= 0xff;
        std::fs::write(&on_disk, bytes).unwrap();
    });
}

/// The same, with `corrupt` changing the stored copy of a hash on the server.
fn assert_corruption_found_with(lib: &TempLib, provider: &str, corrupt: impl Fn(&str)) {
    let file = lib.write_file("in/precious.bin", 300_000, 77);
    let hash = hash_of(&file);
    lib.ok(&["add", file.to_str().unwrap(), "--provider", provider]);
    assert_success(&lib.exec(&["run", "--until-idle"]), "upload");
    corrupt(&hash);
    lib.ok(&["enqueue", "verify", "--provider", provider, "--hash", &hash]);
    let o = lib.exec(&["run", "--until-idle"]);
    assert_failure(&o, "verify of a corrupted copy");
    let failed = ops_of(lib)
        .into_iter()
        .find(|op| op["status"] == "failed" && op["content_hash"] == hash.as_str())
        .expect("the verify failed");
    let reason = failed["error_message"].as_str().unwrap_or_default();
    assert!(reason.contains("corrupt"), "{reason}");
    let status: String = lib
        .read_db()
        .query_row(
            "SELECT c.verify_status FROM asset_copies c JOIN sync_providers p ON p.id = c.provider_id
             WHERE p.name = ?1 AND c.content_hash = ?2",
            [provider, hash.as_str()],
            |r| r.get(0),
        )
        .expect("the copy is recorded");
    // Found, then repaired from the local bytes in the same run.
    assert_eq!(status, "ok");
    let repaired = ops_of(lib).into_iter().any(|op| {
        op["content_hash"] == hash.as_str()
            && op["status"] == "completed"
            && op["reason"] == format!("repair: the copy on {provider} was corrupt").as_str()
    });
    assert!(repaired, "{:#?}", ops_of(lib));
}

#[test]
fn sftp_wrong_key_offline_and_corruption() {
    let lib = TempLib::new();
    let port = free_port();
    forget_host(port);
    let (server, key) = start_sftp(lib.dir.path(), port);
    // Trusted on purpose, then the key that the server does not know.
    add_sftp(&lib, "box", port, &key, true);
    let stranger = lib.path("stranger_key");
    assert!(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&stranger)
            .status()
            .unwrap()
            .success()
    );
    assert_success(&add_sftp(&lib, "intruder", port, &stranger, false), "add");
    assert_rejected(&lib, "intruder", "rejected the key for provider 'intruder'");

    // A copy changed on the server's disk.
    let root = lib.path("sftp-root-box");
    assert_corruption_found(&lib, "box", |hash| object_path(&root, hash));
    server.stop();

    // The server down from the start of a run: ops wait, then finish.
    let lib2 = TempLib::new();
    let (server, key2) = start_sftp(lib.dir.path(), port);
    assert_eq!(key, key2);
    add_sftp(&lib2, "box", port, &key, true);
    server.stop();
    let mut server = None;
    assert_waits_offline(&lib2, "box", || {
        server = Some(start_sftp(lib.dir.path(), port));
    });
    forget_host(port);
}

#[test]
fn webdav_corruption_is_found_and_a_restarted_server_loses_nothing() {
    let lib = TempLib::new();
    let port = free_port();
    let password = new_secret("dav");
    let root = lib.path("dav-root");
    let server = start_webdav(lib.dir.path(), &root, port, &password);
    assert_success(&add_webdav(&lib, "nas", port, &password), "add");
    assert_corruption_found(&lib, "nas", |hash| {
        object_path(&root.join("breakdex"), hash)
    });

    // Many files; the server is stopped once some are stored, then started
    // again: every upload completes, each object is whole and stored once.
    let mut hashes = Vec::new();
    for i in 0..24 {
        let f = lib.write_file(&format!("many/f{i:02}.bin"), 1 << 20, 1000 + i);
        hashes.push(hash_of(&f));
    }
    lib.ok(&[
        "add",
        lib.path("many").to_str().unwrap(),
        "--provider",
        "nas",
    ]);
    let mut run = lib
        .cmd()
        .args([
            "run",
            "--until-idle",
            "--concurrency",
            "2",
            "--retry-base-ms",
            "50",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    loop {
        let done: i64 = lib
            .read_db()
            .query_row(
                "SELECT COUNT(*) FROM sync_operations WHERE status = 'completed'
                   AND operation_type = 'upload' AND total_bytes = ?1",
                [1i64 << 20],
                |r| r.get(0),
            )
            .unwrap();
        if done >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "no upload completed");
        assert!(run.try_wait().unwrap().is_none(), "the run ended too early");
        std::thread::sleep(Duration::from_millis(10));
    }
    server.stop();
    let status = run.wait().unwrap();
    let (_, _, completed, _) = lib.status_counts();
    eprintln!("run after the server stopped: {status}, {completed} ops completed");
    let _server = start_webdav(lib.dir.path(), &root, port, &password);
    let o = lib.exec(&["run", "--until-idle", "--retry-base-ms", "50"]);
    assert_success(&o, "run after the restart");
    let ops: Vec<_> = ops_of(&lib)
        .into_iter()
        .filter(|op| op["total_bytes"] == 1 << 20)
        .collect();
    assert_eq!(ops.len(), hashes.len());
    assert!(ops.iter().all(|op| op["status"] == "completed"), "{ops:#?}");
    let objects: Vec<PathBuf> = files_under(&root.join("breakdex").join("objects"));
    for hash in &hashes {
        let path = object_path(&root.join("breakdex"), hash);
        assert_eq!(&hash_of(&path), hash, "a torn object at {}", path.display());
    }
    assert_eq!(objects.len(), hashes.len() + 1, "{objects:#?}");
}

// ---------------------------------------------------------------------------
// A server lost in the middle of a run, and back: SFTP and S3 (the WebDAV
// case is above).

/// How many small files (256 KiB each) an outage test uploads, beside its
/// two big ones.
const OUTAGE_SMALL: u64 = 40;

/// The files an outage test uploaded.
struct Outage {
    /// The content hash of every file, small ones first.
    hashes: Vec<String>,
}

/// Removes the known_hosts entry for a port when dropped (at the end of a
/// test, passed or failed).
struct ForgetHost(u16);

impl Drop for ForgetHost {
    fn drop(&mut self) {
        forget_host(self.0);
    }
}

/// `breakdex run --until-idle` in the background, its output in files; killed
/// when dropped if it is still running.
struct BackgroundRun {
    child: Option<Child>,
    out: PathBuf,
    err: PathBuf,
}

impl BackgroundRun {
    fn start(lib: &TempLib, tag: &str) -> BackgroundRun {
        let out = lib.path(&format!("{tag}.out"));
        let err = lib.path(&format!("{tag}.err"));
        let child = lib
            .cmd()
            .args(["run", "--until-idle", "--retry-base-ms", "50"])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        BackgroundRun {
            child: Some(child),
            out,
            err,
        }
    }

    fn ended(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|c| c.try_wait().unwrap().is_some())
    }

    /// Waits for the run to end (failing the test after `COMMAND_TIMEOUT`).
    fn finish(mut self) -> Output {
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the run did not end within {COMMAND_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Output {
            status,
            stdout: std::fs::read(&self.out).unwrap(),
            stderr: std::fs::read(&self.err).unwrap(),
        }
    }
}

impl Drop for BackgroundRun {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The processes `pid` started, and theirs, read from /proc.
fn descendants(pid: u32) -> Vec<u32> {
    let mut children: std::collections::HashMap<u32, Vec<u32>> = Default::default();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(id) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`; the name may hold spaces and parens.
        let after = &stat[stat.rfind(')').map_or(0, |i| i + 1)..];
        if let Some(ppid) = after.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
            children.entry(ppid).or_default().push(id);
        }
    }
    let mut found = Vec::new();
    let mut stack = vec![pid];
    while let Some(p) = stack.pop() {
        for &c in children.get(&p).into_iter().flatten() {
            found.push(c);
            stack.push(c);
        }
    }
    found
}

/// Takes a server down as a host that crashes would: the listener and every
/// process it started die at once (sshd's per-connection session processes
/// would otherwise outlive the listener and carry on the transfers), so live
/// connections break and new ones are refused. The tree is frozen first, so
/// that nothing forks while it is read.
fn crash(server: Server) {
    let pid = server.child.id();
    let signal = |p: u32, s: i32| {
        // SAFETY: kill has no memory preconditions; `p` is a process of
        // this test (the server or one it started).
        unsafe { libc::kill(p as libc::pid_t, s) };
    };
    signal(pid, libc::SIGSTOP);
    let mut frozen = vec![pid];
    loop {
        let more: Vec<u32> = descendants(pid)
            .into_iter()
            .filter(|p| !frozen.contains(p))
            .collect();
        if more.is_empty() {
            break;
        }
        for p in more {
            signal(p, libc::SIGSTOP);
            frozen.push(p);
        }
    }
    for &p in frozen.iter().rev() {
        signal(p, libc::SIGKILL);
    }
    server.stop();
}

/// A TCP relay on a port of its own to a server on 127.0.0.1, standing for
/// that server: [`Relay::stop`] closes its listener (new connections are
/// refused) and breaks every connection it carries (transfers in flight
/// fail), as a server that goes down would; [`Relay::start`] listens again
/// on the same port. For moto, which keeps its buckets in memory and so
/// cannot itself be restarted.
pub(crate) struct Relay {
    pub(crate) port: u16,
    target: u16,
    /// Bytes carried from clients to the server, request heads included.
    sent: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Both ends of every connection carried, to break them on `stop`.
    live: std::sync::Arc<std::sync::Mutex<Vec<TcpStream>>>,
    accepting: Option<(
        std::sync::Arc<std::sync::atomic::AtomicBool>,
        std::thread::JoinHandle<()>,
    )>,
}

impl Relay {
    pub(crate) fn new(target: u16) -> Relay {
        let mut relay = Relay {
            port: free_port(),
            target,
            sent: Default::default(),
            live: Default::default(),
            accepting: None,
        };
        relay.start();
        relay
    }

    fn start(&mut self) {
        use std::sync::atomic::{AtomicBool, Ordering};
        assert!(self.accepting.is_none(), "the relay is already up");
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match std::net::TcpListener::bind(("127.0.0.1", self.port)) {
                Ok(l) => break l,
                Err(e) => {
                    assert!(Instant::now() < deadline, "cannot listen again: {e}");
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        };
        // Polled, so that `stop` can close it.
        listener.set_nonblocking(true).unwrap();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let (flag, live, target) = (stop.clone(), self.live.clone(), self.target);
        let sent = self.sent.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                let client = match listener.accept() {
                    Ok((client, _)) => client,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(2));
                        continue;
                    }
                };
                let _ = client.set_nonblocking(false);
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                {
                    let mut live = live.lock().unwrap();
                    live.push(client.try_clone().unwrap());
                    live.push(server.try_clone().unwrap());
                }
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let sent = sent.clone();
                std::thread::spawn(move || relay_pump(client, server, Some(&sent)));
                std::thread::spawn(move || relay_pump(s2, c2, None));
            }
            // The listener is dropped here: the port refuses connections.
        });
        self.accepting = Some((stop, thread));
    }

    /// Bytes carried from clients to the server so far.
    pub(crate) fn sent(&self) -> u64 {
        self.sent.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn stop(&mut self) {
        if let Some((stop, thread)) = self.accepting.take() {
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            thread.join().unwrap();
        }
        for s in self.live.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Copies `from` to `to` until either ends, counting the bytes in `count`.
fn relay_pump(
    mut from: TcpStream,
    mut to: TcpStream,
    count: Option<&std::sync::atomic::AtomicU64>,
) {
    let mut buf = vec![0; 256 << 10];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
        if let Some(count) = count {
            count.fetch_add(n as u64, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

/// Upload ops of `provider`, read-only: (completed, in progress part way
/// through, released or failed because the provider was offline).
fn upload_counts(lib: &TempLib, provider: &str) -> (i64, i64, i64) {
    lib.read_db()
        .query_row(
            "SELECT COALESCE(SUM(o.status = 'completed'), 0),
                    COALESCE(SUM(o.status = 'in_progress' AND o.bytes_transferred > 0
                                 AND o.bytes_transferred < o.total_bytes), 0),
                    COALESCE(SUM(o.error_message LIKE '%offline%'), 0)
             FROM sync_operations o JOIN sync_providers p ON p.id = o.provider_id
             WHERE p.name = ?1 AND o.operation_type = 'upload'",
            [provider],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
}

/// Uploads `OUTAGE_SMALL` files of 256 KiB and two of `big` bytes (those
/// first) to `provider` in a run that loses its server part way: `stop` is
/// called once some uploads completed (and, when it can be seen, one is
/// part way) but not all, `start` once the run noticed (it found the
/// provider offline, or ended; at most 20 s). The run is then
/// let finish, or run again if it ended with exit 3 (provider offline,
/// documented). Checks the queue's side: one completed upload per file and
/// no other op, retries spent only on transfers the outage broke, one good
/// copy recorded per file.
fn upload_through_an_outage(
    lib: &TempLib,
    provider: &str,
    big: usize,
    stop: impl FnOnce(),
    start: impl FnOnce(),
) -> Outage {
    let mut hashes = Vec::new();
    for i in 0..OUTAGE_SMALL {
        let f = lib.write_file(&format!("outage/small/f{i:02}.bin"), 256 << 10, 5000 + i);
        hashes.push(hash_of(&f));
    }
    for i in 0..2 {
        let f = lib.write_file(&format!("outage/big/b{i}.bin"), big, 6000 + i);
        hashes.push(hash_of(&f));
    }
    let total = hashes.len() as i64;
    for (dir, priority) in [("outage/big", "1"), ("outage/small", "0")] {
        lib.ok(&[
            "add",
            lib.path(dir).to_str().unwrap(),
            "--provider",
            provider,
            "--priority",
            priority,
        ]);
    }

    let started = Instant::now();
    let mut run = BackgroundRun::start(lib, "outage-run-1");
    let deadline = Instant::now() + Duration::from_secs(30);
    let (done, mid) = loop {
        let (done, mid, _) = upload_counts(lib, provider);
        if done >= 4 && (mid > 0 || done >= 12) {
            break (done, mid);
        }
        assert!(
            !run.ended() && done < total,
            "{provider}: the run ended before the server could be stopped \
             ({done} of {total} uploaded): the files must be bigger"
        );
        assert!(
            Instant::now() < deadline,
            "{provider}: only {done} of {total} uploads completed in 30 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    stop();
    let stopped_after = started.elapsed();

    // The run notices: after the transfers that broke, the provider refuses
    // connections and its ops go back to the queue as offline.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !run.ended() && upload_counts(lib, provider).2 == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let (noticed, _, offline) = upload_counts(lib, provider);
    start();
    let first = run.finish();
    assert_no_panic(&first);
    let (after_first, _, _) = upload_counts(lib, provider);
    eprintln!(
        "{provider}: server stopped after {stopped_after:?} with {done} of {total} uploaded \
         ({mid} part way); {noticed} done and {offline} released as offline when it was back; \
         the first run ended with {} after {} uploads: {}{}",
        first.status,
        after_first,
        stdout(&first).trim(),
        stderr(&first)
            .lines()
            .filter(|l| l.starts_with("breakdex:") || l.contains("op failed"))
            .map(|l| format!("\n  {l}"))
            .collect::<String>()
    );
    match first.status.code() {
        Some(0) => assert_eq!(after_first, total, "exit 0 with uploads left"),
        // Exit 3 (a provider was offline) whether or not uploads are left.
        Some(3) => {
            assert!(stderr(&first).contains("offline"), "{}", stderr(&first));
            let again = Instant::now();
            let second = lib.exec(&["run", "--until-idle", "--retry-base-ms", "50"]);
            assert_success(&second, "the run after the server came back");
            eprintln!(
                "{provider}: the second run took {:?}: {}",
                again.elapsed(),
                stdout(&second).trim()
            );
        }
        _ => panic!(
            "{provider}: the run through the outage ended with {}:\n{}\n{}",
            first.status,
            stdout(&first),
            stderr(&first)
        ),
    }
    eprintln!("{provider}: all done in {:?}", started.elapsed());

    // Every op completed, exactly one upload per file and nothing else.
    let ops = ops_of(lib);
    assert_eq!(ops.len(), hashes.len(), "{ops:#?}");
    let mut seen: Vec<&str> = ops
        .iter()
        .map(|op| {
            assert_eq!(op["operation_type"], "upload", "{op:#?}");
            assert_eq!(op["status"], "completed", "{op:#?}");
            assert_eq!(op["bytes_transferred"], op["total_bytes"], "{op:#?}");
            op["content_hash"].as_str().unwrap()
        })
        .collect();
    seen.sort();
    let mut want: Vec<&str> = hashes.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(seen, want, "one upload per file");
    // A retry is spent only on a transfer the outage broke, never on the
    // refused connections after it (offline): at most once per op, and on
    // about as many ops as the provider runs at once (4; twice that allows
    // for requests that had just taken a connection the outage broke).
    let retries: Vec<i64> = ops
        .iter()
        .map(|op| op["retry_count"].as_i64().unwrap())
        .collect();
    let spent: i64 = retries.iter().sum();
    eprintln!("{provider}: retries spent: {spent}");
    assert!(
        retries.iter().all(|&r| r <= 1) && spent <= 8,
        "{provider}: retries {retries:?}\n{ops:#?}"
    );

    // One good copy recorded per file.
    let db = lib.read_db();
    let mut stmt = db
        .prepare(
            "SELECT c.content_hash, c.remote_key, c.verify_status FROM asset_copies c
             JOIN sync_providers p ON p.id = c.provider_id WHERE p.name = ?1
             ORDER BY c.content_hash",
        )
        .unwrap();
    let copies: Vec<(String, String, String)> = stmt
        .query_map([provider], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        copies.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(),
        want,
        "one copy per file"
    );
    for (hash, key, status) in &copies {
        assert_eq!(
            key,
            &format!("objects/{}/{}/{hash}", &hash[..2], &hash[2..4])
        );
        assert_eq!(status, "ok");
    }
    Outage { hashes }
}

/// SFTP: sshd dies (listener and sessions) in the middle of a run and comes
/// back on the same port with the same host key and folder: every upload
/// completes once, every object is whole, no temporary file is left.
#[test]
fn sftp_server_lost_mid_run_and_restarted_loses_nothing() {
    let lib = TempLib::new();
    let port = free_port();
    let _forget = ForgetHost(port);
    forget_host(port);
    let ssh_dir = lib.path("ssh");
    std::fs::create_dir_all(&ssh_dir).unwrap();
    let (server, key) = start_sftp(&ssh_dir, port);
    add_sftp(&lib, "box", port, &key, true);
    let root = lib.path("sftp-root-box");

    let mut server = Some(server);
    let mut restarted = None;
    let outage = upload_through_an_outage(
        &lib,
        "box",
        8 << 20,
        || crash(server.take().unwrap()),
        || {
            let (s, key2) = start_sftp(&ssh_dir, port);
            assert_eq!(key2, key);
            restarted = Some(s);
        },
    );

    for hash in &outage.hashes {
        let path = object_path(&root, hash);
        assert_eq!(&hash_of(&path), hash, "a torn object at {}", path.display());
    }
    let objects = files_under(&root.join("objects"));
    assert_eq!(objects.len(), outage.hashes.len(), "{objects:#?}");
    let leftovers = files_under(&root.join(".breakdex-tmp"));
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:#?}");
    let all = provider_files(&root);
    assert_eq!(all.len(), outage.hashes.len(), "{all:#?}");
    drop(restarted);
}

/// Reads the whole bucket of the moto server on `port` with boto3: each
/// object's bytes go to a numbered file in the returned folder; the JSON
/// lists the keys, the unfinished multipart uploads, and their parts' bytes.
pub(crate) fn s3_read_back(lib: &TempLib, port: u16) -> (PathBuf, serde_json::Value) {
    let out = lib.path("read-back");
    std::fs::create_dir_all(&out).unwrap();
    let listed = with_boto3(port, S3_READ_BACK, &[out.to_str().unwrap()]);
    (out, serde_json::from_slice(&listed).unwrap())
}

/// Runs the Python snippet `body` against the moto server on `port`, with
/// `c` a boto3 S3 client of it and `args` as `sys.argv[1:]`; returns what
/// it printed. A snippet that fails fails the test.
fn with_boto3(port: u16, body: &str, args: &[&str]) -> Vec<u8> {
    let script = format!(
        "import json, os, sys, boto3\n\
         c = boto3.client('s3', endpoint_url='http://127.0.0.1:{port}', region_name='us-east-1', \
         aws_access_key_id='x', aws_secret_access_key='x')\n{body}"
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

const S3_READ_BACK: &str = r#"
out = sys.argv[1]
keys = []
for page in c.get_paginator("list_objects_v2").paginate(Bucket="bx-bucket"):
    keys += [o["Key"] for o in page.get("Contents", [])]
for i, k in enumerate(keys):
    with open(os.path.join(out, str(i)), "wb") as f:
        f.write(c.get_object(Bucket="bx-bucket", Key=k)["Body"].read())
uploads = c.list_multipart_uploads(Bucket="bx-bucket").get("Uploads", [])
parts = [sum(p["Size"] for p in c.list_parts(Bucket="bx-bucket", Key=u["Key"],
             UploadId=u["UploadId"]).get("Parts", [])) for u in uploads]
print(json.dumps({"keys": keys, "uploads": [u["Key"] for u in uploads], "parts": parts}))
"#;

/// S3: the connection to moto is lost in the middle of a run (a relay that
/// stands for the server closes its port and breaks the live connections,
/// big multipart uploads among them) and comes back: every upload completes
/// once, a verify through breakdex finds every copy good, the bucket holds
/// exactly the objects, each byte for byte, and no unfinished multipart
/// upload: the retry of a big file aborts what the outage cut short.
#[test]
fn s3_connection_lost_mid_run_and_back_loses_nothing() {
    let lib = TempLib::new();
    let moto_port = free_port();
    let secret = new_secret("s3out");
    let (_moto, key_id, secret) = start_s3(lib.dir.path(), moto_port, false, &secret);
    let relay = std::cell::RefCell::new(Relay::new(moto_port));
    let port = relay.borrow().port;
    assert_success(&add_s3(&lib, "s3f", port, &key_id, &secret), "add");

    // Big files go up in parts (above the single-PUT limit, 13 parts of 8
    // MiB), so that the outage can cut a multipart upload short; the small
    // ones are single streamed PUTs.
    let outage = upload_through_an_outage(
        &lib,
        "s3f",
        104 << 20,
        || relay.borrow_mut().stop(),
        || relay.borrow_mut().start(),
    );

    // A verify of every copy, through the relay, finds them all good.
    lib.ok(&["enqueue", "verify", "--provider", "s3f"]);
    let o = lib.exec(&["run", "--until-idle", "--retry-base-ms", "50"]);
    assert_success(&o, "run (verify)");
    assert_eq!(
        run_summary(&o)["completed"],
        outage.hashes.len(),
        "{}",
        stdout(&o)
    );
    let unverified: i64 = lib
        .read_db()
        .query_row(
            "SELECT COUNT(*) FROM asset_copies WHERE verify_status != 'ok' OR verified_at IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(unverified, 0);

    // The bucket, read straight from moto: exactly the objects, each whole.
    let (out, listed) = s3_read_back(&lib, moto_port);
    // (Each key's bytes are in the file named by its place in the listing.)
    let (places, keys): (Vec<usize>, Vec<&str>) = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .enumerate()
        .filter(|(_, k)| !k.starts_with("catalog/"))
        .unzip();
    let mut want: Vec<String> = outage
        .hashes
        .iter()
        .map(|h| format!("objects/{}/{}/{h}", &h[..2], &h[2..4]))
        .collect();
    want.sort();
    assert_eq!(keys, want, "the bucket holds exactly the objects");
    for (i, key) in places.iter().zip(&keys) {
        let hash = key.rsplit('/').next().unwrap();
        assert_eq!(
            hash_of(&out.join(i.to_string())),
            hash,
            "a torn object {key}"
        );
    }
    let uploads: Vec<&str> = listed["uploads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert!(
        uploads.is_empty(),
        "unfinished multipart uploads left: {uploads:?}, bytes of their parts: {}",
        listed["parts"]
    );
}

/// A server that takes connections and then never answers: requests time
/// out (here after 1 s) and the op is retried, as a transient failure.
#[test]
fn a_server_that_stops_answering_times_out_as_transient() {
    let lib = TempLib::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    assert_success(&add_webdav(&lib, "mute", port, "pw"), "add");
    let o = output_of(
        lib.cmd()
            .args(["provider", "test", "mute"])
            .env("BREAKDEX_NET_TIMEOUT_SECS", "1"),
    );
    assert_failure(&o, "provider test against a mute server");
    assert!(stderr(&o).contains("timed out"), "{}", stderr(&o));

    let file = lib.write_file("in/one.bin", 1000, 3);
    lib.ok(&["add", file.to_str().unwrap(), "--provider", "mute"]);
    let o = output_of(
        lib.cmd()
            .args(["run", "--until-idle", "--retry-base-ms", "10"])
            .env("BREAKDEX_NET_TIMEOUT_SECS", "1"),
    );
    assert_failure(&o, "run against a mute server");
    let summary = run_summary(&o);
    assert!(summary["retried"].as_u64().unwrap() >= 1, "{summary}");
    let op = &ops_of(&lib)[0];
    assert!(op["retry_count"].as_i64().unwrap() >= 1, "{op:#?}");
    let reason = op["error_message"].as_str().unwrap_or_default();
    assert!(reason.contains("timed out"), "{reason}");
}

/// An HTTP server that answers every request with `status`.
fn fake_http(status: &'static str) -> u16 {
    use std::io::{BufRead, BufReader, Read};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                loop {
                    let mut length = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let lower = line.to_ascii_lowercase();
                        if let Some(v) = lower.strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    let reply =
                        format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nRetry-After: 0\r\n\r\n");
                    if writer.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// 5xx and 429 are retried (transient); 401 and 403 fail at once.
#[test]
fn http_statuses_are_classed_as_transient_or_permanent() {
    for (status, s3, transient, words) in [
        ("503 Service Unavailable", true, true, "server error 503"),
        ("429 Too Many Requests", false, true, "slow down (429)"),
        ("500 Internal Server Error", false, true, "server error 500"),
        (
            "401 Unauthorized",
            false,
            false,
            "rejected the user name or password",
        ),
        ("403 Forbidden", true, false, "S3 rejected the access key"),
    ] {
        let lib = TempLib::new();
        let port = fake_http(status);
        let added = if s3 {
            add_s3(&lib, "p", port, "AKIAFAKE", "fake-secret")
        } else {
            add_webdav(&lib, "p", port, "pw")
        };
        assert_success(&added, "add");
        let file = lib.write_file("in/one.bin", 1000, 3);
        lib.ok(&["add", file.to_str().unwrap(), "--provider", "p"]);
        let o = lib.exec(&["run", "--until-idle", "--retry-base-ms", "10"]);
        assert_failure(&o, status);
        let retried = run_summary(&o)["retried"].as_u64().unwrap();
        let op = &ops_of(&lib)[0];
        let reason = op["error_message"].as_str().unwrap_or_default();
        assert!(reason.contains(words), "{status}: {reason}");
        assert_eq!(retried > 0, transient, "{status}: retried {retried}");
    }
}

/// A TCP proxy to `target` on 127.0.0.1 that moves at most `rate` bytes a
/// second in all (all connections, both ways), so that a transfer on 127.0.0.1
/// lasts long enough for its progress to be seen part way. Returns its port.
pub(crate) fn throttled(target: u16, rate: u64) -> u16 {
    use std::io::Read;
    use std::sync::{Arc, Mutex};
    // Every piece that passes waits its time at one gate: no credit builds
    // up while the line is idle, and parallel connections share the rate.
    fn pump(mut from: TcpStream, mut to: TcpStream, rate: u64, gate: Arc<Mutex<()>>) {
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            {
                let _turn = gate.lock().unwrap();
                std::thread::sleep(Duration::from_secs_f64(n as f64 / rate as f64));
            }
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let gate = Arc::new(Mutex::new(()));
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                continue;
            };
            let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (up, down) = (gate.clone(), gate.clone());
            std::thread::spawn(move || pump(client, server, rate, up));
            std::thread::spawn(move || pump(s2, c2, rate, down));
        }
    });
    port
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn base64_matches_the_standard() {
    assert_eq!(base64(b"bx:pw"), "Yng6cHc=");
    assert_eq!(base64(b"abc"), "YWJj");
    assert_eq!(base64(b"ab"), "YWI=");
}

#[test]
fn removing_a_provider_drops_its_ops_and_forgets_its_secret() {
    let lib = TempLib::new();
    lib.ok(&["provider", "list"]);
    let password = "rm-provider-Pa55word";
    // Nothing listens on this port: adding does not need the server.
    let o = add_webdav(&lib, "old-nas", free_port(), password);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let secrets = lib.path("library-secrets.json");
    assert!(
        std::fs::read_to_string(&secrets)
            .unwrap()
            .contains(password)
    );
    let file = lib.write_file("in/a.bin", 1000, 1);
    lib.ok(&["add", file.to_str().unwrap(), "--provider", "old-nas"]);
    assert_eq!(ops_of(&lib).len(), 1);

    let o = lib.ok(&["provider", "remove", "old-nas"]);
    assert!(
        stdout(&o).contains("removed provider 'old-nas' and its 1 op"),
        "{}",
        stdout(&o)
    );
    assert!(ops_of(&lib).is_empty());
    assert!(
        !std::fs::read_to_string(&secrets)
            .unwrap()
            .contains(password)
    );
    let list = stdout(&lib.ok(&["provider", "list"]));
    assert!(!list.contains("old-nas"), "{list}");
    assert!(list.contains("local-backup"), "the others stay: {list}");

    let o = lib.exec(&["provider", "remove", "old-nas"]);
    assert_failure(&o, "removing it again");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("old-nas"),
        "the error names it"
    );
}

/// An unfinished multipart upload of an object (left by an attempt cut off
/// while the server could not be reached, its abort lost too) is aborted
/// when the object goes up again; other objects' uploads are left alone.
/// The provider has a prefix with a space, which S3 URLs percent-encode.
#[test]
fn s3_an_objects_unfinished_upload_is_aborted_when_it_goes_up_again() {
    let lib = TempLib::new();
    let port = free_port();
    let secret = new_secret("s3left");
    let (_moto, key_id, secret) = start_s3(lib.dir.path(), port, false, &secret);
    let endpoint = format!("http://127.0.0.1:{port}");
    let o = with_stdin(
        &lib,
        &[
            "provider",
            "add",
            "s3",
            "s3l",
            "--endpoint",
            &endpoint,
            "--bucket",
            "bx-bucket",
            "--prefix",
            "my photos",
            "--path-style",
            "--access-key-id",
            &key_id,
            "--secret-stdin",
        ],
        &secret,
    );
    assert_success(&o, "provider add");
    // Above the single-PUT limit: it goes up in parts.
    let big = lib.write_file("in/big.bin", 104 << 20, 77);
    let hash = hash_of(&big);
    let key = format!("my photos/objects/{}/{}/{hash}", &hash[..2], &hash[2..4]);
    let leave = "for key in (sys.argv[1], 'my photos/someone else'):\n\
        \x20   u = c.create_multipart_upload(Bucket='bx-bucket', Key=key)['UploadId']\n\
        \x20   c.upload_part(Bucket='bx-bucket', Key=key, UploadId=u, PartNumber=1, Body=b'x' * (5 << 20))\n";
    with_boto3(port, leave, &[&key]);

    lib.ok(&["add", "--provider", "s3l", big.to_str().unwrap()]);
    let o = lib.exec(&["run", "--until-idle"]);
    assert_success(&o, "run");

    let (read_back, listed) = s3_read_back(&lib, port);
    assert_eq!(
        without_catalog_keys(&listed["keys"]),
        serde_json::json!([key])
    );
    let place = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .position(|k| k == &key)
        .unwrap();
    assert_eq!(hash_of(&read_back.join(place.to_string())), hash);
    assert_eq!(
        listed["uploads"],
        serde_json::json!(["my photos/someone else"]),
        "the object's own unfinished upload is aborted, the other one kept"
    );
}
