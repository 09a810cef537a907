//! S3 multipart uploads, driven by Breakdex's own requests (create, upload
//! a part, list the parts, complete, abort) and signed as OpenDAL signs its
//! own, so that an upload's id and parts can be kept in the library and the
//! next attempt can go on with them (`engine/multipart.rs` does that; the
//! library's side is `store/kept_uploads.rs`). Also the clean-up of the
//! unfinished uploads an earlier attempt could not abort.

use super::remote::{request_failure, status_failure};
use super::s3::Signer;
use super::{Failure, Provider};
use crate::store::ProviderKind;

/// One object's multipart uploads on one S3 provider (cheap to clone).
#[derive(Clone)]
pub struct Multipart {
    provider: Provider,
    signer: Signer,
    /// The object's URL, without a query.
    object: reqwest::Url,
}

/// A part as the server lists it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListedPart {
    pub part_number: u32,
    pub size: u64,
    #[serde(rename = "ETag")]
    pub etag: String,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListPartsResult {
    #[serde(default)]
    part: Vec<ListedPart>,
    #[serde(default)]
    is_truncated: bool,
    #[serde(default)]
    next_part_number_marker: Option<u32>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InitiateMultipartUploadResult {
    upload_id: String,
}

/// One entry of S3's ListMultipartUploads answer.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Upload {
    key: String,
    upload_id: String,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListMultipartUploadsResult {
    #[serde(default)]
    upload: Vec<Upload>,
}

/// A server's answer: its status and body.
struct Answer {
    status: u16,
    etag: Option<String>,
    body: String,
}

impl Multipart {
    /// The multipart uploads of `key` on `provider`.
    pub async fn of(provider: &Provider, signer: &Signer, key: &str) -> Result<Multipart, Failure> {
        let object = super::s3::object_url(provider, key).await?;
        Ok(Multipart {
            provider: provider.clone(),
            signer: signer.clone(),
            object,
        })
    }

    /// Begins an upload; its id.
    pub async fn create(&self) -> Result<String, Failure> {
        let mut url = self.object.clone();
        url.query_pairs_mut().append_key_only("uploads");
        let answer = self
            .send(http::Method::POST, &url, Some(Vec::new()))
            .await?;
        let result: InitiateMultipartUploadResult = self.parse(&answer.body)?;
        Ok(result.upload_id)
    }

    /// Sends part `number` (from 1); the ETag the server gives it.
    pub async fn upload_part(
        &self,
        upload_id: &str,
        number: u32,
        bytes: Vec<u8>,
    ) -> Result<String, Failure> {
        let mut url = self.object.clone();
        url.query_pairs_mut()
            .append_pair("partNumber", &number.to_string())
            .append_pair("uploadId", upload_id);
        let answer = self.send(http::Method::PUT, &url, Some(bytes)).await?;
        answer.etag.ok_or_else(|| {
            Failure::transient(format!(
                "writing on provider '{}' failed: S3 gave a part no ETag",
                self.provider.name
            ))
        })
    }

    /// The parts the server holds of an upload, in part order; `None` when
    /// it has no such upload (completed, aborted, or expired).
    pub async fn list_parts(&self, upload_id: &str) -> Result<Option<Vec<ListedPart>>, Failure> {
        let mut parts = Vec::new();
        let mut marker = None;
        loop {
            let mut url = self.object.clone();
            url.query_pairs_mut().append_pair("uploadId", upload_id);
            if let Some(m) = marker {
                url.query_pairs_mut()
                    .append_pair("part-number-marker", &format!("{m}"));
            }
            let answer = self.request(http::Method::GET, &url, None).await?;
            if answer.status == 404 {
                return Ok(None);
            }
            let answer = self.checked(answer)?;
            let page: ListPartsResult = self.parse(&answer.body)?;
            parts.extend(page.part);
            match page.next_part_number_marker {
                Some(next) if page.is_truncated && marker != Some(next) => marker = Some(next),
                _ => break,
            }
        }
        parts.sort_by_key(|p| p.part_number);
        Ok(Some(parts))
    }

    /// Makes the object of the upload's parts, `(number, ETag)` in order.
    pub async fn complete(&self, upload_id: &str, parts: &[(u32, String)]) -> Result<(), Failure> {
        let mut url = self.object.clone();
        url.query_pairs_mut().append_pair("uploadId", upload_id);
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (number, etag) in parts {
            let etag = quick_xml::escape::escape(etag.as_str());
            xml += &format!("<Part><PartNumber>{number}</PartNumber><ETag>{etag}</ETag></Part>");
        }
        xml += "</CompleteMultipartUpload>";
        let answer = (self.send(http::Method::POST, &url, Some(xml.into_bytes()))).await?;
        // S3 may answer 200 and say in the body that it failed after all.
        if answer.body.contains("<Error>") {
            return Err(status_failure(
                ProviderKind::S3,
                &self.provider.name,
                "completing an upload",
                500,
                &answer.body,
            ));
        }
        Ok(())
    }

    /// Aborts an upload: the server drops its parts. One it no longer has
    /// is aborted already.
    pub async fn abort(&self, upload_id: &str) -> Result<(), Failure> {
        let mut url = self.object.clone();
        url.query_pairs_mut().append_pair("uploadId", upload_id);
        let answer = self.request(http::Method::DELETE, &url, None).await?;
        if answer.status == 404 {
            return Ok(());
        }
        self.checked(answer).map(drop)
    }

    /// Aborts the unfinished uploads of the object but `spare` (the one
    /// being resumed): the leftovers of an earlier attempt cut off while
    /// the server could not be reached (its abort could not reach it
    /// either), which the bucket keeps, and bills. Best effort: a server
    /// that cannot list them, or a key not allowed to, leaves them as they
    /// are. Returns how many were aborted.
    pub async fn abort_unfinished(&self, spare: Option<&str>) -> usize {
        match self.try_abort_unfinished(spare).await {
            Ok(n) => n,
            Err(e) => {
                tracing::debug!(
                    "provider '{}': unfinished uploads not cleaned up: {}",
                    self.provider.name,
                    e.message
                );
                0
            }
        }
    }

    async fn try_abort_unfinished(&self, spare: Option<&str>) -> Result<usize, Failure> {
        // The bucket's URL is the object's without the object's full key
        // (prefix included), which ends the path (after the bucket's name,
        // in path-style addressing).
        let bucket_path = self.signer.bucket_path();
        let full_key = (self.object.path().strip_prefix(bucket_path))
            .and_then(|p| p.strip_prefix('/'))
            .and_then(|k| percent_encoding::percent_decode_str(k).decode_utf8().ok())
            .ok_or_else(|| Failure::permanent("unexpected object URL"))?
            .into_owned();
        let mut list = self.object.clone();
        list.set_path(&format!("{bucket_path}/"));
        list.query_pairs_mut()
            .append_key_only("uploads")
            .append_pair("prefix", &full_key);
        let listed = self.send(http::Method::GET, &list, None).await?;
        let listed: ListMultipartUploadsResult = self.parse(&listed.body)?;
        let mut aborted = 0;
        let leftovers = (listed.upload.iter())
            .filter(|u| u.key == full_key && Some(u.upload_id.as_str()) != spare);
        for upload in leftovers {
            self.abort(&upload.upload_id).await?;
            aborted += 1;
        }
        if aborted > 0 {
            tracing::info!(
                "provider '{}': aborted {aborted} unfinished upload(s) of {full_key} left by an earlier attempt",
                self.provider.name
            );
        }
        Ok(aborted)
    }

    /// [`Multipart::request`], failing on an answer that is not a success.
    async fn send(
        &self,
        method: http::Method,
        url: &reqwest::Url,
        body: Option<Vec<u8>>,
    ) -> Result<Answer, Failure> {
        let answer = self.request(method, url, body).await?;
        self.checked(answer)
    }

    fn checked(&self, answer: Answer) -> Result<Answer, Failure> {
        if (200..300).contains(&answer.status) {
            return Ok(answer);
        }
        Err(status_failure(
            ProviderKind::S3,
            &self.provider.name,
            "writing",
            answer.status,
            &answer.body,
        ))
    }

    /// Sends a request signed with the provider's key (payload unsigned);
    /// its answer, or what went wrong (never the URL, which may hold the
    /// prefix).
    async fn request(
        &self,
        method: http::Method,
        url: &reqwest::Url,
        body: Option<Vec<u8>>,
    ) -> Result<Answer, Failure> {
        let name = self.provider.name.as_str();
        let headers = self.signer.headers(method.clone(), url, name).await?;
        let client = super::remote::http_client().ok_or_else(|| {
            Failure::permanent(format!("provider '{name}': cannot make an HTTP client"))
        })?;
        let mut request = client.request(method, url.as_str()).headers(headers);
        if let Some(bytes) = body {
            request = request.body(bytes);
        }
        let response =
            (request.send().await).map_err(|e| request_failure(ProviderKind::S3, name, &e))?;
        let status = response.status().as_u16();
        let etag = (response.headers().get(http::header::ETAG))
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body =
            (response.text().await).map_err(|e| request_failure(ProviderKind::S3, name, &e))?;
        Ok(Answer { status, etag, body })
    }

    fn parse<T: serde::de::DeserializeOwned>(&self, xml: &str) -> Result<T, Failure> {
        quick_xml::de::from_str(xml).map_err(|e| {
            tracing::debug!(
                "provider '{}': S3 answer not understood: {e}",
                self.provider.name
            );
            Failure::transient(format!(
                "writing on provider '{}' failed: S3's answer was not understood",
                self.provider.name
            ))
        })
    }
}
