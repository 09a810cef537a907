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
    let url = object_url(provider, key).await?;
    let headers = signer.headers(http::Method::PUT, &url, name).await?;
    let client = super::remote::http_client().ok_or_else(|| {
        Failure::permanent(format!("provider '{name}': cannot make an HTTP client"))
    })?;
    let put = client.put(url.as_str()).headers(headers);
    let response = with_checked_body(put, file, expected, content_hash, watch, provider.keys())?
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

/// The URL of the object at `key` as OpenDAL builds it (endpoint, bucket,
/// addressing style, prefix), without the query-string signature of the
/// presigned URL it comes from: servers that do not take presigned URLs
/// take a signed header.
pub(super) async fn object_url(
    provider: &super::Provider,
    key: &str,
) -> Result<reqwest::Url, Failure> {
    let name = provider.name.as_str();
    let presigned = provider
        .operator()
        .presign_write(key, PUT_SIGNED_FOR)
        .await
        .map_err(|e| super::remote::explain(ProviderKind::S3, name, "writing", &e))?;
    let mut url = reqwest::Url::parse(&presigned.uri().to_string()).map_err(|e| {
        tracing::debug!("provider '{name}': object URL not understood: {e}");
        Failure::permanent(format!(
            "provider '{name}': its object URLs are not understood"
        ))
    })?;
    url.set_query(None);
    Ok(url)
}

/// Signs the requests Breakdex sends to S3 itself (the streamed PUT, the
/// multipart uploads) as OpenDAL signs its own: AWS Signature
/// V4 in the Authorization header, payload unsigned. Prints as `<redacted>`.
#[derive(Clone)]
pub struct Signer {
    inner: Arc<reqsign_core::Signer<reqsign_aws_v4::Credential>>,
    /// The bucket's part of an object URL's path: `/bucket` in path-style
    /// addressing, nothing in virtual-host style.
    bucket_path: String,
}

impl Signer {
    /// The headers that sign a request (payload unsigned) of `method` to `url`.
    pub(super) async fn headers(
        &self,
        method: http::Method,
        url: &reqwest::Url,
        provider: &str,
    ) -> Result<http::HeaderMap, Failure> {
        let failed = |e: &dyn std::fmt::Display| {
            tracing::debug!("signing a request to provider '{provider}': {e}");
            Failure::permanent(format!(
                "writing on provider '{provider}' failed: the request could not be signed"
            ))
        };
        let (mut request, ()) = http::Request::builder()
            .method(method)
            .uri(url.as_str())
            .body(())
            .map_err(|e| failed(&e))?
            .into_parts();
        self.inner
            .sign(&mut request, None)
            .await
            .map_err(|e| failed(&e))?;
        Ok(request.headers)
    }

    /// The bucket's part of an object URL's path.
    pub(super) fn bucket_path(&self) -> &str {
        &self.bucket_path
    }
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
