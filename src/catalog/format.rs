//! The catalog segment format, version 1: zstd-compressed JSON lines, read
//! with `zstd -dc SEGMENT | jq .` and nothing of Breakdex's.
//!
//! ```text
//! {"breakdex_catalog":1,"library":"<id>","segment":7,"kind":"delta","written_at":"…","entries":2}
//! {"hash":"<blake3>","size":123,"media_type":"image/jpeg","added_at":"…","paths":[{"path":"2026/a.jpg","added_at":"…"}]}
//! {"hash":"<blake3>","removed_at":"…"}
//! {"end":2,"blake3":"<BLAKE3 of every byte above this line>"}
//! ```
//!
//! A segment is whole only with its end line, whose count and checksum
//! match; anything else is refused by name with the reason, and the other
//! segments are still read. Unknown fields are ignored (a later version 1
//! may add some); a higher `breakdex_catalog` number is refused.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::store::{CatalogAsset, Described};

/// The format this Breakdex writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;
/// The end of every segment's name.
pub const SEGMENT_SUFFIX: &str = ".jsonl.zst";
/// Most bytes a segment may hold once decompressed (a hostile segment must
/// not fill memory): 40 times the largest one Breakdex writes.
const MAX_DECOMPRESSED: usize = 1 << 30;
/// zstd's level: the fastest; a catalog still compresses about fourfold.
const ZSTD_LEVEL: i32 = 1;

#[derive(Serialize, Deserialize)]
struct Header {
    breakdex_catalog: u32,
    library: String,
    segment: i64,
    /// "delta": what changed since the last segment; "snapshot": all the
    /// library knew on the provider (a compaction, replacing older ones).
    kind: String,
    written_at: String,
    entries: usize,
}

#[derive(Serialize, Deserialize)]
struct End {
    end: usize,
    blake3: String,
}

/// One line of a segment about an asset (borrowing what it is written
/// from, or read from where it can).
#[derive(Serialize, Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    hash: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    size: Option<i64>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    media_type: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    added_at: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Vec::is_empty")]
    paths: Vec<LinePath<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    removed_at: Option<Cow<'a, str>>,
}

#[derive(Serialize, Deserialize)]
struct LinePath<'a> {
    #[serde(borrow)]
    path: Cow<'a, str>,
    #[serde(default, borrow)]
    added_at: Cow<'a, str>,
}

/// A segment read back.
#[derive(Debug)]
pub struct Segment {
    pub library: String,
    pub seq: i64,
    pub entries: Vec<CatalogAsset>,
    /// Lines that were not a usable entry, with why (the rest is kept).
    pub refused: Vec<String>,
}

/// The name of segment `seq` of `library` holding `bytes`: numbered, and
/// named by its content too, so a segment written again after a crash gets
/// a name of its own instead of replacing one a reader may be reading.
pub fn segment_name(library: &str, seq: i64, bytes: &[u8]) -> String {
    let digest = blake3::hash(bytes).to_hex();
    format!(
        "catalog/{library}/{seq:010}-{}{SEGMENT_SUFFIX}",
        &digest.as_str()[..16]
    )
}

/// The segment's number, from its name (`None` if it is not one).
pub fn segment_seq(file_name: &str) -> Option<i64> {
    let stem = file_name.strip_suffix(SEGMENT_SUFFIX)?;
    let (seq, digest) = stem.split_once('-')?;
    (seq.len() == 10
        && digest.len() == 16
        && seq.bytes().all(|b| b.is_ascii_digit())
        && digest.bytes().all(|b| b.is_ascii_hexdigit()))
    .then(|| seq.parse().ok())
    .flatten()
}

/// Encodes a segment: its lines, then zstd (with its own frame checksum).
pub fn encode(
    library: &str,
    seq: i64,
    snapshot: bool,
    written_at: &str,
    entries: &[CatalogAsset],
) -> Vec<u8> {
    let mut text = Vec::with_capacity(64 + entries.len() * 200);
    let header = Header {
        breakdex_catalog: FORMAT_VERSION,
        library: library.to_string(),
        segment: seq,
        kind: if snapshot { "snapshot" } else { "delta" }.to_string(),
        written_at: written_at.to_string(),
        entries: entries.len(),
    };
    push_line(&mut text, &header);
    for e in entries {
        let hash = Cow::Borrowed(e.content_hash.as_str());
        let line = match &e.described {
            Some(d) => Line {
                hash,
                size: Some(d.size_bytes),
                media_type: Some(Cow::Borrowed(&d.media_type)),
                added_at: Some(Cow::Borrowed(&d.added_at)),
                paths: (d.paths.iter())
                    .map(|(path, added_at)| LinePath {
                        path: Cow::Borrowed(path),
                        added_at: Cow::Borrowed(added_at),
                    })
                    .collect(),
                removed_at: None,
            },
            None => Line {
                hash,
                size: None,
                media_type: None,
                added_at: None,
                paths: Vec::new(),
                removed_at: Some(Cow::Borrowed(e.removed_at.as_deref().unwrap_or_default())),
            },
        };
        push_line(&mut text, &line);
    }
    let end = End {
        end: entries.len(),
        blake3: blake3::hash(&text).to_hex().to_string(),
    };
    push_line(&mut text, &end);
    let mut encoder =
        zstd::Encoder::new(Vec::with_capacity(text.len() / 3), ZSTD_LEVEL).expect("zstd encoder");
    // Writing into memory cannot fail.
    let _ = encoder.include_checksum(true);
    std::io::Write::write_all(&mut encoder, &text).expect("zstd into memory");
    encoder.finish().expect("zstd into memory")
}

