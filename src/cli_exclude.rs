//! The command line for exclude rules: `exclude list|add|remove|reset`, the
//! library's list of patterns that add, drops and watches leave out.

use clap::Subcommand;
use serde::Serialize;

use crate::library::exclude::{self, DEFAULT_RULES, IGNORE_FILE};
use crate::store::Store;

#[derive(Subcommand, Debug)]
pub enum ExcludeCommand {
    /// The library's exclude patterns (gitignore syntax), in the order they
    /// are matched: a later one wins, `!pattern` takes one back
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add patterns at the end of the list ('*.psd~', 'cache/', '2026/raw/')
    Add {
        #[arg(required = true, allow_hyphen_values = true)]
        patterns: Vec<String>,
    },
    /// Take patterns out of the list
    Remove {
        #[arg(required = true, allow_hyphen_values = true)]
        patterns: Vec<String>,
    },
    /// Put the default list back
    Reset,
}

/// `exclude list --json`.
#[derive(Serialize)]
struct Listing {
    patterns: Vec<String>,
    /// Whether the list is the defaults, never edited.
    is_default: bool,
    defaults: &'static [&'static str],
}

pub fn exclude_command(store: &mut Store, command: ExcludeCommand) -> anyhow::Result<()> {
    match command {
        ExcludeCommand::List { json } => {
            let listing = Listing {
                patterns: exclude::patterns(store)?,
                is_default: store.exclude_patterns()?.is_none(),
                defaults: DEFAULT_RULES,
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&listing)?);
                return Ok(());
            }
            for p in &listing.patterns {
                println!("{p}");
            }
            eprintln!(
                "({}; a {IGNORE_FILE} file in a folder adds rules for what is below it)",
                if listing.is_default {
                    "the default list".to_string()
                } else if listing.patterns.is_empty() {
                    "no patterns: nothing is left out".to_string()
                } else {
                    format!("{} patterns", listing.patterns.len())
                }
            );
        }
        ExcludeCommand::Add { patterns } => {
            let added = exclude::add(store, &patterns)?;
            for p in &patterns {
                if added.contains(p) {
                    println!("added {p}");
                } else {
                    println!("{p} was already in the list");
                }
            }
        }
        ExcludeCommand::Remove { patterns } => {
            exclude::remove(store, &patterns)?;
            for p in &patterns {
                println!("removed {p}");
            }
        }
        ExcludeCommand::Reset => {
            store.set_exclude_patterns(None)?;
            println!("the default list is back: {}", DEFAULT_RULES.join(" "));
        }
    }
    Ok(())
}
