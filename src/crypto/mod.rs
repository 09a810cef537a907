//! Client-side encryption in the age format (issue 15): the library's age
//! identity and what is derived from it.
//!
//! A library that encrypts has one X25519 identity ([`Keys`]). Every object
//! on an encrypted provider is an age file to its recipient, so `age -d -i
//! IDENTITY` (the standard tool) gives back the exact bytes without
//! Breakdex. The identity itself is kept in the secret store (see
//! `secrets`), and a copy of it, encrypted with the user's passphrase
//! (age's scrypt recipient, [`Keys::wrap`]), goes on each encrypted
//! provider: the wrapped copy is an age file whose plaintext is an age
//! identity file, so `age -d wrapped > identity.txt` asks for the
//! passphrase and gives the identity back, again without Breakdex.
//!
//! Object names on an encrypted provider are not the content hash but a
//! BLAKE3 keyed hash of it ([`Keys::object_name`]), keyed by a key derived
//! from the identity, so the provider cannot test whether it holds a known
//! file. The same content gets the same name within a library (dedup holds).
//!
//! No cipher or file format here is Breakdex's own: `seal` only streams
//! through age's.

pub mod enroll;
pub mod library;
pub mod resume;
mod seal;

pub use seal::{Sealer, open, open_async, open_bytes, seal, seal_bytes, sealed_len};

use std::io::{Read, Write};

use age::secrecy::{ExposeSecret, SecretString};

use crate::secrets::Secret;

/// What a person is told once a provider encrypts.
pub const KEEP_IT_SAFE: &str = "Keep the passphrase safe: with this computer lost, the encrypted \
copies open only with it, or with the recovery sheet (the key itself, to print and keep: \
`breakdex identity export FILE`, or Save recovery sheet… in the Providers window). Without \
both, the copies are lost.";

/// The shortest passphrase taken, in characters.
pub const MIN_PASSPHRASE_CHARS: usize = 10;

/// The context of the key that names objects (BLAKE3 `derive_key`); a new
/// naming scheme would take a new context.
const NAMES_CONTEXT: &str = "breakdex 2026-12-04 object names v1";