fn push_line(out: &mut Vec<u8>, value: &impl Serialize) {
    // Serializing these plain structs into memory cannot fail.
    serde_json::to_writer(&mut *out, value).expect("JSON into memory");
    out.push(b'\n');
}

/// Decodes a segment, refusing (with the reason) anything that is not a
/// whole segment of a format this Breakdex reads.
pub fn decode(bytes: &[u8]) -> Result<Segment, String> {
    const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
    if !bytes.starts_with(&ZSTD_MAGIC) {
        return Err("not a Breakdex catalog segment (not zstd-compressed data)".into());
    }
    let mut text = Vec::new();
    let decoder = zstd::Decoder::new(bytes).map_err(|e| format!("cannot be decompressed: {e}"))?;
    let read = std::io::Read::read_to_end(
        &mut std::io::Read::take(decoder, MAX_DECOMPRESSED as u64 + 1),
        &mut text,
    );
    match read {
        Err(e) => {
            return Err(format!(
                "truncated or corrupt (cannot be decompressed: {e})"
            ));
        }
        Ok(n) if n > MAX_DECOMPRESSED => {
            return Err(format!(
                "too large (over {} MiB once decompressed)",
                MAX_DECOMPRESSED >> 20
            ));
        }
        Ok(_) => {}
    }
    let mut lines = text.split(|b| *b == b'\n');
    let first = lines.next().unwrap_or_default();
    let header: serde_json::Value = serde_json::from_slice(first)
        .map_err(|_| "not a Breakdex catalog segment (its first line is not JSON)".to_string())?;
    let version = header
        .get("breakdex_catalog")
        .and_then(|v| v.as_u64())
        .ok_or("not a Breakdex catalog segment (no breakdex_catalog version)")?;
    if version > u64::from(FORMAT_VERSION) {
        return Err(format!(
            "written in catalog format {version} by a newer Breakdex; this one reads format {FORMAT_VERSION}"
        ));
    }
    let header: Header = serde_json::from_value(header)
        .map_err(|e| format!("corrupt (its first line is not a whole header: {e})"))?;
    // The end line is the last one (the text ends with its newline).
    let body_end = text[..text.len().saturating_sub(1)]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let end: End = serde_json::from_slice(text[body_end..].trim_ascii_end())
        .map_err(|_| "truncated (it has no end line)".to_string())?;
    if blake3::hash(&text[..body_end]).to_hex().as_str() != end.blake3 {
        return Err("corrupt (its checksum does not match its content)".into());
    }
    let body = &text[first.len() + 1..body_end];
    let mut segment = Segment {
        library: header.library,
        seq: header.segment,
        entries: Vec::with_capacity(header.entries),
        refused: Vec::new(),
    };
    let mut count = 0;
    for (i, line) in body.split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        count += 1;
        match serde_json::from_slice::<Line>(line)
            .map_err(|e| e.to_string())
            .and_then(entry)
        {
            Ok(e) => segment.entries.push(e),
            Err(reason) => segment.refused.push(format!("line {}: {reason}", i + 2)),
        }
    }
    if count != end.end || count != header.entries {
        return Err(format!(
            "corrupt (it says {} entries and holds {count})",
            end.end
        ));
    }
    Ok(segment)
}

