//! Logging: commands log warnings to standard error; the window logs to a
//! daily file in the platform's log folder, the oldest pruned.
//!
//! The log folder is `~/.local/state/breakdex/logs` on Linux (XDG state),
//! `~/Library/Logs/Breakdex` on macOS and `%LOCALAPPDATA%\breakdex\logs` on
//! Windows; `BREAKDEX_LOG_DIR` overrides it. `RUST_LOG` sets the level of
//! both outputs. Panics are logged, and the person sees one plain line.

use std::path::PathBuf;

use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// How many daily log files are kept.
pub const KEPT_LOG_FILES: usize = 7;

/// The folder of the window's log files.
pub fn log_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BREAKDEX_LOG_DIR") {
        return PathBuf::from(dir);
    }
    if cfg!(target_os = "macos")
        && let Some(home) = std::env::home_dir()
    {
        return home.join("Library/Logs/Breakdex");
    }
    state_dir().join("logs")
}

/// Where the app keeps state that is not the library: logs, the window's
/// size and position. XDG state on Linux, local data elsewhere.
pub fn state_dir() -> PathBuf {
    directories::ProjectDirs::from("", "", "breakdex")
        .map(|d| {
            d.state_dir()
                .unwrap_or_else(|| d.data_local_dir())
                .to_path_buf()
        })
        .unwrap_or_else(|| PathBuf::from(".breakdex"))
}

/// The daily log files: `breakdex.YYYY-MM-DD.log`, at most
/// [`KEPT_LOG_FILES`] of them (older ones are deleted when one is opened).
pub fn log_file_appender(dir: &std::path::Path) -> anyhow::Result<RollingFileAppender> {
    RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix("breakdex")
        .filename_suffix("log")
        .max_log_files(KEPT_LOG_FILES)
        .build(dir)
        .map_err(|e| anyhow::anyhow!("cannot open the log folder {}: {e}", dir.display()))
}

/// `RUST_LOG`, or `default`, with the credential-printing crates held back.
fn filter(default: &str) -> EnvFilter {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // The request signers print credentials (secret keys included) in their
    // debug logs: they never log below info, whatever RUST_LOG says.
    ["reqsign_core", "reqsign_aws_core", "reqsign_aws_v4"]
        .into_iter()
        .fold(filter, |f, target| {
            f.add_directive(
                format!("{target}=info")
                    .parse()
                    .expect("a valid log directive"),
            )
        })
}

/// Starts logging. Commands log warnings to standard error; the window
/// (`to_file`) logs info and above to the daily log file instead, or to
/// standard error when the log folder cannot be made.
pub fn init(to_file: bool) {
    install_panic_hook();
    let file = if to_file {
        let dir = log_dir();
        match std::fs::create_dir_all(&dir)
            .map_err(anyhow::Error::from)
            .and_then(|()| log_file_appender(&dir))
        {
            Ok(appender) => Some(appender),
            Err(e) => {
                eprintln!("breakdex: cannot write logs: {e}");
                None
            }
        }
    } else {
        None
    };
    let (file, stderr) = match file {
        Some(appender) => (
            Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(appender)
                    .with_ansi(false)
                    .with_filter(filter("info")),
            ),
            None,
        ),
        None => (
            None,
            Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_target(false)
                    // Colour codes only for a person at a terminal.
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_filter(filter("warn")),
            ),
        ),
    };
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .try_init();
}

fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        tracing::error!("internal error: {info}");
        eprintln!(
            "breakdex: internal error; please report it (the log has the details: {})",
            log_dir().display()
        );
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_the_log_prunes_all_but_the_newest_files() {
        let dir = tempfile::tempdir().unwrap();
        for day in 1..=12 {
            let name = format!("breakdex.2026-10-{day:02}.log");
            std::fs::write(dir.path().join(name), "old\n").unwrap();
            // Pruning goes by creation time: keep the days in order.
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        std::fs::write(dir.path().join("notes.txt"), "not a log\n").unwrap();
        let appender = log_file_appender(dir.path()).unwrap();
        drop(appender);
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let logs: Vec<&String> = names.iter().filter(|n| n.ends_with(".log")).collect();
        assert_eq!(logs.len(), KEPT_LOG_FILES, "{names:?}");
        assert!(
            !names.contains(&"breakdex.2026-10-01.log".to_string()),
            "{names:?}"
        );
        assert!(names.contains(&"notes.txt".to_string()), "{names:?}");
    }
}
