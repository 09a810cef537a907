//! The command line: the same library and engine as the window, for scripts,
//! servers and tests. Every failure is one plain line on stderr and a
//! non-zero exit; no panic text reaches the user.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;
use clap::{Parser, Subcommand, ValueEnum};

use crate::cli_exclude::ExcludeCommand;
use crate::cli_health::{PolicyCommand, ScrubCommand};
use crate::cli_history::HistoryCommand;
use crate::cli_limits::LimitsCommand;
use crate::cli_watch::WatchCommand;
use crate::engine::{self, EngineConfig};
use crate::library;
use crate::library::restore::RestoreRequest;
use crate::providers::Provider;
use crate::setup;
use crate::store::{Health, NewOp, OpQuery, OpState, OpStatus, OpType, ProviderRow, Store};

#[derive(Parser, Debug)]
#[command(
    name = "breakdex",
    version,
    about = "Keeps an asset library safely copied across storage providers"
)]
struct Cli {
    /// The library database [default: library.db in the platform data folder]
    #[arg(long, global = true, env = "BREAKDEX_DB")]
    db: Option<PathBuf>,
    /// With no subcommand: open the window with the queue paused
    #[arg(long)]
    paused: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Add, list and inspect storage providers
    #[command(subcommand)]
    Provider(ProviderCommand),
    /// Add files and folders (recursively): hash, record, queue uploads
    Add {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Upload to these providers only [default: every enabled provider]
        #[arg(long = "provider")]
        providers: Vec<String>,
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        priority: i64,
        /// Also leave out what this pattern matches, for this add only
        /// (gitignore syntax; the library's list is `breakdex exclude list`)
        #[arg(long = "exclude", allow_hyphen_values = true)]
        excludes: Vec<String>,
        /// Name every file and folder the exclude rules left out, and the
        /// rule that did
        #[arg(long)]
        list_skipped: bool,
    },
    /// Queue uploads of what a provider lacks, or verify, download or
    /// delete_remote ops for assets it holds
    Enqueue {
        #[arg(value_enum)]
        operation: EnqueueKind,
        #[arg(long)]
        provider: String,
        /// These assets only [default: every asset the provider holds]
        #[arg(long = "hash")]
        hashes: Vec<String>,
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        priority: i64,
    },
    /// Run the queue
    Run {
        /// Return once nothing is runnable
        #[arg(long)]
        until_idle: bool,
        /// Most ops running at once
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
        concurrency: u16,
        /// The first retry's wait in milliseconds; doubled for each further one
        #[arg(long, env = "BREAKDEX_RETRY_BASE_MS", default_value_t = 10_000)]
        retry_base_ms: u64,
        /// How long a file in a watched folder must stay unchanged before it
        /// is taken, in milliseconds
        #[arg(long, env = "BREAKDEX_WATCH_SETTLE_MS", default_value_t = 2_000)]
        watch_settle_ms: u64,
        /// For this run, uploads and downloads each at most this fast
        /// (512K, 10M: bytes per second, 1024-based), below the limits kept
        #[arg(long, value_parser = crate::units::parse_rate)]
        bwlimit: Option<u64>,
    },
    /// List operations
    Ops {
        #[arg(long, value_enum)]
        status: Option<StatusFilter>,
        #[arg(long)]
        json: bool,
        /// At most this many rows
        #[arg(long)]
        limit: Option<i64>,
    },
    /// Stop every transfer of the library (every engine of it, the window's
    /// and other runs', within a second), or one provider's; kept in the
    /// library until `resume`
    Pause {
        #[arg(long)]
        provider: Option<String>,
        /// Pause these ops only (an id as `ops` lists it, or its start)
        #[arg(long, conflicts_with = "provider")]
        op: Vec<String>,
    },
    /// Let the library's (or one provider's, or some ops') transfers go on
    /// after `pause`
    Resume {
        #[arg(long)]
        provider: Option<String>,
        #[arg(long, conflicts_with = "provider")]
        op: Vec<String>,
    },
    /// Counts per state, and each provider's state
    Status {
        #[arg(long)]
        json: bool,
    },
    /// List every asset the library knows, local or only on providers, with
    /// its copies and health
    Assets {
        #[arg(long, value_parser = parse_health)]
        health: Option<Health>,
        /// Assets with a copy on this provider only
        #[arg(long)]
        provider: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// How many verified copies every asset is to have
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// What add, drops and watched folders leave out (.DS_Store, *.part, …)
    #[command(subcommand)]
    Exclude(ExcludeCommand),
    /// How long completed ops are kept, and what each provider did per day
    #[command(subcommand)]
    History(HistoryCommand),
    /// How often every copy is re-read and re-hashed, and how fast
    #[command(subcommand)]
    Scrub(ScrubCommand),
    /// Bandwidth limits, the library's and each provider's
    #[command(subcommand)]
    Limits(LimitsCommand),
    /// The library's encryption key: which it is, and a copy to keep
    #[command(subcommand)]
    Identity(IdentityCommand),
    /// Folders whose new and changed files are added as they come
    #[command(subcommand)]
    Watch(WatchCommand),
    /// Queue downloads that put assets back in a folder, each at every path
    /// it was added under (`run --until-idle` carries them out)
    Restore {
        /// The folder to restore into (made if missing)
        #[arg(long)]
        into: PathBuf,
        /// Download from this provider only [default: the best one holding each asset]
        #[arg(long)]
        provider: Option<String>,
        /// These assets only
        #[arg(long = "hash")]
        hashes: Vec<String>,
        /// Only recorded paths this glob matches (`*` stays within a folder,
        /// `**` crosses folders: '2026/**', '**/*.jpg')
        #[arg(long = "path")]
        globs: Vec<String>,
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        priority: i64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum IdentityCommand {
    /// The library's public key and the providers that encrypt to it
    Show,
    /// Write the library's key to FILE (mode 0600; never over a file), in
    /// age's identity format: `age -d -i FILE` opens any encrypted copy
    Export { file: PathBuf },
    /// Lock the key on every encrypted provider with a new passphrase (the
    /// copies stay as they are)
    Passphrase {
        /// The new passphrase is the first line of FILE [default:
        /// BREAKDEX_PASSPHRASE, else typed at a prompt]
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum ProviderCommand {
    /// Add a provider
    #[command(subcommand)]
    Add(ProviderAdd),
    /// List providers
    List {
        #[arg(long)]
        json: bool,
    },
    /// A real round trip: write a small probe object, read it back, delete it
    Test { name: String },
    /// Read the provider's catalog into the library: every asset it holds,
    /// with its paths, even if this computer never had it
    Scan {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a provider, its queued and finished ops and its secret
    /// (the files on the provider are left as they are)
    Remove { name: String },
}

#[derive(Subcommand, Debug)]
pub(crate) enum ProviderAdd {
    /// A folder: an external drive, a NAS mount
    Local {
        name: String,
        #[arg(long)]
        root: PathBuf,
        /// Most ops running at once on this provider
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(i64).range(1..=64))]
        concurrency: i64,
        #[command(flatten)]
        crypt: EncryptArgs,
    },
    /// S3-compatible storage: AWS S3, Backblaze B2, Cloudflare R2, MinIO, Wasabi
    S3 {
        name: String,
        /// The service URL, e.g. https://s3.us-west-004.backblazeb2.com
        #[arg(long)]
        endpoint: String,
        #[arg(long)]
        bucket: String,
        #[arg(long, default_value = "us-east-1")]
        region: String,
        /// A folder inside the bucket
        #[arg(long)]
        prefix: Option<String>,
        /// Address the bucket in the path (MinIO, most self-hosted servers)
        /// instead of the host name
        #[arg(long)]
        path_style: bool,
        #[arg(long)]
        access_key_id: String,
        /// Read the secret access key from standard input (required)
        #[arg(long, required = true)]
        secret_stdin: bool,
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(i64).range(1..=64))]
        concurrency: i64,
        #[command(flatten)]
        crypt: EncryptArgs,
    },
    /// WebDAV: Nextcloud, ownCloud, most NAS boxes
    Webdav {
        name: String,
        /// The server URL, e.g. https://cloud.example.com/remote.php/dav/files/me
        #[arg(long)]
        endpoint: String,
        /// A folder on the server
        #[arg(long)]
        root: Option<String>,
        #[arg(long)]
        user: String,
        /// Read the password from standard input (required)
        #[arg(long, required = true)]
        secret_stdin: bool,
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(i64).range(1..=64))]
        concurrency: i64,
        #[command(flatten)]
        crypt: EncryptArgs,
    },
    /// SFTP with a private key; the host key is checked against known_hosts
    Sftp {
        name: String,
        #[arg(long)]
        host: String,
        #[arg(long, default_value_t = 22)]
        port: u16,
        #[arg(long)]
        user: String,
        /// The private key file (key authentication only)
        #[arg(long)]
        key: PathBuf,
        /// A folder on the server
        #[arg(long)]
        root: Option<String>,
        /// Trust a host that is not in known_hosts yet, adding its keys
        #[arg(long)]
        trust_new_host: bool,
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(i64).range(1..=64))]
        concurrency: i64,
        #[command(flatten)]
        crypt: EncryptArgs,
    },
}

