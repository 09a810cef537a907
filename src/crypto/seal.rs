//! Streaming through age: [`seal`] encrypts to the library's recipient as
//! the bytes are written, [`open`] and [`open_async`] decrypt with its
//! identity as they are read, each 64 KiB chunk authenticated before its
//! bytes are handed on (a flipped byte, a chunk cut off or a file cut short
//! reads as an error, [`CryptoError::Corrupt`]).
//!
//! An age file of `n` bytes of plaintext is its header (its length varies:
//! the age crate adds a random "grease" stanza), a 16-byte nonce, and the
//! payload: `max(1, ⌈n / 64 KiB⌉)` chunks, each with a 16-byte tag. Once the
//! header is written ([`Sealer::take`] gives it), [`sealed_len`] gives the
//! object's exact size before a byte of plaintext is read, which a streamed
//! PUT needs.

use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex};

use super::resume::{Kept, SealWriter};
use super::{CryptoError, Keys};

/// The plaintext in one age payload chunk.
const CHUNK: u64 = 64 << 10;
/// The tag after each chunk (ChaCha20-Poly1305).
const TAG: u64 = 16;

/// An age writer sealing what is written to it into `out`, the header
/// already written there. Its `finish` must be called: it writes the last
/// chunk, without which the file does not decrypt.
pub fn seal<W: Write>(keys: &Keys, out: W) -> Result<age::stream::StreamWriter<W>, CryptoError> {
    let encryptor = age::Encryptor::with_recipients(std::iter::once(keys.as_recipient()))
        .map_err(|e| CryptoError::Io(std::io::Error::other(e.to_string())))?;
    Ok(encryptor.wrap_output(out)?)
}

/// The size of the age file [`seal`] makes of `plain` bytes, whose header
/// (nonce included) took `header` bytes.
pub fn sealed_len(header: u64, plain: u64) -> u64 {
    header + plain + TAG * plain.div_ceil(CHUNK).max(1)
}

/// `plain` sealed whole (something small: a catalog segment).
pub fn seal_bytes(keys: &Keys, plain: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut sealer = Sealer::new(keys)?;
    let mut out = sealer.push(plain)?;
    out.extend(sealer.finish()?);
    Ok(out)
}

/// The plaintext of the whole age file `sealed`.
pub fn open_bytes(keys: &Keys, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut open(keys, sealed)?, &mut plain)
        .map_err(CryptoError::of_read)?;
    Ok(plain)
}

/// A reader of the plaintext of the age file `input` sealed to `keys`.
/// Its reads fail with invalid data where the file is corrupt or cut
/// short ([`CryptoError::of_read`] says so).
pub fn open<R: BufRead>(
    keys: &Keys,
    input: R,
) -> Result<age::stream::StreamReader<R>, CryptoError> {
    let decryptor = age::Decryptor::new_buffered(input).map_err(CryptoError::of_decrypt)?;
    (decryptor.decrypt(std::iter::once(keys.as_identity()))).map_err(CryptoError::of_decrypt)
}

/// [`open`] for an asynchronous (futures) reader, as a download gives.
pub async fn open_async<R: futures::AsyncBufRead + Unpin>(
    keys: &Keys,
    input: R,
) -> Result<age::stream::StreamReader<R>, CryptoError> {
    let decryptor =
        (age::Decryptor::new_async_buffered(input).await).map_err(CryptoError::of_decrypt)?;
    (decryptor.decrypt_async(std::iter::once(keys.as_identity()))).map_err(CryptoError::of_decrypt)
}

/// Seals a stream handed on piece by piece (a streamed PUT's body, the
/// writes of an upload): plaintext pieces in, the ciphertext ready so far
/// out. The first [`Sealer::take`] gives the header, whose length
/// [`sealed_len`] needs.
pub struct Sealer {
    spill: Spill,
    writer: SealWriter<Spill>,
}

impl Sealer {
    pub fn new(keys: &Keys) -> Result<Sealer, CryptoError> {
        let spill = Spill::default();
        let writer = SealWriter::Fresh(seal(keys, spill.clone())?);
        Ok(Sealer { spill, writer })
    }

    /// A sealer going on after what an earlier attempt `kept` (its header
    /// and chunks are on the provider already: nothing of them is given).
    pub fn continued(kept: &Kept) -> Sealer {
        let spill = Spill::default();
        let writer = SealWriter::Continued(kept.writer(spill.clone()));
        Sealer { spill, writer }
    }

    /// The ciphertext ready and not yet taken.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut *self.spill.bytes())
    }

    /// Seals `plain`; returns the ciphertext ready (whole 64 KiB chunks,
    /// and the header if not taken yet; often nothing).
    pub fn push(&mut self, plain: &[u8]) -> std::io::Result<Vec<u8>> {
        self.writer.write_all(plain)?;
        Ok(self.take())
    }

    /// The rest of the ciphertext: the last chunk.
    pub fn finish(self) -> std::io::Result<Vec<u8>> {
        self.writer.finish()?;
        Ok(std::mem::take(&mut *self.spill.bytes()))
    }
}

/// A sink that keeps what is written to it until it is taken; its clones
/// share the bytes.
#[derive(Clone, Default)]
struct Spill(Arc<Mutex<Vec<u8>>>);

