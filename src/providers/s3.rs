//! S3-compatible storage (AWS S3, Backblaze B2, Cloudflare R2, MinIO,
//! Wasabi): endpoint, bucket, region, prefix, path-style or virtual-host
//! addressing. The access key id is a setting; the secret key lives in the
//! secret store. Built with `disable_config_load`, so nothing from the
//! environment (`AWS_*`, `~/.aws`) leaks into it.

use std::sync::Arc;
use std::time::Duration;

use opendal::Operator;

use super::Failure;
use super::remote::{request_failure, required, secret, setting, status_failure};
use super::stream::{Watch, with_checked_body};
use crate::store::{ProviderKind, ProviderRow};

/// Parts of a multipart upload: 8 MiB each, four in flight, so an upload
/// holds about 40 MiB whatever the file's size.
pub const PART: usize = 8 << 20;
pub const PARTS_IN_FLIGHT: usize = 4;
/// Files up to this size go up in one streamed PUT (AWS advises multipart
/// from about 100 MB on): one request instead of a multipart upload's
/// create, parts and complete, and nothing to clean up if it is cut short.
/// Bigger files go up in parts.
pub const SINGLE_PUT_MAX: u64 = 100 << 20;
/// How long the presigned URL OpenDAL builds (used only for its address)
/// is good for.
const PUT_SIGNED_FOR: Duration = Duration::from_secs(15 * 60);

/// Streams `file` to `key` in one PUT, signed with the provider's key,
/// counting the bytes as they go out; a file that is not `expected` bytes
/// of `content_hash` fails the request before it is complete, so no object
/// is stored (see [`stream`](super::stream)).
pub async fn put_file(
    provider: &super::Provider,
    signer: &Signer,
    key: &str,
    file: std::fs::File,
    expected: u64,
    content_hash: &str,
    watch: &Watch,
) -> Result<(), Failure> {
    let name = provider.name.as_str();
    let failed = |e: &dyn std::fmt::Display| {
        tracing::debug!("signing a PUT on provider '{name}': {e}");
        Failure::permanent(format!(
            "writing on provider '{name}' failed: the request could not be signed"
        ))
    };
    // The object's URL as OpenDAL builds it (endpoint, bucket, addressing
    // style, prefix), without the query-string signature: servers that do
    // not take presigned URLs take a signed header.
    let presigned = provider
        .operator()
        .presign_write(key, PUT_SIGNED_FOR)
        .await
        .map_err(|e| super::remote::explain(ProviderKind::S3, name, "writing", &e))?;
    let mut url = http::uri::Parts::from(presigned.uri().clone());
    url.path_and_query = url
        .path_and_query
        .map(|pq| pq.path().parse())
        .transpose()
        .map_err(|e| failed(&e))?;
    let uri = http::Uri::from_parts(url).map_err(|e| failed(&e))?;
    let (mut request, ()) = http::Request::put(uri)
        .body(())
        .map_err(|e| failed(&e))?
        .into_parts();
    signer
        .inner
        .sign(&mut request, None)
        .await
        .map_err(|e| failed(&e))?;
    let client = super::remote::http_client().ok_or_else(|| {
        Failure::permanent(format!("provider '{name}': cannot make an HTTP client"))
    })?;
    let put = client.put(request.uri.to_string()).headers(request.headers);
    let response = with_checked_body(put, file, expected, content_hash, watch)
        .send()
        .await
        .map_err(|e| request_failure(ProviderKind::S3, name, &e))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    Err(status_failure(
        ProviderKind::S3,
        name,
        "writing",
        status.as_u16(),
        &body,
    ))
}

