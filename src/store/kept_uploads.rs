//! S3 multipart uploads kept to resume (`kept_uploads`, `kept_upload_parts`,
//! migration 12; an encrypted one's age header, migration 13): the upload id an op's attempt began on the server and the
//! parts the server took, so that the op's next attempt (after a crash, a
//! kill, a pause or a lost connection) sends only the rest. An upload whose
//! op is no longer live is aborted on the server and forgotten
//! (`engine::space::sweep_temps`).

use rusqlite::{OptionalExtension, params};

use super::{Result, Store};

/// A multipart upload under way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptUpload {
    pub op_id: String,
    pub provider_id: String,
    /// The object's key, as the provider names it.
    pub remote_key: String,
    pub upload_id: String,
    /// The size of every part but the last.
    pub part_bytes: u64,
    /// The size of the whole source.
    pub source_bytes: u64,
    /// In part number order.
    pub parts: Vec<KeptPart>,
    /// For a provider that encrypts: the age header (and nonce) the
    /// object begins with (migration 13).
    pub sealed_header: Option<Vec<u8>>,
}

/// A part the server took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptPart {
    /// From 1.
    pub number: u32,
    pub size_bytes: u64,
    /// As the server answered it (quotes included).
    pub etag: String,
    /// The BLAKE3 of the source's bytes sent in it, in hex.
    pub blake3: String,
}

/// A change to what is kept, as an upload reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeptChange {
    /// An upload begun on the server (with no parts yet); replaces what the
    /// op had kept.
    Began(KeptUpload),
    /// A part the server took.
    Part { op_id: String, part: KeptPart },
    /// The upload completed or was aborted.
    Forget { op_id: String },
}

