//! Writing on an age file that was cut short (an encrypted upload's
//! temporary file, after a pause, a closed window or a kill), so that an
//! encrypted upload resumes instead of starting over.
//!
//! The age crate writes a file from its start only: its STREAM writer
//! cannot be set at a chunk other than the first. But everything needed to
//! go on is in what was written, for whoever holds the identity: the header
//! names the file key (wrapped to the recipient), its nonce follows, and
//! the payload key is `HKDF-SHA256(salt = nonce, ikm = file key, info =
//! "payload")`, as the age format says. Going on is then age's STREAM
//! itself: ChaCha20-Poly1305 over 64 KiB chunks, the nonce an 11-byte big
//! endian chunk counter and a last-chunk flag. The header is parsed with
//! age-core's own parser, the file key unwrapped by the identity's own
//! `unwrap_stanza`, the key derived with age-core's `hkdf`; what was
//! written is read back through age's reader (which checks the header's
//! MAC and authenticates every chunk) before a byte is added. The result
//! is an age file like any other: `age -d` reads it.

use std::io::{BufReader, Read, Seek, SeekFrom, Write};

use age::secrecy::ExposeSecret;
use age_core::format::Stanza;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key};

use super::{CryptoError, Keys};

/// The plaintext in one payload chunk, and the tag after it.
pub const CHUNK: usize = 64 << 10;
const TAG: usize = 16;
/// The payload's nonce, after the header.
const NONCE: usize = 16;
/// The most a header is read for (Breakdex's are under 500 bytes).
pub const HEADER_MOST: usize = 16 << 10;

/// What a cut-short age file holds that can be written on: its first
/// `chunks` chunks, whose plaintext was handed to the caller and matched.
pub struct Kept {
    pub chunks: u64,
    /// Where the kept bytes end in the file: the header, the nonce and the
    /// kept chunks with their tags.
    pub sealed_len: u64,
    key: [u8; 32],
}

impl Kept {
    /// `chunks` kept after a header of `header_len` bytes; none kept is
    /// nothing.
    fn of(header_len: usize, key: [u8; 32], chunks: u64) -> Option<Kept> {
        (chunks > 0).then(|| Kept {
            chunks,
            sealed_len: (header_len + NONCE) as u64 + chunks * (CHUNK + TAG) as u64,
            key,
        })
    }

    /// Nothing kept of a file but its header: the first bytes of `head`,
    /// which hold it and its nonce (an encrypted S3 upload keeps them in
    /// the library, since the server gives no part of an unfinished upload
    /// back). None when they are not an age header of this identity.
    pub fn header(keys: &Keys, head: &[u8]) -> Option<Kept> {
        let (header_len, key) = payload_key(keys, head)?;
        Some(Kept {
            chunks: 0,
            sealed_len: (header_len + NONCE) as u64,
            key,
        })
    }

    /// The plaintext bytes the kept chunks hold.
    pub fn plain_len(&self) -> u64 {
        self.chunks * CHUNK as u64
    }

    /// A writer that goes on sealing into `out` (placed at
    /// [`Kept::sealed_len`]) from the chunk after the kept ones.
    pub fn writer<W: Write>(&self, out: W) -> Continued<W> {
        Continued {
            aead: ChaCha20Poly1305::new(Key::from_slice(&self.key)),
            counter: self.chunks,
            pending: Vec::with_capacity(CHUNK),
            out,
        }
    }
}

/// Reads the age file `part` (sealed to `keys`, maybe cut short) from its
/// start, and keeps as many whole chunks as `matches` accepts (it is given
/// each chunk's plaintext in turn, and may stop at any), at most `most`:
/// a file is always written on by at least one byte, since age's last
/// chunk is never empty. None when nothing can be kept (not a file of this
/// identity, a damaged header, no whole chunk).
pub fn keep<R: Read + Seek>(
    keys: &Keys,
    part: &mut R,
    most: u64,
    mut matches: impl FnMut(&[u8]) -> bool,
) -> Result<Option<Kept>, CryptoError> {
    part.seek(SeekFrom::Start(0))?;
    let mut head = Vec::with_capacity(HEADER_MOST);
    (&mut *part)
        .take(HEADER_MOST as u64)
        .read_to_end(&mut head)?;
    let Some((header_len, key)) = payload_key(keys, &head) else {
        return Ok(None);
    };
    // Read back through age: the header's MAC, then each chunk, checked.
    part.seek(SeekFrom::Start(0))?;
    let Ok(mut reader) = super::open(keys, BufReader::new(&mut *part)) else {
        return Ok(None);
    };
    let mut chunk = vec![0; CHUNK];
    let mut chunks = 0;
    while chunks < most {
        match read_whole(&mut reader, &mut chunk) {
            Ok(true) if matches(&chunk) => chunks += 1,
            _ => break,
        }
    }
    Ok(Kept::of(header_len, key, chunks))
}

/// [`keep`] for a part read from a server, a chunk at a time (the caller
/// reads the source between them, and counts those that match).
pub struct Reading<R> {
    reader: age::stream::StreamReader<R>,
    header_len: usize,
    key: [u8; 32],
    chunk: Vec<u8>,
}