/// Why something could not be encrypted, decrypted or unwrapped, in words
/// that hold no key and no passphrase.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the passphrase has {0} characters; it needs at least {MIN_PASSPHRASE_CHARS}")]
    PassphraseTooShort(usize),
    #[error("the passphrase does not open this library's key")]
    WrongPassphrase,
    #[error("not an age file ({0})")]
    NotAge(&'static str),
    /// No stanza of its header opens with the library's identity: the
    /// file is another library's, or its header is damaged (age cannot
    /// tell the two apart).
    #[error("it does not open with this library's key (another library's, or a damaged header)")]
    OtherIdentity,
    #[error("corrupt: {0}")]
    Corrupt(String),
    #[error("the key is not an age identity: {0}")]
    BadIdentity(&'static str),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl CryptoError {
    /// What an age decryption error means for an object or a wrapped key.
    fn of_decrypt(e: age::DecryptError) -> CryptoError {
        use age::DecryptError as D;
        match e {
            D::InvalidHeader => CryptoError::NotAge("its header is not age's"),
            D::UnknownFormat => CryptoError::NotAge("an unknown age version"),
            D::NoMatchingKeys => CryptoError::OtherIdentity,
            D::InvalidMac => CryptoError::Corrupt("its header's MAC does not match".into()),
            D::DecryptionFailed | D::KeyDecryptionFailed => {
                CryptoError::Corrupt("it does not decrypt".into())
            }
            D::ExcessiveWork { required, target } => CryptoError::Corrupt(format!(
                "its passphrase work factor {required} is above this machine's limit {target}"
            )),
            D::Io(e) => CryptoError::of_read(e),
            _ => CryptoError::Corrupt("it does not decrypt".into()),
        }
    }

    /// A read of decrypted bytes that failed: age reports a chunk that does
    /// not authenticate, or a file cut short, as invalid data.
    pub fn of_read(e: std::io::Error) -> CryptoError {
        match e.kind() {
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof => {
                CryptoError::Corrupt(format!("{e}"))
            }
            _ => CryptoError::Io(e),
        }
    }
}

/// A passphrase the user typed, long enough, never shown by `Debug`.
#[derive(Clone)]
pub struct Passphrase(SecretString);

impl Passphrase {
    /// Takes `text` if it has at least [`MIN_PASSPHRASE_CHARS`] characters
    /// (a line end at its end is not part of it).
    pub fn new(text: &str) -> Result<Passphrase, CryptoError> {
        let text = text.trim_end_matches(['\r', '\n']);
        let chars = text.chars().count();
        if chars < MIN_PASSPHRASE_CHARS {
            return Err(CryptoError::PassphraseTooShort(chars));
        }
        Ok(Passphrase(SecretString::from(text.to_string())))
    }
}

impl PartialEq for Passphrase {
    fn eq(&self, other: &Passphrase) -> bool {
        self.0.expose_secret() == other.0.expose_secret()
    }
}

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

/// The library's age identity, its recipient, and the key that names
/// objects.
pub struct Keys {
    identity: age::x25519::Identity,
    recipient: age::x25519::Recipient,
    names: [u8; 32],
}

impl Keys {
    /// A new identity, from the system's random source.
    pub fn generate() -> Keys {
        Keys::of(age::x25519::Identity::generate())
    }

    /// The identity in `secret` (`AGE-SECRET-KEY-1…`, as kept in the secret
    /// store, or an age identity file's text: comments and blank lines
    /// are passed over).
    pub fn from_secret(secret: &Secret) -> Result<Keys, CryptoError> {
        let line = (secret.expose().lines())
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .ok_or(CryptoError::BadIdentity("it is empty"))?;
        let identity = line.parse().map_err(CryptoError::BadIdentity)?;
        Ok(Keys::of(identity))
    }

    fn of(identity: age::x25519::Identity) -> Keys {
        let recipient = identity.to_public();
        let names = blake3::derive_key(
            NAMES_CONTEXT,
            identity.to_string().expose_secret().as_bytes(),
        );
        Keys {
            identity,
            recipient,
            names,
        }
    }

    /// The identity as the secret store keeps it (`AGE-SECRET-KEY-1…`).
    pub fn secret(&self) -> Secret {
        Secret::new(self.identity.to_string().expose_secret())
    }

    /// The public recipient (`age1…`): safe to show and to write anywhere.
    pub fn recipient(&self) -> String {
        self.recipient.to_string()
    }

    /// The name of the object holding the content whose BLAKE3 hash is
    /// `content_hash` (hex) on an encrypted provider: the keyed hash of it,
    /// 64 hex digits, which says nothing of the content to whoever lacks
    /// the identity.
    pub fn object_name(&self, content_hash: &str) -> String {
        blake3::keyed_hash(&self.names, content_hash.as_bytes())
            .to_hex()
            .to_string()
    }

    /// The identity as an age identity file (what `age-keygen` writes, and
    /// `age -d -i FILE` reads), with `created` in its first comment.
    pub fn identity_file(&self, created: &str) -> String {
        format!(
            "# Breakdex library key, created: {created}\n\
             # public key: {}\n\
             # Anyone holding this file can read every encrypted copy.\n\
             {}\n",
            self.recipient(),
            self.identity.to_string().expose_secret()
        )
    }

    /// The identity file encrypted to `passphrase` alone (age's scrypt
    /// recipient), as it is stored on each encrypted provider. Takes about
    /// a second of CPU (scrypt's work factor), so it belongs on a blocking
    /// thread.
    pub fn wrap(&self, passphrase: &Passphrase, created: &str) -> Result<Vec<u8>, CryptoError> {
        let encryptor = age::Encryptor::with_user_passphrase(passphrase.0.clone());
        let mut out = encryptor.wrap_output(Vec::new())?;
        out.write_all(self.identity_file(created).as_bytes())?;
        Ok(out.finish()?)
    }

    /// The identity a [`Keys::wrap`] made, opened with `passphrase`. About
    /// a second of CPU.
    pub fn unwrap(wrapped: &[u8], passphrase: &Passphrase) -> Result<Keys, CryptoError> {
        let decryptor = age::Decryptor::new_buffered(wrapped).map_err(CryptoError::of_decrypt)?;
        if !decryptor.is_scrypt() {
            return Err(CryptoError::NotAge("not encrypted to a passphrase"));
        }
        let identity = age::scrypt::Identity::new(passphrase.0.clone());
        let mut reader = match decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity)) {
            Ok(reader) => reader,
            Err(age::DecryptError::DecryptionFailed | age::DecryptError::NoMatchingKeys) => {
                return Err(CryptoError::WrongPassphrase);
            }
            Err(e) => return Err(CryptoError::of_decrypt(e)),
        };
        let mut text = String::new();
        (reader.read_to_string(&mut text)).map_err(CryptoError::of_read)?;
        Keys::from_secret(&Secret::new(text))
    }

    fn as_identity(&self) -> &dyn age::Identity {
        &self.identity
    }

    fn as_recipient(&self) -> &dyn age::Recipient {
        &self.recipient
    }
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keys({})", self.recipient())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passphrase() -> Passphrase {
        Passphrase::new("correct horse battery").unwrap()
    }

    #[test]
    fn a_short_passphrase_is_refused_with_its_length() {
        let e = Passphrase::new("nine char\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "the passphrase has 9 characters; it needs at least 10"
        );
        // Characters, not bytes: ten accented letters are enough.
        assert!(Passphrase::new("éééééééééé").is_ok());
        assert!(!format!("{:?}", passphrase()).contains("horse"));
    }

    #[test]
    fn the_identity_goes_through_the_secret_store_form_unchanged() {
        let keys = Keys::generate();
        let secret = keys.secret();
        assert!(secret.expose().starts_with("AGE-SECRET-KEY-1"));
        let back = Keys::from_secret(&secret).unwrap();
        assert_eq!(back.recipient(), keys.recipient());
        assert!(keys.recipient().starts_with("age1"));
        // An identity file's text is taken too.
        let file = Keys::from_secret(&Secret::new(keys.identity_file("now"))).unwrap();
        assert_eq!(file.recipient(), keys.recipient());
        assert!(matches!(
            Keys::from_secret(&Secret::new("# only a comment\n")),
            Err(CryptoError::BadIdentity(_))
        ));
        assert!(!format!("{keys:?}").contains("SECRET"));
    }

    #[test]
    fn object_names_are_keyed_stable_and_hide_the_hash() {
        let hash = blake3::hash(b"a known file").to_hex().to_string();
        let keys = Keys::generate();
        let name = keys.object_name(&hash);
        assert_eq!(name.len(), 64);
        assert_ne!(name, hash);
        assert_eq!(
            keys.object_name(&hash),
            name,
            "the same content, the same name"
        );
        let again = Keys::from_secret(&keys.secret()).unwrap();
        assert_eq!(again.object_name(&hash), name, "the same after a reload");
        assert_ne!(
            Keys::generate().object_name(&hash),
            name,
            "another library's differs"
        );
    }

    #[test]
    fn a_wrapped_identity_opens_with_its_passphrase_only() {
        let keys = Keys::generate();
        let wrapped = keys.wrap(&passphrase(), "2026-12-04").unwrap();
        let text = String::from_utf8_lossy(&wrapped);
        assert!(text.starts_with("age-encryption.org/v1\n-> scrypt "));
        assert!(!text.contains("AGE-SECRET-KEY"));
        let back = Keys::unwrap(&wrapped, &passphrase()).unwrap();
        assert_eq!(back.recipient(), keys.recipient());

        let wrong = Passphrase::new("incorrect horse battery").unwrap();
        assert!(matches!(
            Keys::unwrap(&wrapped, &wrong),
            Err(CryptoError::WrongPassphrase)
        ));
        assert!(matches!(
            Keys::unwrap(b"{\"not\": \"age\"}", &passphrase()),
            Err(CryptoError::NotAge(_))
        ));
        // An object sealed to the identity is not a wrapped key.
        let mut sealed = seal(&keys, Vec::new()).unwrap();
        sealed.write_all(b"x").unwrap();
        let sealed = sealed.finish().unwrap();
        assert!(matches!(
            Keys::unwrap(&sealed, &passphrase()),
            Err(CryptoError::NotAge(_))
        ));
    }
}
