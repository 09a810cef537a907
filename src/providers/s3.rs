//! S3-compatible storage (AWS S3, Backblaze B2, Cloudflare R2, MinIO,
//! Wasabi): endpoint, bucket, region, prefix, path-style or virtual-host
//! addressing. The access key id is a setting; the secret key lives in the
//! secret store. Built with `disable_config_load`, so nothing from the
//! environment (`AWS_*`, `~/.aws`) leaks into it.

use opendal::Operator;

use super::Failure;
use super::remote::{required, secret, setting};
use crate::store::ProviderRow;

/// Parts of a multipart upload: 8 MiB each, four in flight, so an upload
/// holds about 40 MiB whatever the file's size.
pub const PART: usize = 8 << 20;
pub const PARTS_IN_FLIGHT: usize = 4;

/// The S3 operator a provider row describes.
pub fn operator(row: &ProviderRow) -> Result<Operator, Failure> {
    super::remote::http_ready();
    let mut builder = opendal::services::S3::default()
        .endpoint(required(row, "endpoint")?)
        .bucket(required(row, "bucket")?)
        .region(setting(row, "region").unwrap_or("us-east-1"))
        .access_key_id(required(row, "access_key_id")?)
        .secret_access_key(secret(row)?.expose())
        .disable_config_load()
        .disable_ec2_metadata();
    if let Some(prefix) = setting(row, "prefix") {
        builder = builder.root(prefix);
    }
    if !row
        .settings
        .get("path_style")
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
    {
        builder = builder.enable_virtual_host_style();
    }
    Operator::new(builder)
        .map(super::remote::with_timeouts)
        .map_err(|e| Failure::permanent(format!("provider '{}': {}", row.name, e.kind())))
}