impl<R: futures::AsyncBufRead + Unpin> Reading<R> {
    /// `head` is the part's first bytes (at least [`HEADER_MOST`] of them,
    /// or all it has), `part` reads it from its start. None when nothing
    /// can be kept (as [`keep`]).
    pub async fn open(keys: &Keys, head: &[u8], part: R) -> Option<Reading<R>> {
        let (header_len, key) = payload_key(keys, head)?;
        let reader = super::open_async(keys, part).await.ok()?;
        Some(Reading {
            reader,
            header_len,
            key,
            chunk: vec![0; CHUNK],
        })
    }

    /// The plaintext of the next whole chunk, checked; None at the end.
    pub async fn next_chunk(&mut self) -> Option<&[u8]> {
        use futures::AsyncReadExt;
        self.reader.read_exact(&mut self.chunk).await.ok()?;
        Some(&self.chunk)
    }

    /// The first `chunks` chunks kept.
    pub fn kept(&self, chunks: u64) -> Option<Kept> {
        Kept::of(self.header_len, self.key, chunks)
    }
}

/// Where an age file's header ends, and its payload key, from its first
/// bytes `head`: the header parsed, the file key unwrapped by the
/// identity, the key derived from it and the nonce as age derives it.
fn payload_key(keys: &Keys, head: &[u8]) -> Option<(usize, [u8; 32])> {
    let (stanzas, header_len) = parse_header(head)?;
    let nonce = head.get(header_len..header_len + NONCE)?;
    let file_key = match age::Identity::unwrap_stanzas(&keys.identity, &stanzas) {
        Some(Ok(file_key)) => file_key,
        _ => return None,
    };
    let key = age_core::primitives::hkdf(nonce, b"payload", file_key.expose_secret());
    Some((header_len, key))
}

/// Fills `buf` from `reader`: false if it ended first (or failed).
fn read_whole(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..])? {
            0 => return Ok(false),
            n => got += n,
        }
    }
    Ok(true)
}

/// The recipient stanzas of an age v1 header at the start of `bytes`, and
/// the header's length (through its MAC line).
fn parse_header(bytes: &[u8]) -> Option<(Vec<Stanza>, usize)> {
    let mut rest = bytes.strip_prefix(b"age-encryption.org/v1\n")?;
    let mut stanzas = Vec::new();
    while rest.starts_with(b"-> ") {
        let (after, stanza) = age_core::format::read::age_stanza(rest).ok()?;
        stanzas.push(Stanza::from(stanza));
        rest = after;
    }
    let mac = rest.strip_prefix(b"--- ")?;
    let end = mac.iter().position(|&b| b == b'\n')?;
    Some((stanzas, bytes.len() - mac.len() + end + 1))
}

/// Age's STREAM, going on from a chunk: plaintext written to it is sealed
/// into `out` in 64 KiB chunks; [`Continued::finish`] writes the last one.
pub struct Continued<W> {
    aead: ChaCha20Poly1305,
    counter: u64,
    /// Plaintext not sealed yet: a chunk is sealed once more follows it
    /// (the last one is sealed with the last-chunk flag, by `finish`).
    pending: Vec<u8>,
    out: W,
}

impl<W: Write> Continued<W> {
    fn seal(&mut self, last: bool) -> std::io::Result<()> {
        let mut nonce = [0u8; 12];
        nonce[3..11].copy_from_slice(&self.counter.to_be_bytes());
        nonce[11] = u8::from(last);
        let sealed = (self.aead)
            .encrypt(
                chacha20poly1305::Nonce::from_slice(&nonce),
                &self.pending[..],
            )
            .map_err(|_| std::io::Error::other("a chunk could not be sealed"))?;
        self.out.write_all(&sealed)?;
        self.pending.clear();
        self.counter += 1;
        Ok(())
    }

    /// Seals the last chunk and gives `out` back: without it the file does
    /// not open.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.seal(true)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for Continued<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.pending.len() == CHUNK && !buf.is_empty() {
            self.seal(false)?;
        }
        let n = buf.len().min(CHUNK - self.pending.len());
        self.pending.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// A writer sealing an upload: age's own from a file's start, or
/// [`Continued`] on what an earlier attempt kept.
pub enum SealWriter<W: Write> {
    Fresh(age::stream::StreamWriter<W>),
    Continued(Continued<W>),
}

