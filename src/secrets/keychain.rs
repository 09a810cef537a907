//! The OS keychain, through the Secret Service D-Bus API (GNOME Keyring,
//! KWallet, KeePassXC...), with the `keyring` project's store for it.
//!
//! Each secret is one item: service `Breakdex`, user name the provider id,
//! labelled with the provider's name so a person can find it in their
//! keychain manager. Every call runs on a helper thread and is given up after
//! a while, so a keychain that never answers (a hung service, an unlock
//! prompt nobody sees) cannot hang the caller.

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::Duration;

use keyring_core::Error as KeyringError;
use zbus_secret_service_keyring_store::Store;

use super::SecretError;

/// The Secret Service `service` attribute of Breakdex's items.
const SERVICE: &str = "Breakdex";

/// How long a keychain call may take, unlock prompts included.
const ANSWER_WITHIN: Duration = Duration::from_secs(30);
/// How long the check that a keychain is there may take.
const PROBE_WITHIN: Duration = Duration::from_secs(5);

/// Runs `call` against a fresh connection to the keychain, on a helper
/// thread, waiting at most `within`.
fn with_keychain<T: Send + 'static>(
    within: Duration,
    call: impl FnOnce(&Store) -> keyring_core::Result<T> + Send + 'static,
) -> Result<T, SecretError> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("breakdex-keychain".into())
        .spawn(move || {
            let _ = tx.send(Store::new().and_then(|store| call(&store)));
        })
        .map_err(|e| SecretError::unavailable(format!("cannot reach the OS keychain: {e}")))?;
    match rx.recv_timeout(within) {
        Ok(answer) => answer.map_err(explain),
        Err(_) => Err(SecretError::unavailable(format!(
            "the OS keychain did not answer within {} s (is it locked?)",
            within.as_secs()
        ))),
    }
}

/// The keychain's error in words. Never shows secret bytes: the variants
/// that carry them are described, not printed.
fn explain(e: KeyringError) -> SecretError {
    match e {
        KeyringError::NoStorageAccess(why) => SecretError::unavailable(format!(
            "the OS keychain is locked or refused access ({why})"
        )),
        KeyringError::PlatformFailure(why) => {
            SecretError::unavailable(format!("the OS keychain is not available ({why})"))
        }
        KeyringError::BadEncoding(_) | KeyringError::BadDataFormat(..) => {
            SecretError::other("the secret in the OS keychain is not text")
        }
        KeyringError::Ambiguous(items) => SecretError::other(format!(
            "the OS keychain holds {} Breakdex items for this provider",
            items.len()
        )),
        other => SecretError::other(format!("the OS keychain failed: {other}")),
    }
}

/// Whether a keychain answers on this session.
pub fn probe() -> Result<(), SecretError> {
    with_keychain(PROBE_WITHIN, |_| Ok(()))
}

fn entry(
    store: &Store,
    id: &str,
    label: Option<&str>,
) -> keyring_core::Result<keyring_core::Entry> {
    use keyring_core::api::CredentialStoreApi;
    let modifiers = label.map(|l| HashMap::from([("label", l)]));
    store.build(SERVICE, id, modifiers.as_ref())
}

/// Stores (or replaces) the secret of provider `id`, labelled `label`.
pub fn store(id: &str, label: &str, secret: &str) -> Result<(), SecretError> {
    let (id, label, secret) = (id.to_string(), label.to_string(), secret.to_string());
    with_keychain(ANSWER_WITHIN, move |store| {
        entry(store, &id, Some(&label))?.set_password(&secret)
    })
}

/// The secret of provider `id`, if the keychain has one.
pub fn load(id: &str) -> Result<Option<String>, SecretError> {
    let id = id.to_string();
    with_keychain(ANSWER_WITHIN, move |store| {
        match entry(store, &id, None)?.get_password() {
            Ok(secret) => Ok(Some(secret)),
            Err(KeyringError::NoEntry) => Ok(None),
            Err(e) => Err(e),
        }
    })
}

/// Forgets the secret of provider `id` (nothing to forget is fine).
pub fn remove(id: &str) -> Result<(), SecretError> {
    let id = id.to_string();
    with_keychain(ANSWER_WITHIN, move |store| {
        match entry(store, &id, None)?.delete_credential() {
            Ok(()) | Err(KeyringError::NoEntry) => Ok(()),
            Err(e) => Err(e),
        }
    })
}
