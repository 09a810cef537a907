//! The command line for watched folders: `watch add DIR [--provider NAME]...
//! [--priority N]`, `watch list [--json]`, `watch remove DIR`, `watch pause
//! DIR`, `watch resume DIR`. The watching itself is done by the window's
//! engine or `breakdex run` (without `--until-idle`).

use std::path::PathBuf;

use clap::Subcommand;

use crate::store::Store;
use crate::ui::format::bytes;
use crate::watch;

#[derive(Subcommand, Debug)]
pub enum WatchCommand {
    /// Keep adding a folder's new and changed files while the window or
    /// `breakdex run` is open
    Add {
        dir: PathBuf,
        /// Upload to these providers only [default: every enabled provider]
        #[arg(long = "provider")]
        providers: Vec<String>,
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        priority: i64,
    },
    /// The watched folders, each with its state and when it was last scanned
    List {
        #[arg(long)]
        json: bool,
    },
    /// Stop watching a folder (what was added from it stays, with its copies)
    Remove { dir: PathBuf },
    /// Leave a folder alone until `watch resume`
    Pause { dir: PathBuf },
    /// Watch a paused folder again (it is rescanned first)
    Resume { dir: PathBuf },
    /// Rescan now (every watched folder not paused, or these): hash what
    /// changed since it was last taken and queue its uploads; for a
    /// computer where nothing stays open (`watch scan && run --until-idle`
    /// from cron)
    Scan { dirs: Vec<PathBuf> },
}

pub fn watch_command(store: &mut Store, command: WatchCommand) -> anyhow::Result<()> {
    match command {
        WatchCommand::Add {
            dir,
            providers,
            priority,
        } => {
            let folder = watch::add(store, &dir, &providers, priority)?;
            let to = if providers.is_empty() {
                "every enabled provider".to_string()
            } else {
                providers.join(", ")
            };
            println!(
                "watching {} (uploads to {to}); its files are added while the window or \
                 `breakdex run` is open",
                folder.path
            );
            if !watch::is_watched_now(store.path()) {
                eprintln!(
                    "breakdex: nothing watches it now: open the window or start `breakdex run`"
                );
            }
        }
        WatchCommand::List { json } => list(store, json)?,
        WatchCommand::Scan { dirs } => scan(store, &dirs)?,
        WatchCommand::Remove { dir } => {
            let folder = watch::find(store, &dir)?;
            store.remove_watched(folder.id)?;
            println!(
                "stopped watching {}; what was added from it stays in the library",
                folder.path
            );
        }
        WatchCommand::Pause { dir } => {
            let folder = watch::find(store, &dir)?;
            store.set_watch_paused(folder.id, true)?;
            println!("paused {}", folder.path);
        }
        WatchCommand::Resume { dir } => {
            let folder = watch::find(store, &dir)?;
            store.set_watch_paused(folder.id, false)?;
            println!("watching {} again (it is rescanned first)", folder.path);
        }
    }
    Ok(())
}

fn scan(store: &mut Store, dirs: &[PathBuf]) -> anyhow::Result<()> {
    let folders = if dirs.is_empty() {
        store
            .watched_folders()?
            .into_iter()
            .filter(|f| !f.paused)
            .collect()
    } else {
        dirs.iter()
            .map(|d| watch::find(store, d))
            .collect::<Result<Vec<_>, _>>()?
    };
    if folders.is_empty() {
        println!("no watched folders to scan (`breakdex watch add DIR` adds one)");
        return Ok(());
    }
    if watch::is_watched_now(store.path()) {
        println!(
            "a window or `breakdex run` watches them now: it takes their changes as they come"
        );
        return Ok(());
    }
    let rules = crate::library::exclude::library_rules(store, &[])?;
    let mut waiting = false;
    for folder in folders {
        let root = watch::Root::new(folder);
        if let Some(why) = root.unavailable() {
            eprintln!("breakdex: {why}");
            waiting = true;
            continue;
        }
        let taken = watch::rescan_now(store, &root, &rules)?;
        for problem in &taken.problems {
            eprintln!("breakdex: {problem}");
        }
        println!(
            "{}: {} unchanged, {} forgotten (deleted; their copies stay), {}{}",
            root.dir.display(),
            crate::library::thousands(taken.unchanged),
            crate::library::thousands(taken.forgotten),
            crate::library::summary(taken.added, taken.enqueued, Default::default()),
            match taken.unsettled.len() {
                0 => String::new(),
                n => format!(
                    ", {} still changing (left for later)",
                    crate::library::thousands(n)
                ),
            }
        );
    }
    if waiting {
        anyhow::bail!("a watched folder is not there; nothing of it was scanned or forgotten");
    }
    Ok(())
}

fn list(store: &Store, json: bool) -> anyhow::Result<()> {
    let listing = watch::Listing::read(store)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&listing)?);
        return Ok(());
    }
    if listing.folders.is_empty() {
        println!("no watched folders (`breakdex watch add DIR` adds one)");
        return Ok(());
    }
    for f in &listing.folders {
        println!(
            "{}  {}  {} files ({})  to {}  last scanned {}",
            f.folder.path,
            f.state_words(listing.watched_now),
            crate::library::thousands(f.files as usize),
            bytes(f.bytes as i64),
            f.destination(),
            f.folder.scanned_at.as_deref().unwrap_or("never"),
        );
        if let Some(problem) = &f.folder.problem {
            println!("    {problem}");
        }
    }
    if !listing.watched_now {
        eprintln!("breakdex: nothing watches them now: open the window or start `breakdex run`");
    }
    Ok(())
}