impl<W: Write> SealWriter<W> {
    pub fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            SealWriter::Fresh(w) => w.write_all(bytes),
            SealWriter::Continued(w) => w.write_all(bytes),
        }
    }

    /// Writes the last chunk; gives the output back.
    pub fn finish(self) -> std::io::Result<W> {
        match self {
            SealWriter::Fresh(w) => w.finish(),
            SealWriter::Continued(w) => w.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// `n` bytes that differ from chunk to chunk.
    fn data(n: usize) -> Vec<u8> {
        let mut out = vec![0; n];
        blake3::Hasher::new()
            .update(b"resume test")
            .finalize_xof()
            .fill(&mut out);
        out
    }

    /// `plain` sealed whole with age, as a fresh upload writes it.
    fn sealed(keys: &Keys, plain: &[u8]) -> Vec<u8> {
        let mut w = super::super::seal(keys, Vec::new()).unwrap();
        w.write_all(plain).unwrap();
        w.finish().unwrap()
    }

    /// `whole` (`plain` sealed) cut at `cut`, kept where it matches
    /// `plain`, written on with the rest of `plain`.
    fn resumed(keys: &Keys, plain: &[u8], whole: &[u8], cut: usize) -> (Option<u64>, Vec<u8>) {
        let mut part = Cursor::new(whole[..cut].to_vec());
        let most = (plain.len() as u64).saturating_sub(1) / CHUNK as u64;
        let mut at = 0;
        let kept = keep(keys, &mut part, most, |chunk| {
            let same = plain.get(at..at + chunk.len()) == Some(chunk);
            at += chunk.len();
            same
        })
        .unwrap();
        let Some(kept) = kept else {
            return (None, Vec::new());
        };
        let mut bytes = part.into_inner();
        bytes.truncate(kept.sealed_len as usize);
        let mut w = kept.writer(bytes);
        w.write_all(&plain[kept.plain_len() as usize..]).unwrap();
        (Some(kept.chunks), w.finish().unwrap())
    }

    #[test]
    fn a_cut_file_written_on_opens_to_the_whole_plaintext() {
        let keys = Keys::generate();
        let plain = data(5 * CHUNK + 1234);
        let whole = sealed(&keys, &plain);
        for cut in [whole.len() / 2, whole.len() - 10, 3 * (CHUNK + TAG) + 600] {
            let (chunks, file) = resumed(&keys, &plain, &whole, cut);
            assert!(chunks.is_some_and(|c| c >= 1), "cut at {cut}: {chunks:?}");
            let opened = crate::crypto::open_bytes(&keys, &file).unwrap();
            assert!(
                opened == plain,
                "cut at {cut}: the plaintext comes back whole"
            );
        }
        // At an exact multiple of the chunk, the last chunk is written anew
        // (age's last chunk is never empty).
        let exact = data(4 * CHUNK);
        let whole = sealed(&keys, &exact);
        let (chunks, file) = resumed(&keys, &exact, &whole, whole.len() - 5);
        assert_eq!(chunks, Some(3));
        assert!(crate::crypto::open_bytes(&keys, &file).unwrap() == exact);
    }

    #[test]
    fn nothing_is_kept_of_another_key_a_damaged_header_or_a_changed_source() {
        let keys = Keys::generate();
        let plain = data(3 * CHUNK + 7);
        let whole = sealed(&keys, &plain);
        // Another library's file.
        let theirs = sealed(&Keys::generate(), &plain);
        let mut part = Cursor::new(theirs[..2 * CHUNK].to_vec());
        assert!(keep(&keys, &mut part, 9, |_| true).unwrap().is_none());
        // A header whose MAC line was changed: age's reader refuses it.
        let mut damaged = whole[..2 * CHUNK].to_vec();
        let mac = damaged.windows(4).position(|w| w == b"--- ").unwrap() + 6;
        damaged[mac] ^= 1;
        assert!(
            keep(&keys, &mut Cursor::new(damaged), 9, |_| true)
                .unwrap()
                .is_none()
        );
        // A source that differs from its second chunk on keeps the first.
        let mut part = Cursor::new(whole[..whole.len() - 100].to_vec());
        let mut seen = 0;
        let kept = keep(&keys, &mut part, 9, |_| {
            seen += 1;
            seen == 1
        })
        .unwrap()
        .unwrap();
        assert_eq!(kept.chunks, 1);
        // A flipped byte in the second chunk keeps the first.
        let (_, header) = parse_header(&whole).unwrap();
        let mut flipped = whole.clone();
        flipped[header + NONCE + CHUNK + TAG + 100] ^= 0x20;
        let kept = keep(&keys, &mut Cursor::new(flipped), 9, |_| true)
            .unwrap()
            .unwrap();
        assert_eq!(kept.chunks, 1);
        // Whole, it keeps as many as it is let.
        let kept = keep(&keys, &mut Cursor::new(whole), 2, |_| true)
            .unwrap()
            .unwrap();
        assert_eq!(kept.chunks, 2);
    }

    #[test]
    fn the_age_tool_reads_a_resumed_file() {
        let keys = Keys::generate();
        let plain = data(6 * CHUNK + 99);
        let whole = sealed(&keys, &plain);
        let (_, file) = resumed(&keys, &plain, &whole, 4 * (CHUNK + TAG) + 300);
        let dir = tempfile::tempdir().unwrap();
        let (identity, object) = (dir.path().join("key.txt"), dir.path().join("object.age"));
        std::fs::write(&identity, keys.identity_file("now")).unwrap();
        std::fs::write(&object, &file).unwrap();
        let out = std::process::Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(&identity)
            .arg(&object)
            .output()
            .expect("the age tool (scripts/test.sh installs it)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout == plain, "age -d gives the plaintext back");
    }
}