impl Store {
    /// Writes a change to the kept uploads.
    pub fn keep_upload(&mut self, change: &KeptChange) -> Result<()> {
        let tx = self.write_tx()?;
        match change {
            KeptChange::Began(up) => {
                tx.execute("DELETE FROM kept_uploads WHERE op_id = ?1", [&up.op_id])?;
                tx.execute(
                    "INSERT INTO kept_uploads
                     (op_id, provider_id, remote_key, upload_id, part_bytes, source_bytes,
                      sealed_header)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        up.op_id,
                        up.provider_id,
                        up.remote_key,
                        up.upload_id,
                        up.part_bytes as i64,
                        up.source_bytes as i64,
                        up.sealed_header
                    ],
                )?;
                for part in &up.parts {
                    insert_part(&tx, &up.op_id, part)?;
                }
            }
            KeptChange::Part { op_id, part } => {
                // Only for an upload still kept (a forget may have passed it).
                let kept: Option<i64> = tx
                    .query_row(
                        "SELECT 1 FROM kept_uploads WHERE op_id = ?1",
                        [op_id],
                        |r| r.get(0),
                    )
                    .optional()?;
                if kept.is_some() {
                    insert_part(&tx, op_id, part)?;
                }
            }
            KeptChange::Forget { op_id } => {
                tx.execute("DELETE FROM kept_uploads WHERE op_id = ?1", [op_id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The upload an op kept, with its parts.
    pub fn kept_upload(&self, op_id: &str) -> Result<Option<KeptUpload>> {
        let Some(mut up) = self
            .conn
            .prepare_cached(&format!("{SELECT_UPLOADS} WHERE op_id = ?1"))?
            .query_row([op_id], upload_row)
            .optional()?
        else {
            return Ok(None);
        };
        up.parts = self.kept_parts(op_id)?;
        Ok(Some(up))
    }

    /// The kept uploads whose op is no longer live (finished, or removed
    /// from the queue): to abort on the server. Without their parts.
    pub fn orphan_uploads(&self) -> Result<Vec<KeptUpload>> {
        let sql = format!(
            "{SELECT_UPLOADS} WHERE op_id NOT IN
             (SELECT id FROM sync_operations WHERE finished_at IS NULL)"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], upload_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn kept_parts(&self, op_id: &str) -> Result<Vec<KeptPart>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT part_number, size_bytes, etag, blake3 FROM kept_upload_parts
             WHERE op_id = ?1 ORDER BY part_number",
        )?;
        let rows = stmt.query_map([op_id], |r| {
            Ok(KeptPart {
                number: r.get(0)?,
                size_bytes: r.get::<_, i64>(1)? as u64,
                etag: r.get(2)?,
                blake3: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

const SELECT_UPLOADS: &str = "SELECT op_id, provider_id, remote_key, upload_id, part_bytes,
    source_bytes, sealed_header FROM kept_uploads";

fn upload_row(r: &rusqlite::Row) -> rusqlite::Result<KeptUpload> {
    Ok(KeptUpload {
        op_id: r.get(0)?,
        provider_id: r.get(1)?,
        remote_key: r.get(2)?,
        upload_id: r.get(3)?,
        part_bytes: r.get::<_, i64>(4)? as u64,
        source_bytes: r.get::<_, i64>(5)? as u64,
        parts: Vec::new(),
        sealed_header: r.get(6)?,
    })
}

fn insert_part(tx: &rusqlite::Transaction, op_id: &str, part: &KeptPart) -> Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO kept_upload_parts (op_id, part_number, size_bytes, etag, blake3)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            op_id,
            part.number,
            part.size_bytes as i64,
            part.etag,
            part.blake3
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewOp, OpType};

    fn part(number: u32) -> KeptPart {
        KeptPart {
            number,
            size_bytes: 8 << 20,
            etag: format!("\"etag-{number}\""),
            blake3: format!("b3-{number}"),
        }
    }

    /// An upload is kept with its parts as they are taken, replaced when
    /// the op begins another, forgotten with its parts; once its op is no
    /// longer live it is an orphan, to abort.
    #[test]
    fn kept_uploads_follow_their_op() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("library.db")).unwrap();
        let provider = store
            .add_provider(
                "s3",
                crate::store::ProviderKind::S3,
                &serde_json::json!({}),
                4,
            )
            .unwrap()
            .id;
        let new_op = NewOp {
            content_hash: "a".repeat(64),
            provider_id: provider.clone(),
            operation_type: OpType::Upload,
            priority: 0,
            total_bytes: 1 << 30,
        };
        let op = store.enqueue(&[new_op]).unwrap().remove(0);
        let began = KeptUpload {
            op_id: op.clone(),
            provider_id: provider.clone(),
            remote_key: "objects/aa/x".into(),
            upload_id: "up-1".into(),
            part_bytes: 8 << 20,
            source_bytes: 1 << 30,
            parts: Vec::new(),
            sealed_header: Some(b"age-encryption.org/v1\n".to_vec()),
        };
        store
            .keep_upload(&KeptChange::Began(began.clone()))
            .unwrap();
        for n in [2, 1] {
            let change = KeptChange::Part {
                op_id: op.clone(),
                part: part(n),
            };
            store.keep_upload(&change).unwrap();
        }
        let kept = store.kept_upload(&op).unwrap().unwrap();
        assert_eq!(kept.parts, [part(1), part(2)], "in part order");
        assert_eq!(kept.upload_id, "up-1");
        assert_eq!(
            kept.sealed_header, began.sealed_header,
            "the age header kept"
        );
        assert!(store.orphan_uploads().unwrap().is_empty(), "its op is live");

        // Another attempt's upload replaces it, parts and all.
        let again = KeptUpload {
            upload_id: "up-2".into(),
            ..began
        };
        store.keep_upload(&KeptChange::Began(again)).unwrap();
        let kept = store.kept_upload(&op).unwrap().unwrap();
        assert_eq!((kept.upload_id.as_str(), kept.parts.len()), ("up-2", 0));

        // Its op cancelled: an orphan, to abort; then forgotten, and a late
        // part report does not bring it back.
        store.cancel(std::slice::from_ref(&op)).unwrap();
        let orphans = store.orphan_uploads().unwrap();
        assert_eq!(orphans.len(), 1);
        assert_eq!(orphans[0].upload_id, "up-2");
        store
            .keep_upload(&KeptChange::Forget { op_id: op.clone() })
            .unwrap();
        let late = KeptChange::Part {
            op_id: op.clone(),
            part: part(3),
        };
        store.keep_upload(&late).unwrap();
        assert_eq!(store.kept_upload(&op).unwrap(), None);
        assert!(store.orphan_uploads().unwrap().is_empty());
    }
}