impl Spill {
    fn bytes(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        // A panic elsewhere cannot leave a Vec half-written.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Write for Spill {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    fn sealed(keys: &Keys, plain: &[u8]) -> (Vec<u8>, u64) {
        let mut sealer = Sealer::new(keys).unwrap();
        let mut out = sealer.take();
        let header = out.len() as u64;
        // Written in uneven pieces, taken as it comes.
        for piece in plain.chunks(10_000) {
            out.extend(sealer.push(piece).unwrap());
        }
        out.extend(sealer.finish().unwrap());
        (out, header)
    }

    fn opened(keys: &Keys, file: &[u8]) -> Result<Vec<u8>, CryptoError> {
        open_bytes(keys, file)
    }

    fn bytes(n: usize) -> Vec<u8> {
        let mut out = vec![0; n];
        blake3::Hasher::new().finalize_xof().fill(&mut out);
        out
    }

    #[test]
    fn sealed_files_have_the_size_foretold_and_open_to_the_same_bytes() {
        let keys = Keys::generate();
        for n in [0, 1, 65_535, 65_536, 65_537, 200_000, 3 << 16] {
            let plain = bytes(n);
            let (file, header) = sealed(&keys, &plain);
            assert_eq!(file.len() as u64, sealed_len(header, n as u64), "{n} bytes");
            assert_eq!(opened(&keys, &file).unwrap(), plain, "{n} bytes");
        }
    }

    #[test]
    fn a_flipped_byte_anywhere_a_cut_or_another_key_is_reported() {
        let keys = Keys::generate();
        let plain = bytes(150_000);
        let (file, header) = sealed(&keys, &plain);
        // In the recipient's stanza: it no longer opens with the key.
        let mut bad = file.clone();
        bad[30] ^= 0x01;
        assert!(matches!(
            opened(&keys, &bad),
            Err(CryptoError::OtherIdentity)
        ));
        // In the header's MAC line (where the grease stanza moves it, it
        // may read as another format): never opened.
        let mut bad = file.clone();
        bad[header as usize - 20] ^= 0x01;
        assert!(opened(&keys, &bad).is_err());
        // In the first chunk, in the last tag.
        for at in [header as usize + 5, file.len() - 1] {
            let mut bad = file.clone();
            bad[at] ^= 0x01;
            assert!(
                matches!(opened(&keys, &bad), Err(CryptoError::Corrupt(_))),
                "byte {at} of {}: {:?}",
                file.len(),
                opened(&keys, &bad).err()
            );
        }
        let cut = &file[..file.len() - 100];
        assert!(matches!(opened(&keys, cut), Err(CryptoError::Corrupt(_))));
        // Cut at a chunk's end: age still knows the last chunk is missing.
        let at_chunk = (header + CHUNK + TAG) as usize;
        assert!(matches!(
            opened(&keys, &file[..at_chunk]),
            Err(CryptoError::Corrupt(_))
        ));
        assert!(matches!(
            opened(&Keys::generate(), &file),
            Err(CryptoError::OtherIdentity)
        ));
        assert!(matches!(opened(&keys, &plain), Err(CryptoError::NotAge(_))));
    }

    /// The Debian `age` tool, installed by scripts/test.sh.
    fn age_tool() -> Command {
        let which = Command::new("age").arg("--version").output();
        assert!(
            which.is_ok_and(|o| o.status.success()),
            "the age tool is needed (scripts/test.sh installs it: apt-get install age)"
        );
        Command::new("age")
    }

    #[test]
    fn the_age_tool_reads_what_breakdex_seals_and_the_other_way() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::generate();
        let id = dir.path().join("identity.txt");
        std::fs::write(&id, keys.identity_file("2026-12-04T00:00:00Z")).unwrap();
        let plain = bytes(300_001);
        let (file, _) = sealed(&keys, &plain);
        let object = dir.path().join("object.age");
        std::fs::write(&object, &file).unwrap();

        let out = (age_tool().arg("-d").arg("-i").arg(&id).arg(&object))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout == plain, "age -d gives back the exact bytes");

        let mut enc = (age_tool().args(["-e", "-r", &keys.recipient()]))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = enc.stdin.take().unwrap();
        let feed = plain.clone();
        let writer = std::thread::spawn(move || stdin.write_all(&feed).unwrap());
        let out = enc.wait_with_output().unwrap();
        writer.join().unwrap();
        assert!(out.status.success());
        assert!(opened(&keys, &out.stdout).unwrap() == plain);
    }

    #[tokio::test]
    async fn an_asynchronous_reader_opens_as_the_plain_one_does() {
        use futures::AsyncReadExt;
        let keys = Keys::generate();
        let plain = bytes(100_000);
        let (file, _) = sealed(&keys, &plain);
        let mut back = Vec::new();
        let mut r = open_async(&keys, futures::io::Cursor::new(&file))
            .await
            .unwrap();
        r.read_to_end(&mut back).await.unwrap();
        assert!(back == plain);
        let mut bad = file.clone();
        let last = bad.len() - 20;
        bad[last] ^= 0x80;
        let mut r = open_async(&keys, futures::io::Cursor::new(&bad))
            .await
            .unwrap();
        let e = r.read_to_end(&mut Vec::new()).await.unwrap_err();
        assert!(matches!(CryptoError::of_read(e), CryptoError::Corrupt(_)));
    }
}
