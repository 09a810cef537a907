//! The library's key on the command line: the passphrase that locks its
//! copy on each encrypted provider (from `--passphrase-file FILE`, else
//! `BREAKDEX_PASSPHRASE`, else typed at a prompt with echo off, as restic
//! and Kopia take theirs; never from an argument), and `identity
//! show|export|passphrase`.

use std::io::{BufRead, Write};
use std::path::Path;

use anyhow::{Context, anyhow, bail};

use crate::crypto::Passphrase;
use crate::store::Store;

/// The environment variable a passphrase may come from.
const PASSPHRASE_ENV: &str = "BREAKDEX_PASSPHRASE";

/// The passphrase, from `file`'s first line, else the environment, else
/// typed twice at a prompt on the terminal.
pub fn passphrase(file: Option<&Path>) -> anyhow::Result<Passphrase> {
    if let Some(file) = file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the passphrase file {}", file.display()))?;
        return Ok(Passphrase::new(text.lines().next().unwrap_or_default())?);
    }
    if let Ok(text) = std::env::var(PASSPHRASE_ENV) {
        return Passphrase::new(&text).map_err(|e| anyhow!("{PASSPHRASE_ENV}: {e}"));
    }
    let Ok(tty) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
    else {
        bail!(
            "a passphrase is needed: --passphrase-file FILE, {PASSPHRASE_ENV}, or a terminal \
             to type it at"
        );
    };
    let first = Passphrase::new(&prompt(&tty, "Passphrase (10 characters or more): ")?)?;
    let again = prompt(&tty, "The same passphrase again: ")?;
    if Passphrase::new(&again).ok().as_ref() != Some(&first) {
        bail!("the two passphrases differ; nothing was done");
    }
    Ok(first)
}

/// Asks on the terminal `tty` with echo off and reads one line.
fn prompt(tty: &std::fs::File, question: &str) -> anyhow::Result<String> {
    use std::os::fd::AsRawFd;
    let fd = tty.as_raw_fd();
    (&*tty).write_all(question.as_bytes())?;
    // SAFETY: `termios` is plain data filled by tcgetattr on an open fd.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    let quiet = unsafe { libc::tcgetattr(fd, &mut saved) } == 0;
    if quiet {
        let mut silent = saved;
        silent.c_lflag &= !libc::ECHO;
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &silent) };
    }
    let mut line = String::new();
    let read = std::io::BufReader::new(tty).read_line(&mut line);
    if quiet {
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
    }
    (&*tty).write_all(b"\n")?;
    read.context("cannot read the passphrase")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// The library's key, from its encrypted providers' settings.
fn library_keys(store: &Store) -> anyhow::Result<std::sync::Arc<crate::crypto::Keys>> {
    match crate::crypto::enroll::library_key(store)? {
        Some((keys, _)) => Ok(keys),
        None => bail!("this library has no key: no provider encrypts (provider add ... --encrypt)"),
    }
}

/// `identity show`: the library's public key and the providers that
/// encrypt to it.
pub fn show(store: &Store) -> anyhow::Result<()> {
    let keys = library_keys(store)?;
    println!("library key {}", keys.recipient());
    for row in store.providers()? {
        if row.settings.get("encryption").is_some() {
            println!("  encrypts: provider '{}'", row.name);
        }
    }
    Ok(())
}

/// `identity export FILE`: the library's key as an age identity file
/// (mode 0600, never over an existing file), which `age -d -i FILE` reads.
pub fn export(store: &Store, file: &Path) -> anyhow::Result<()> {
    let keys = library_keys(store)?;
    crate::crypto::library::export(&keys, file)
        .with_context(|| format!("cannot write {}", file.display()))?;
    println!(
        "wrote the library key {} to {} (mode 0600): anyone holding this file reads every \
         encrypted copy; `age -d -i {}` opens any of them",
        keys.recipient(),
        file.display(),
        file.display()
    );
    Ok(())
}

/// `identity passphrase`: locks the key on every encrypted provider with a
/// new passphrase (the objects stay as they are: they are encrypted to the
/// key, not to the passphrase). Fails if one of them could not be written;
/// those that were keep the new one.
pub fn change_passphrase(store: &Store, file: Option<&Path>) -> anyhow::Result<()> {
    let keys = library_keys(store)?;
    let passphrase = passphrase(file)?;
    let wrapped = crate::crypto::enroll::wrap(&keys, &passphrase)?;
    let mut failed = Vec::new();
    for row in store.providers()? {
        if row.settings.get("encryption").is_none() {
            continue;
        }
        let put = crate::providers::Provider::open(&row)
            .and_then(|provider| crate::crypto::enroll::put_key(&provider, wrapped.clone()));
        match put {
            Ok(()) => println!(
                "provider '{}': the key is locked with the new passphrase",
                row.name
            ),
            Err(f) => failed.push(format!("provider '{}': {f}", row.name)),
        }
    }
    if !failed.is_empty() {
        bail!(
            "the passphrase did not change on every provider (the old one still opens these):\n{}",
            failed.join("\n")
        );
    }
    Ok(())
}