/// Whether a provider being added encrypts, and where its passphrase
/// comes from.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct EncryptArgs {
    /// Encrypt every copy on this provider (age format, to the library's
    /// key; the key goes on the provider too, locked with a passphrase)
    #[arg(long)]
    pub encrypt: bool,
    /// With --encrypt: the passphrase is the first line of FILE [default:
    /// BREAKDEX_PASSPHRASE, else typed at a prompt]
    #[arg(long, requires = "encrypt", value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

impl ProviderAdd {
    pub(crate) fn crypt(&self) -> &EncryptArgs {
        match self {
            ProviderAdd::Local { crypt, .. }
            | ProviderAdd::S3 { crypt, .. }
            | ProviderAdd::Webdav { crypt, .. }
            | ProviderAdd::Sftp { crypt, .. } => crypt,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum EnqueueKind {
    /// Every asset this computer has the bytes of and the provider lacks
    Upload,
    Verify,
    Download,
    #[value(name = "delete_remote")]
    DeleteRemote,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum StatusFilter {
    Queued,
    #[value(name = "in_progress")]
    InProgress,
    Completed,
    Failed,
    #[value(name = "retry_pending")]
    RetryPending,
    #[value(name = "permanently_failed")]
    PermanentlyFailed,
    Cancelled,
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    // The window keeps a log file; commands log to standard error only.
    let window = cli.command.is_none();
    crate::logs::init(window);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let text = error_text(&e);
            if window {
                // The log is where a launch from the desktop leaves a trace.
                tracing::error!("{text}");
            }
            eprintln!("breakdex: {text}");
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, without repeating itself.
fn error_text(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let db = cli.db.unwrap_or_else(setup::default_db_path);
    // Absolute, so that the paths derived from it (the library folder that
    // downloads go to, recorded in the manifest) hold from any folder.
    let db = std::path::absolute(&db).unwrap_or(db);
    let Some(command) = cli.command else {
        crate::ui::run(&db, cli.paused)?;
        return Ok(ExitCode::SUCCESS);
    };
    let mut store = setup::open_library(&db)?;
    match command {
        Command::Provider(ProviderCommand::Add(add)) => {
            let row = crate::cli_remote::add(&mut store, &db, add)?;
            crate::cli_catalog::scan_if_catalogued(&mut store, &row)?;
            let plan = library::copy_plan(&store, &row.id)?;
            if !plan.assets.is_empty() {
                println!(
                    "it lacks the library's {} asset{} ({}): `breakdex enqueue upload --provider {}` copies them",
                    plan.assets.len(),
                    if plan.assets.len() == 1 { "" } else { "s" },
                    crate::ui::format::bytes(plan.bytes),
                    row.name
                );
            }
        }
        Command::Provider(ProviderCommand::Scan { name, json }) => {
            return crate::cli_catalog::scan_command(&mut store, &name, json);
        }
        Command::Provider(ProviderCommand::List { json }) => provider_list(&store, json)?,
        Command::Provider(ProviderCommand::Test { name }) => {
            return crate::cli_remote::test(&store, &name);
        }
        Command::Provider(ProviderCommand::Remove { name }) => {
            let row = store.require_provider(&name)?;
            let ops = crate::providers::register::remove(&mut store, &row.id)?;
            println!(
                "removed provider '{name}' and its {ops} op{}; the files on it are left as they are",
                if ops == 1 { "" } else { "s" }
            );
        }
        Command::Add {
            paths,
            providers,
            priority,
            excludes,
            list_skipped,
        } => {
            let rules = library::exclude::library_rules(&store, &excludes)?;
            return add(
                &mut store,
                &paths,
                &rules,
                &providers,
                priority,
                list_skipped,
            );
        }
        Command::Enqueue {
            operation,
            provider,
            hashes,
            priority,
        } => enqueue(&mut store, operation, &provider, hashes, priority)?,
        Command::Run {
            until_idle,
            concurrency,
            retry_base_ms,
            watch_settle_ms,
            bwlimit,
        } => {
            drop(store);
            let mut config = EngineConfig::new(&db, &setup::library_dir(&db));
            config.until_idle = until_idle;
            config.concurrency = concurrency as usize;
            config.retry.base = Duration::from_millis(retry_base_ms);
            config.watch.settle = Duration::from_millis(watch_settle_ms);
            config.bwlimit = bwlimit.unwrap_or(0);
            return run_engine(config);
        }
        Command::Ops {
            status,
            json,
            limit,
        } => ops(&store, status, json, limit)?,
        Command::Status { json } => status(&store, json)?,
        Command::Pause { provider, op } => pause(&mut store, provider.as_deref(), &op, true)?,
        Command::Resume { provider, op } => pause(&mut store, provider.as_deref(), &op, false)?,
        Command::Assets {
            health,
            provider,
            json,
        } => crate::cli_health::assets_command(&store, health, provider.as_deref(), json)?,
        Command::Policy(command) => crate::cli_health::policy_command(&mut store, command)?,
        Command::Exclude(command) => crate::cli_exclude::exclude_command(&mut store, command)?,
        Command::History(command) => crate::cli_history::history_command(&mut store, command)?,
        Command::Scrub(command) => crate::cli_health::scrub_command(&mut store, command)?,
        Command::Limits(command) => crate::cli_limits::limits_command(&mut store, command)?,
        Command::Identity(IdentityCommand::Show) => crate::cli_identity::show(&store)?,
        Command::Identity(IdentityCommand::Export { file }) => {
            crate::cli_identity::export(&store, &file)?
        }
        Command::Identity(IdentityCommand::Passphrase { passphrase_file }) => {
            crate::cli_identity::change_passphrase(&store, passphrase_file.as_deref())?
        }
        Command::Watch(command) => crate::cli_watch::watch_command(&mut store, command)?,
        Command::Restore {
            into,
            provider,
            hashes,
            globs,
            priority,
            json,
        } => {
            let req = RestoreRequest {
                into,
                provider,
                hashes,
                globs,
                priority,
            };
            crate::cli_catalog::restore_command(&mut store, &req, json)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn provider_list(store: &Store, json: bool) -> anyhow::Result<()> {
    let providers = store.providers()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&providers)?);
        return Ok(());
    }
    for p in providers {
        println!(
            "{:<20} {:<7} {:<8} concurrency {:<3} {}{}",
            p.name,
            p.kind.as_str(),
            if p.enabled { "enabled" } else { "disabled" },
            p.concurrency,
            p.settings,
            crate::cli_remote::secret_store(&p)
                .map(|s| format!("  secret: {s}"))
                .unwrap_or_default()
        );
    }
    Ok(())
}

fn add(
    store: &mut Store,
    paths: &[PathBuf],
    rules: &library::Rules,
    names: &[String],
    priority: i64,
    list_skipped: bool,
) -> anyhow::Result<ExitCode> {
    let providers = if names.is_empty() {
        store
            .providers()?
            .into_iter()
            .filter(|p| p.enabled)
            .collect()
    } else {
        names
            .iter()
            .map(|n| store.require_provider(n))
            .collect::<Result<Vec<_>, _>>()?
    };
    let report = library::import(store, paths, rules, &providers, priority)?;
    for problem in &report.problems {
        eprintln!("breakdex: {problem}");
    }
    // A path named on the command line and left out is always said.
    for s in report.skipped.iter().filter(|s| list_skipped || s.named) {
        eprintln!(
            "breakdex: {}{}: skipped by {}",
            s.path.display(),
            if s.is_dir { "/" } else { "" },
            s.why
        );
    }
    if providers.is_empty() {
        eprintln!(
            "breakdex: no provider is enabled, so nothing will be uploaded \
             (add one with `breakdex provider add`)"
        );
    }
    println!(
        "{}",
        library::summary(
            report.files.len(),
            report.enqueued,
            library::SkipCounts::of(&report.skipped)
        )
    );
    Ok(if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn enqueue(
    store: &mut Store,
    kind: EnqueueKind,
    provider: &str,
    hashes: Vec<String>,
    priority: i64,
) -> anyhow::Result<()> {
    let provider = store.require_provider(provider)?;
    if matches!(kind, EnqueueKind::Upload) && hashes.is_empty() {
        return copy_library_to(store, &provider, priority);
    }
    let operation_type = match kind {
        EnqueueKind::Upload => OpType::Upload,
        EnqueueKind::Verify => OpType::Verify,
        EnqueueKind::Download => OpType::Download,
        EnqueueKind::DeleteRemote => OpType::DeleteRemote,
    };
    let hashes = if hashes.is_empty() {
        store
            .copies_on(&provider.id)?
            .into_iter()
            .map(|c| c.content_hash)
            .collect()
    } else {
        hashes
    };
    let mut ops = Vec::with_capacity(hashes.len());
    for hash in hashes {
        let Some(asset) = store.asset(&hash)? else {
            bail!("no asset with hash {hash} in this library");
        };
        ops.push(NewOp {
            content_hash: hash,
            provider_id: provider.id.clone(),
            operation_type,
            priority,
            total_bytes: asset.size_bytes,
        });
    }
    let created = store.enqueue(&ops)?;
    println!(
        "queued {} {} op{} on provider '{}'",
        created.len(),
        operation_type.as_str(),
        if created.len() == 1 { "" } else { "s" },
        provider.name
    );
    Ok(())
}

/// `enqueue upload --provider NAME`: uploads of every asset the provider
/// lacks whose bytes are on this computer.
fn copy_library_to(store: &mut Store, provider: &ProviderRow, priority: i64) -> anyhow::Result<()> {
    let plan = library::copy_plan(store, &provider.id)?;
    let created = store.enqueue(&library::uploads(&plan.assets, provider, priority))?;
    println!(
        "queued {} upload op{} on provider '{}' ({})",
        created.len(),
        if created.len() == 1 { "" } else { "s" },
        provider.name,
        crate::ui::format::bytes(plan.bytes)
    );
    if plan.without_bytes > 0 {
        eprintln!(
            "breakdex: {} asset{} the provider lacks {} no local bytes on this computer \
             (restore them first, from a provider that holds them)",
            plan.without_bytes,
            if plan.without_bytes == 1 { "" } else { "s" },
            if plan.without_bytes == 1 {
                "has"
            } else {
                "have"
            },
        );
    }
    Ok(())
}

fn run_engine(config: EngineConfig) -> anyhow::Result<ExitCode> {
    let summary = engine::start(config)?.join()?;
    println!("{}", serde_json::to_string(&summary)?);
    for waits in (summary.offline.iter())
        .chain(&summary.full)
        .chain(&summary.paused)
    {
        eprintln!("breakdex: {waits}");
    }
    Ok(if summary.failed > 0 {
        eprintln!(
            "breakdex: {} op{} failed; see `breakdex ops --status permanently_failed`",
            summary.failed,
            if summary.failed == 1 { "" } else { "s" }
        );
        ExitCode::FAILURE
    } else if !summary.offline.is_empty() || !summary.full.is_empty() || !summary.paused.is_empty()
    {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

fn ops(
    store: &Store,
    status: Option<StatusFilter>,
    json: bool,
    limit: Option<i64>,
) -> anyhow::Result<()> {
    let mut q = OpQuery {
        limit,
        ..OpQuery::default()
    };
    match status {
        Some(StatusFilter::Queued) => q.status = Some(OpStatus::Queued),
        Some(StatusFilter::InProgress) => q.status = Some(OpStatus::InProgress),
        Some(StatusFilter::Completed) => q.status = Some(OpStatus::Completed),
        Some(StatusFilter::Failed) => q.status = Some(OpStatus::Failed),
        Some(StatusFilter::RetryPending) => q.state = Some(OpState::RetryPending),
        Some(StatusFilter::PermanentlyFailed) => q.state = Some(OpState::PermanentlyFailed),
        Some(StatusFilter::Cancelled) => q.state = Some(OpState::Cancelled),
        None => {}
    }
    let rows = store.list_ops(&q)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    for r in rows {
        println!(
            "{}  {:<13} {:<11} {:<18} p{:<3} {}/{} tries  {:>12}/{:<12} {}  {}{}",
            r.id,
            r.operation_type.as_str(),
            r.status.as_str(),
            r.provider_name,
            r.priority,
            r.retry_count,
            r.max_retries,
            r.bytes_transferred,
            r.total_bytes,
            engine::short(&r.content_hash),
            r.asset_name.as_deref().unwrap_or("-"),
            r.error_message
                .map(|e| format!("  [{e}]"))
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// `pause` and `resume`: the library's, one provider's, or some ops'.
fn pause(
    store: &mut Store,
    provider: Option<&str>,
    ops: &[String],
    paused: bool,
) -> anyhow::Result<()> {
    if !ops.is_empty() {
        let ids = (ops.iter())
            .map(|prefix| store.op_by_prefix(prefix))
            .collect::<Result<Vec<_>, _>>()?;
        let n = store.set_ops_paused(&ids, paused)?;
        println!(
            "{n} op{} {}",
            if n == 1 { "" } else { "s" },
            if paused { "paused" } else { "resumed" }
        );
        return Ok(());
    }
    match provider {
        Some(name) => {
            let row = store.require_provider(name)?;
            store.set_provider_paused(&row.id, paused)?;
            println!(
                "provider '{name}' {}",
                if paused {
                    "paused: its transfers stop within a second, in every engine of this library"
                } else {
                    "resumed"
                }
            );
        }
        None => {
            store.set_paused(paused)?;
            println!(
                "{}",
                if paused {
                    "paused: every engine of this library stops its transfers within a second; \
                     `breakdex resume` lets them go on"
                } else {
                    "resumed"
                }
            );
        }
    }
    Ok(())
}

fn status(store: &Store, json: bool) -> anyhow::Result<()> {
    let counts = store.counts(None)?;
    let mut providers = Vec::new();
    let full = store.full_providers()?;
    let paused = store.paused_providers()?;
    for p in store.providers()? {
        let opened = Provider::open(&p);
        let free = opened.as_ref().ok().and_then(|o| o.free_bytes());
        let online = opened
            .and_then(|opened| opened.check_online())
            .and_then(|()| crate::providers::reachable(&p));
        let waiting = store.waiting_uploads(&p.id)?;
        let full = full.get(&p.id).map(|f| {
            serde_json::json!({
                "since": f.since,
                "reason": f.reason,
                "words": waiting.words(free),
            })
        });
        providers.push(serde_json::json!({
            "name": p.name,
            "kind": p.kind,
            "enabled": p.enabled,
            "online": online.is_ok(),
            "problem": online.err().map(|f| f.message),
            "full": full,
            "paused": paused.contains(&p.id),
            "free_bytes": free,
            "waiting_upload_bytes": waiting.bytes,
            "counts": store.counts(Some(&p.id))?,
        }));
    }
    if json {
        let mut value = serde_json::to_value(&counts)?;
        value["paused"] = serde_json::Value::Bool(store.paused()?);
        value["providers"] = serde_json::Value::Array(providers);
        value["health"] = serde_json::to_value(
            store
                .health_counts()?
                .into_iter()
                .map(|(h, n)| (h.as_str(), n))
                .collect::<std::collections::BTreeMap<_, _>>(),
        )?;
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    println!(
        "queued {}  in progress {}  retry pending {}  failed {}  completed {}  cancelled {}  (total {})",
        counts.queued,
        counts.in_progress,
        counts.retry_pending,
        counts.permanently_failed,
        counts.completed,
        counts.cancelled,
        counts.total
    );
    println!("assets: {}", crate::cli_health::health_line(store)?);
    if store.paused()? {
        println!("paused: no engine moves bytes until `breakdex resume`");
    }
    for p in providers {
        let state = match (p["problem"].as_str(), &p["full"]) {
            _ if p["paused"] == true => "paused".to_string(),
            (Some(problem), _) => problem.to_string(),
            (None, serde_json::Value::Null) => "online".to_string(),
            (None, full) => format!(
                "{}: {}",
                full["words"].as_str().unwrap_or("full"),
                full["reason"].as_str().unwrap_or("")
            ),
        };
        println!("  {:<20} {state}", p["name"].as_str().unwrap_or(""));
    }
    Ok(())
}

fn parse_health(s: &str) -> Result<Health, String> {
    Health::parse(s).ok_or_else(|| "say safe, at-risk, damaged or local-only".to_string())
}
