//! The command line for the library as providers describe it:
//! `provider scan` (read a provider's catalog into the library) and
//! `restore` (queue the downloads that rebuild the tree in a folder).

use std::process::ExitCode;

use crate::catalog::{ScanError, ScanReport, has_catalog, scan};
use crate::library::restore::{RestoreRequest, restore as plan_restore};
use crate::providers::{FailureKind, Provider};
use crate::store::{ProviderRow, Store};

/// `provider scan NAME`: exits 1 if some segment could not be read, 3 if
/// the provider is offline (then nothing was brought in).
pub fn scan_command(store: &mut Store, name: &str, json: bool) -> anyhow::Result<ExitCode> {
    let row = store.require_provider(name)?;
    let report = match scan(store, &row) {
        Ok(report) => report,
        Err(ScanError::Provider(f)) => {
            eprintln!("breakdex: cannot scan provider '{name}': {f}; nothing was changed");
            return Ok(ExitCode::from(if f.kind == FailureKind::Offline {
                3
            } else {
                1
            }));
        }
        Err(ScanError::Store(e)) => return Err(e.into()),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_scan(&report);
    }
    for u in &report.unreadable_segments {
        eprintln!("breakdex: catalog segment {} skipped: {}", u.name, u.reason);
    }
    Ok(if report.unreadable_segments.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_scan(r: &ScanReport) {
    println!(
        "provider '{}': {} asset{} described ({} new, {} known), {} path{}, from {} segment{} of {} librar{}",
        r.provider,
        r.assets,
        plural(r.assets),
        r.new,
        r.known,
        r.paths,
        plural(r.paths),
        r.segments,
        plural(r.segments),
        r.libraries,
        if r.libraries == 1 { "y" } else { "ies" }
    );
    if r.objects_without_entry > 0 {
        println!(
            "{} object{} on the provider that no catalog describes ({}):",
            r.objects_without_entry,
            plural(r.objects_without_entry),
            match r.encrypted {
                true => "by object name: it encrypts, so names are not content hashes",
                false => "by hash",
            }
        );
        for h in &r.objects_without_entry_hashes {
            println!("  {h}");
        }
    }
    if r.entries_without_object > 0 {
        println!(
            "{} asset{} described whose object the provider no longer holds",
            r.entries_without_object,
            plural(r.entries_without_object)
        );
    }
    for refused in &r.refused {
        println!("refused: {refused}");
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// After `provider add`: a provider that already holds a catalog is said
/// so, and scanned.
pub fn scan_if_catalogued(store: &mut Store, row: &ProviderRow) -> anyhow::Result<()> {
    let Ok(provider) = Provider::open(row) else {
        return Ok(());
    };
    match has_catalog(&provider) {
        Ok(true) => {}
        Ok(false) => return Ok(()),
        Err(e) => {
            eprintln!(
                "breakdex: cannot look for a catalog on provider '{}': {e}; \
                 `breakdex provider scan {}` looks again",
                row.name, row.name
            );
            return Ok(());
        }
    }
    println!(
        "provider '{}' already holds a catalog of assets; scanning it",
        row.name
    );
    match scan(store, row) {
        Ok(report) => print_scan(&report),
        Err(e) => eprintln!(
            "breakdex: cannot scan provider '{}': {e}; run `breakdex provider scan {}` later",
            row.name, row.name
        ),
    }
    Ok(())
}

/// `restore --into DIR ...`: queues the downloads.
pub fn restore_command(store: &mut Store, req: &RestoreRequest, json: bool) -> anyhow::Result<()> {
    let plan = plan_restore(store, req)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
        return Ok(());
    }
    for skipped in &plan.skipped {
        eprintln!("breakdex: skipped {skipped}");
    }
    println!(
        "restore into {}: {} file{} of {} asset{} ({} download{} queued); \
         `breakdex run --until-idle` carries them out",
        plan.into,
        plan.files,
        plural(plan.files),
        plan.assets,
        plural(plan.assets),
        plan.queued,
        plural(plan.queued)
    );
    Ok(())
}