/// Aborts the unfinished multipart uploads of `key`, the leftovers of an
/// earlier attempt cut off while the server could not be reached (its abort
/// could not reach it either): the bucket keeps, and bills, their parts.
/// Best effort: a server that cannot list them, or a key not allowed to,
/// leaves them as they are. Returns how many were aborted.
pub async fn abort_unfinished(provider: &super::Provider, signer: &Signer, key: &str) -> usize {
    match try_abort_unfinished(provider, signer, key).await {
        Ok(n) => n,
        Err(e) => {
            tracing::debug!(
                "provider '{}': unfinished uploads of {key} not cleaned up: {e}",
                provider.name
            );
            0
        }
    }
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

async fn try_abort_unfinished(
    provider: &super::Provider,
    signer: &Signer,
    key: &str,
) -> Result<usize, String> {
    // The object's URL as OpenDAL builds it; the bucket's is the same
    // address without the object's full key (prefix included), which ends
    // the path (after the bucket's name, in path-style addressing).
    let presigned = provider
        .operator()
        .presign_write(key, PUT_SIGNED_FOR)
        .await
        .map_err(|e| e.kind().to_string())?;
    let mut object =
        reqwest::Url::parse(&presigned.uri().to_string()).map_err(|e| e.to_string())?;
    object.set_query(None);
    let bucket_path = signer.bucket_path.as_str();
    let encoded_key = object
        .path()
        .strip_prefix(bucket_path)
        .and_then(|p| p.strip_prefix('/'))
        .ok_or("unexpected object URL")?;
    let full_key = percent_encoding::percent_decode_str(encoded_key)
        .decode_utf8()
        .map_err(|e| e.to_string())?
        .into_owned();
    let mut list = object.clone();
    list.set_path(&format!("{bucket_path}/"));
    list.query_pairs_mut()
        .append_key_only("uploads")
        .append_pair("prefix", &full_key);
    let listed = send(signer, http::Method::GET, &list).await?;
    let listed: ListMultipartUploadsResult =
        quick_xml::de::from_str(&listed).map_err(|e| e.to_string())?;
    let mut aborted = 0;
    for upload in listed.upload.iter().filter(|u| u.key == full_key) {
        let mut abort = object.clone();
        abort
            .query_pairs_mut()
            .append_pair("uploadId", &upload.upload_id);
        send(signer, http::Method::DELETE, &abort).await?;
        aborted += 1;
    }
    if aborted > 0 {
        tracing::info!(
            "provider '{}': aborted {aborted} unfinished upload(s) of {key} left by an earlier attempt",
            provider.name
        );
    }
    Ok(aborted)
}

/// Sends a bodiless request signed with the provider's key; its answer's
/// body, or what went wrong (without the URL, which may hold the prefix).
async fn send(signer: &Signer, method: http::Method, url: &reqwest::Url) -> Result<String, String> {
    let (mut request, ()) = http::Request::builder()
        .method(method.clone())
        .uri(url.as_str())
        .body(())
        .map_err(|e| e.to_string())?
        .into_parts();
    signer
        .inner
        .sign(&mut request, None)
        .await
        .map_err(|e| e.to_string())?;
    let client = super::remote::http_client().ok_or("no HTTP client")?;
    let response = client
        .request(method, url.as_str())
        .headers(request.headers)
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    let status = response.status();
    let body = response
        .text()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(format!("HTTP {status}"))
    }
}

/// Signs the requests Breakdex sends to S3 itself (the streamed PUT, the
/// clean-up of unfinished uploads) as OpenDAL signs its own: AWS Signature
/// V4 in the Authorization header, payload unsigned. Prints as `<redacted>`.
#[derive(Clone)]
pub struct Signer {
    inner: Arc<reqsign_core::Signer<reqsign_aws_v4::Credential>>,
    /// The bucket's part of an object URL's path: `/bucket` in path-style
    /// addressing, nothing in virtual-host style.
    bucket_path: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(<redacted>)")
    }
}

/// The S3 operator a provider row describes, and the signer of Breakdex's
/// own requests to it (the secret is read once for both).
pub fn open(row: &ProviderRow) -> Result<(Operator, Signer), Failure> {
    let secret = secret(row)?;
    let region = setting(row, "region").unwrap_or("us-east-1");
    let access_key_id = required(row, "access_key_id")?;
    let signer = Signer {
        inner: Arc::new(reqsign_core::Signer::new(
            reqsign_core::Context::new(),
            reqsign_aws_v4::StaticCredentialProvider::new(access_key_id, secret.expose()),
            reqsign_aws_v4::RequestSigner::new("s3", region),
        )),
        bucket_path: if path_style(row) {
            format!("/{}", required(row, "bucket")?)
        } else {
            String::new()
        },
    };
    Ok((operator(row, &secret)?, signer))
}

fn path_style(row: &ProviderRow) -> bool {
    (row.settings.get("path_style"))
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

fn operator(row: &ProviderRow, secret: &crate::secrets::Secret) -> Result<Operator, Failure> {
    super::remote::http_ready();
    let mut builder = opendal::services::S3::default()
        .endpoint(required(row, "endpoint")?)
        .bucket(required(row, "bucket")?)
        .region(setting(row, "region").unwrap_or("us-east-1"))
        .access_key_id(required(row, "access_key_id")?)
        .secret_access_key(secret.expose())
        .disable_config_load()
        .disable_ec2_metadata();
    if let Some(prefix) = setting(row, "prefix") {
        builder = builder.root(prefix);
    }
    if !path_style(row) {
        builder = builder.enable_virtual_host_style();
    }
    Operator::new(builder)
        .map(super::remote::with_timeouts)
        .map_err(|e| Failure::permanent(format!("provider '{}': {}", row.name, e.kind())))
}
