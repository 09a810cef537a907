//! Writes a provider's folder holding a catalog of N assets in S segments,
//! and their objects (small, distinct), for the scan benchmark
//! (`scripts/bench-catalog.sh`).
//!
//! `cargo run --release --example catalog_fixture -- DIR N S`

use std::path::{Path, PathBuf};
use std::time::Instant;

use breakdex::catalog::format;
use breakdex::providers::object_key;
use breakdex::store::{CatalogAsset, Described};

fn main() -> anyhow::Result<()> {
    let usage = "usage: catalog_fixture DIR N S";
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or(anyhow::anyhow!(usage))?);
    let n: usize = args.next().ok_or(anyhow::anyhow!(usage))?.parse()?;
    let segments: usize = args.next().ok_or(anyhow::anyhow!(usage))?.parse()?;
    let started = Instant::now();
    let library = "0123456789abcdef0123456789abcdef";
    let per = n.div_ceil(segments.max(1));
    let mut seq = 0;
    for chunk in (0..n).collect::<Vec<_>>().chunks(per) {
        seq += 1;
        let entries: Vec<CatalogAsset> = chunk
            .iter()
            .map(|&i| {
                let body = format!("asset {i}\n");
                let hash = blake3::hash(body.as_bytes()).to_hex().to_string();
                write(&dir.join(object_key(&hash)), body.as_bytes())?;
                let at = "2026-11-01 10:00:00.000".to_string();
                Ok(CatalogAsset {
                    content_hash: hash,
                    described: Some(Described {
                        size_bytes: body.len() as i64,
                        media_type: "image/jpeg".into(),
                        added_at: at.clone(),
                        paths: vec![(
                            format!("photos/{}/{:03}/IMG_{i:06}.jpg", 2000 + i % 27, i % 365),
                            at,
                        )],
                    }),
                    removed_at: None,
                })
            })
            .collect::<std::io::Result<_>>()?;
        let bytes = format::encode(library, seq, false, "2026-11-01 10:00:00.000", &entries);
        write(
            &dir.join(format::segment_name(library, seq, &bytes)),
            &bytes,
        )?;
    }
    println!(
        "{n} assets in {seq} segments in {} in {:.2} s",
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, bytes)
}