/// A line as an entry, if it is a sound one.
fn entry(line: Line) -> Result<CatalogAsset, String> {
    if line.hash.len() != 64
        || !line
            .hash
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err("not a content hash (64 lowercase hex digits)".into());
    }
    let content_hash = line.hash.into_owned();
    if let Some(removed_at) = line.removed_at {
        return Ok(CatalogAsset {
            content_hash,
            described: None,
            removed_at: Some(removed_at.into_owned()),
        });
    }
    let size = line
        .size
        .filter(|s| *s >= 0)
        .ok_or("no size, or a negative one")?;
    Ok(CatalogAsset {
        content_hash,
        described: Some(Described {
            size_bytes: size,
            media_type: line
                .media_type
                .map_or_else(|| "application/octet-stream".into(), Cow::into_owned),
            added_at: line.added_at.map(Cow::into_owned).unwrap_or_default(),
            paths: (line.paths.into_iter())
                .map(|p| (p.path.into_owned(), p.added_at.into_owned()))
                .collect(),
        }),
        removed_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset(n: u8, paths: &[&str]) -> CatalogAsset {
        CatalogAsset {
            content_hash: format!("{:02x}", n).repeat(32),
            described: Some(Described {
                size_bytes: n as i64 * 100,
                media_type: "image/jpeg".into(),
                added_at: "2026-12-01 10:00:00.000".into(),
                paths: paths
                    .iter()
                    .map(|p| (p.to_string(), "2026-12-01 10:00:00.000".to_string()))
                    .collect(),
            }),
            removed_at: None,
        }
    }

    fn removed(n: u8) -> CatalogAsset {
        CatalogAsset {
            content_hash: format!("{:02x}", n).repeat(32),
            described: None,
            removed_at: Some("2026-12-01 11:00:00.000".into()),
        }
    }

    fn sample() -> Vec<CatalogAsset> {
        vec![
            asset(1, &["2026/trip/a.jpg", "copy of a.jpg"]),
            asset(2, &["ünïcode name/日本.png"]),
            removed(3),
        ]
    }

    /// The decompressed text, as `zstd -dc` gives it.
    fn text_of(bytes: &[u8]) -> String {
        String::from_utf8(zstd::decode_all(bytes).unwrap()).unwrap()
    }

    fn recompress(text: &str) -> Vec<u8> {
        zstd::encode_all(text.as_bytes(), 3).unwrap()
    }

    #[test]
    fn a_segment_reads_back_as_written_and_is_plain_json_lines() {
        let bytes = encode("lib1", 7, false, "2026-12-01 12:00:00.000", &sample());
        let seg = decode(&bytes).unwrap();
        assert_eq!((seg.library.as_str(), seg.seq), ("lib1", 7));
        assert_eq!(seg.entries, sample());
        assert!(seg.refused.is_empty());
        let text = text_of(&bytes);
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0]["breakdex_catalog"], 1);
        assert_eq!(lines[1]["paths"][0]["path"], "2026/trip/a.jpg");
        assert_eq!(lines[3]["removed_at"], "2026-12-01 11:00:00.000");
        assert_eq!(lines[4]["end"], 3);
    }

    #[test]
    fn names_carry_the_number_and_differ_with_the_content() {
        let a = segment_name("lib1", 42, b"one");
        let b = segment_name("lib1", 42, b"two");
        assert!(a.starts_with("catalog/lib1/0000000042-") && a.ends_with(SEGMENT_SUFFIX));
        assert_ne!(a, b);
        assert_eq!(segment_seq(a.rsplit('/').next().unwrap()), Some(42));
        assert_eq!(segment_seq("0000000042-xyz.jsonl.zst"), None);
        assert_eq!(segment_seq("notes.txt"), None);
    }

    #[test]
    fn truncated_corrupt_foreign_and_future_segments_are_refused_with_the_reason() {
        let bytes = encode("lib1", 1, false, "t", &sample());
        let text = text_of(&bytes);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (bytes[..bytes.len() / 2].to_vec(), "truncated or corrupt"),
            (b"hello, not a catalog".to_vec(), "not zstd-compressed"),
            (
                recompress("{\"some\":\"json\"}\n"),
                "no breakdex_catalog version",
            ),
            (recompress("PK\x03\x04 zip\n"), "first line is not JSON"),
            (
                recompress(&text.replace("\"breakdex_catalog\":1", "\"breakdex_catalog\":2")),
                "catalog format 2 by a newer Breakdex",
            ),
            (
                // Cut after a whole line: the end line is gone.
                recompress(&text[..text.rfind("{\"end\"").unwrap()]),
                "no end line",
            ),
            (
                recompress(&text.replace("2026/trip/a.jpg", "2026/trip/b.jpg")),
                "checksum does not match",
            ),
        ];
        for (bytes, reason) in cases {
            let err = decode(&bytes).unwrap_err();
            assert!(err.contains(reason), "{err:?} should say {reason:?}");
        }
    }

    #[test]
    fn a_bad_line_is_refused_and_the_rest_kept() {
        // A well-formed segment (checksum and all) with one bad line, as a
        // hostile or buggy writer could make.
        let mut text = String::new();
        text += "{\"breakdex_catalog\":1,\"library\":\"x\",\"segment\":1,\"kind\":\"delta\",\"written_at\":\"t\",\"entries\":2}\n";
        text += &format!(
            "{{\"hash\":\"{}\",\"size\":5,\"paths\":[{{\"path\":\"a\"}}]}}\n",
            "ab".repeat(32)
        );
        text += "{\"hash\":\"../../etc\",\"size\":5}\n";
        let sum = blake3::hash(text.as_bytes()).to_hex();
        text += &format!("{{\"end\":2,\"blake3\":\"{sum}\"}}\n");
        let seg = decode(&recompress(&text)).unwrap();
        assert_eq!(seg.entries.len(), 1);
        assert_eq!(seg.refused.len(), 1);
        assert!(
            seg.refused[0].contains("not a content hash"),
            "{:?}",
            seg.refused
        );
    }
}
