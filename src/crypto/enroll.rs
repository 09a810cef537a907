//! Making a provider encrypt, when it is added: which key it gets, and the
//! passphrase-wrapped copy of that key it keeps.
//!
//! The library has one key. A provider that already holds a wrapped key
//! (`keys/breakdex-library-key.age`, put there by this library or by an
//! earlier computer's) must open with the passphrase given: a library with
//! no key yet adopts it (so a new computer reads the old one's copies), a
//! library whose key differs is told so and nothing is written. A provider
//! with no wrapped key gets the library's (made now if it has none), wrapped
//! with the passphrase; one that already holds unencrypted copies is
//! refused (encryption is chosen before a provider holds copies).

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};

use super::library::{key_id, keys_of, settings_entry};
use super::{CryptoError, Keys, Passphrase};
use crate::catalog::io;
use crate::providers::{Failure, Provider, block_on};
use crate::secrets::SecretStore;
use crate::store::Store;

/// Where an encrypted provider keeps the library's key, wrapped with the
/// passphrase (an age file to age's scrypt recipient).
pub const KEY_OBJECT: &str = "keys/breakdex-library-key.age";

/// A provider enrolled: its settings' `"encryption"` entry, and what was
/// done, in words for the person who asked.
pub struct Enrolled {
    pub entry: serde_json::Value,
    pub note: String,
}

/// The library's key and its settings entry (where it is kept), if it has
/// one: that of its encrypted providers.
pub fn library_key(store: &Store) -> anyhow::Result<Option<(Arc<Keys>, serde_json::Value)>> {
    for row in store.providers()? {
        if let Some(entry) = row.settings.get("encryption") {
            let keys = (keys_of(&row.settings))
                .map_err(|e| anyhow!("provider '{}': {e}", row.name))?
                .context("an encryption entry without a key")?;
            return Ok(Some((keys, entry.clone())));
        }
    }
    Ok(None)
}

/// Enrolls `provider` (being added to the library `store` at `db`) in the
/// library's encryption with `passphrase`. Nothing is written to the
/// provider or the secret store when it fails.
pub fn enroll(
    store: &Store,
    db: &Path,
    provider: &Provider,
    passphrase: &Passphrase,
) -> anyhow::Result<Enrolled> {
    let name = &provider.name;
    let current = library_key(store)?;
    let found = block_on("read the provider", io::read(provider, KEY_OBJECT))
        .map_err(|f| anyhow!("{f}"))?;
    let Some(wrapped) = found else {
        let held = block_on("read the provider", io::list(provider, "objects/"))
            .map_err(|f| anyhow!("{f}"))?;
        if !held.is_empty() {
            bail!(
                "provider '{name}' already holds {} unencrypted copies: encryption is chosen \
                 for a provider that holds none yet",
                held.len()
            );
        }
        let made = current.is_none();
        let keys = match &current {
            Some((keys, _)) => keys.clone(),
            None => Arc::new(Keys::generate()),
        };
        put_key(provider, wrap(&keys, passphrase)?).map_err(|f| anyhow!("{f}"))?;
        // Kept once it is on the provider: a key kept and never put would
        // stay behind after a failure.
        let entry = match current {
            Some((_, entry)) => entry,
            None => keep(store, db, &keys)?,
        };
        let note = match made {
            true => format!(
                "made the library key {} and put it on provider '{name}', locked with the \
                 passphrase",
                keys.recipient()
            ),
            false => format!(
                "put the library key {} on provider '{name}', locked with the passphrase",
                keys.recipient()
            ),
        };
        return Ok(Enrolled { entry, note });
    };
    let theirs = match Keys::unwrap(&wrapped, passphrase) {
        Ok(keys) => keys,
        Err(CryptoError::WrongPassphrase) => bail!(
            "the passphrase does not open the library key on provider '{name}' \
             ({KEY_OBJECT}); nothing was written"
        ),
        Err(e) => bail!("provider '{name}' holds {KEY_OBJECT}, but it is not a key: {e}"),
    };
    match current {
        Some((ours, entry)) if ours.recipient() == theirs.recipient() => Ok(Enrolled {
            entry,
            note: format!(
                "provider '{name}' holds this library's key {}",
                ours.recipient()
            ),
        }),
        Some((ours, _)) => bail!(
            "provider '{name}' holds another library's key ({}), not this library's ({}); \
             nothing was written",
            theirs.recipient(),
            ours.recipient()
        ),
        None => {
            let entry = keep(store, db, &theirs)?;
            Ok(Enrolled {
                entry,
                note: format!(
                    "took the library key {} from provider '{name}': this library reads \
                     the copies made with it",
                    theirs.recipient()
                ),
            })
        }
    }
}

/// `keys` locked with `passphrase`: the wrapped copy a provider keeps
/// (about a second of scrypt).
pub fn wrap(keys: &Keys, passphrase: &Passphrase) -> anyhow::Result<Vec<u8>> {
    let created = crate::store::timestamp(std::time::SystemTime::now());
    Ok(keys.wrap(passphrase, &created)?)
}

/// Puts a wrapped key (see [`wrap`]) on `provider`, over the one it holds.
pub fn put_key(provider: &Provider, wrapped: Vec<u8>) -> Result<(), Failure> {
    block_on(
        "write to the provider",
        io::put(provider, KEY_OBJECT, wrapped),
    )
}

/// Keeps `keys` as the library's key in the secret store a new provider of
/// the library at `db` would get; returns the settings entry naming it.
fn keep(store: &Store, db: &Path, keys: &Keys) -> anyhow::Result<serde_json::Value> {
    let secrets = SecretStore::for_new_provider(db).map_err(|e| anyhow!("{e}"))?;
    let id = key_id(&store.library_id()?);
    (secrets.store(&id, "Breakdex library key", &keys.secret()))
        .map_err(|e| anyhow!("cannot keep the library key in {secrets}: {e}"))?;
    Ok(settings_entry(keys, &secrets, &id))
}
