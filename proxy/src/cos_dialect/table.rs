//! The dialect table: every COS header, its S3 twin, and what each direction does with it.

use super::values::*;
use crate::error::ApiError;

/// A value translation towards S3. `Ok(None)`: S3 says the same thing by sending no header.
pub(super) type ToS3Fn = fn(&str) -> Result<Option<String>, ApiError>;

/// What a COS client's request header becomes.
#[derive(Clone, Copy)]
pub(super) enum ToS3 {
    /// Sent under the S3 name with the value's bytes unchanged.
    Rename,
    /// Sent under the S3 name with the value translated (and checked as COS checks it).
    Map(ToS3Fn),
    /// Left as it is, under its COS name: picops itself reads it (authentication).
    Keep,
    /// Removed. COS gives it no effect on a request (a response header sent back, an SDK's
    /// retry or debug marker), so nothing is lost and the store is not handed a name it
    /// cannot know.
    Remove,
    /// Refused with 501 NotImplemented: a COS feature S3 stores do not have.
    Refuse(&'static str),
    /// Refused as well, but with the error the function gives, so that a value COS itself
    /// would refuse gets COS's answer rather than the 501.
    Check(fn(&str) -> ApiError),
}

/// What a store's response header becomes for a COS client.
#[derive(Clone, Copy)]
pub(super) enum ToCos {
    /// Sent under the COS name with the value unchanged.
    Rename,
    /// Sent under the COS name with the value translated.
    Map(fn(&str) -> String),
    /// Not sent: COS clients would read it as something it is not.
    Drop,
    /// Not sent to COS clients either: S3 does not send it in responses, or COS has no name
    /// for it.
    Keep,
}

/// One header in both dialects. `cos` or `s3` is empty where that dialect has no such header;
/// with `prefix`, both names are prefixes and the rest of the name carries over.
pub(super) struct Row {
    pub(super) cos: &'static str,
    pub(super) s3: &'static str,
    pub(super) prefix: bool,
    pub(super) to_s3: ToS3,
    pub(super) to_cos: ToCos,
}

pub(super) const fn row(cos: &'static str, s3: &'static str, to_s3: ToS3, to_cos: ToCos) -> Row {
    Row {
        cos,
        s3,
        prefix: false,
        to_s3,
        to_cos,
    }
}

/// A COS request header that picops refuses, with the reason the error gives.
pub(super) const fn refused(cos: &'static str, why: &'static str) -> Row {
    row(cos, "", ToS3::Refuse(why), ToCos::Keep)
}

/// A COS header that has no effect on a request.
pub(super) const fn removed(cos: &'static str) -> Row {
    row(cos, "", ToS3::Remove, ToCos::Keep)
}

// Short names for the table's last two columns. Towards S3: Rename, Map, Keep, Remove,
// Refuse. Towards COS: Show (renamed), Same (left as sent), Hide (removed), ToCos::Map.
use ToCos::{Drop as Hide, Keep as Same, Rename as Show};
use ToS3::{Keep, Map, Remove, Rename};

/// The dialect, in one place: COS name, S3 name, request direction, response direction.
/// Names are lower case (as `http` stores them). The x-cos request headers are those COS
/// documents for PUT/POST/GET/HEAD/DELETE Object, Copy, the multipart calls and PUT Bucket,
/// plus what the official SDKs (Python, Go, Node, Java) send on their own.
pub(super) const TABLE: &[Row] = &[
    // User metadata.
    Row {
        cos: "x-cos-meta-",
        s3: "x-amz-meta-",
        prefix: true,
        to_s3: Rename,
        to_cos: Show,
    },
    // Access control. S3 stores that keep no ACLs ignore these; picops's own anonymous access
    // is configured per bucket, not read from them.
    row("x-cos-acl", "x-amz-acl", Map(acl), Same),
    row("x-cos-grant-read", "x-amz-grant-read", Map(grants), Same),
    row("x-cos-grant-write", "x-amz-grant-write", Map(grants), Same),
    row(
        "x-cos-grant-read-acp",
        "x-amz-grant-read-acp",
        Map(grants),
        Same,
    ),
    row(
        "x-cos-grant-write-acp",
        "x-amz-grant-write-acp",
        Map(grants),
        Same,
    ),
    row(
        "x-cos-grant-full-control",
        "x-amz-grant-full-control",
        Map(grants),
        Same,
    ),
    // Storage class, both ways (GLACIER is COS's ARCHIVE).
    row(
        "x-cos-storage-class",
        "x-amz-storage-class",
        Map(storage_class_header),
        ToCos::Map(storage_class_value_to_cos),
    ),
    // Tagging.
    row("x-cos-tagging", "x-amz-tagging", Rename, Same),
    row(
        "x-cos-tagging-directive",
        "x-amz-tagging-directive",
        Map(directive),
        Same,
    ),
    row("x-cos-tagging-count", "x-amz-tagging-count", Remove, Show),
    // Copy: source, range, conditions, metadata. The source's value is left as the client
    // wrote it: `route::copy_source` reads both the COS host form and the S3 path form, and
    // the passthrough sends the store the canonical path of the source it authorised.
    row("x-cos-copy-source", "x-amz-copy-source", Rename, Same),
    // COS SDKs send an empty range for a whole-object part copy; S3 stores refuse an empty one.
    row(
        "x-cos-copy-source-range",
        "x-amz-copy-source-range",
        Map(range),
        Same,
    ),
    row(
        "x-cos-copy-source-if-match",
        "x-amz-copy-source-if-match",
        Rename,
        Same,
    ),
    row(
        "x-cos-copy-source-if-none-match",
        "x-amz-copy-source-if-none-match",
        Rename,
        Same,
    ),
    row(
        "x-cos-copy-source-if-modified-since",
        "x-amz-copy-source-if-modified-since",
        Rename,
        Same,
    ),
    row(
        "x-cos-copy-source-if-unmodified-since",
        "x-amz-copy-source-if-unmodified-since",
        Rename,
        Same,
    ),
    row(
        "x-cos-metadata-directive",
        "x-amz-metadata-directive",
        Map(directive),
        Same,
    ),
    row(
        "x-cos-copy-source-version-id",
        "x-amz-copy-source-version-id",
        Remove,
        Show,
    ),
    // Server-side encryption: SSE-COS, SSE-KMS, SSE-C, and SSE-C of a copy's source.
    row(
        "x-cos-server-side-encryption",
        "x-amz-server-side-encryption",
        Map(sse),
        ToCos::Map(sse_to_cos),
    ),
    row(
        "x-cos-server-side-encryption-cos-kms-key-id",
        "x-amz-server-side-encryption-aws-kms-key-id",
        Rename,
        Show,
    ),
    row(
        "x-cos-server-side-encryption-context",
        "x-amz-server-side-encryption-context",
        Rename,
        Show,
    ),
    row(
        "x-cos-server-side-encryption-customer-algorithm",
        "x-amz-server-side-encryption-customer-algorithm",
        Rename,
        Show,
    ),
    row(
        "x-cos-server-side-encryption-customer-key",
        "x-amz-server-side-encryption-customer-key",
        Rename,
        Same,
    ),
    row(
        "x-cos-server-side-encryption-customer-key-md5",
        "x-amz-server-side-encryption-customer-key-md5",
        Rename,
        Show,
    ),
    row(
        "x-cos-copy-source-server-side-encryption-customer-algorithm",
        "x-amz-copy-source-server-side-encryption-customer-algorithm",
        Rename,
        Same,
    ),
    row(
        "x-cos-copy-source-server-side-encryption-customer-key",
        "x-amz-copy-source-server-side-encryption-customer-key",
        Rename,
        Same,
    ),
    row(
        "x-cos-copy-source-server-side-encryption-customer-key-md5",
        "x-amz-copy-source-server-side-encryption-customer-key-md5",
        Rename,
        Same,
    ),
    // Conditional write: S3's form of "do not overwrite" is `If-None-Match: *`.
    row(
        "x-cos-forbid-overwrite",
        "if-none-match",
        Map(forbid_overwrite),
        Same,
    ),
    // Body integrity: COS takes SHA-1 in hex, S3 in base64.
    row(
        "x-cos-content-sha1",
        "x-amz-checksum-sha1",
        Map(content_sha1),
        Same,
    ),
    row(
        "x-cos-website-redirect-location",
        "x-amz-website-redirect-location",
        Rename,
        Show,
    ),
    // Object lock, version and lifecycle state: response headers on both sides. COS documents
    // no per-object lock headers on requests; a client that sends them means the S3 ones.
    row(
        "x-cos-object-lock-mode",
        "x-amz-object-lock-mode",
        Rename,
        Show,
    ),
    row(
        "x-cos-object-lock-retain-until-date",
        "x-amz-object-lock-retain-until-date",
        Rename,
        Show,
    ),
    row(
        "x-cos-object-lock-legal-hold",
        "x-amz-object-lock-legal-hold",
        Rename,
        Show,
    ),
    row("x-cos-version-id", "x-amz-version-id", Remove, Show),
    row("x-cos-delete-marker", "x-amz-delete-marker", Remove, Show),
    row("x-cos-expiration", "x-amz-expiration", Remove, Show),
    row("x-cos-restore", "x-amz-restore", Remove, Show),
    row("x-cos-mp-parts-count", "x-amz-mp-parts-count", Remove, Show),
    row("x-cos-bucket-region", "x-amz-bucket-region", Remove, Show),
    // Request ids: picops answers its own `x-cos-request-id` (one id in the client's and in
    // picops's logs); the store's ids would read as COS's and are not shown.
    row("x-cos-request-id", "x-amz-request-id", Remove, Hide),
    row("", "x-amz-id-2", Remove, Hide),
    // Authentication: read by picops's auth, and never forwarded (the passthrough drops it).
    row("x-cos-security-token", "", Keep, Same),
    // Headers with no effect on a request.
    removed("x-cos-sdk-retry"),
    removed("x-cos-sdk-log-debug"),
    removed("x-cos-trace-id"),
    removed("x-cos-hash-crc64ecma"),
    removed("x-cos-object-type"),
    removed("x-cos-next-append-position"),
    removed("x-cos-bucket-az-type"),
    removed("x-cos-bucket-arch"),
    removed("x-cos-error-code"),
    // COS features S3 has no form for.
    row("x-cos-traffic-limit", "", ToS3::Check(traffic_limit), Same),
    refused(
        "x-cos-callback",
        "upload callbacks are a COS service; picops does not call back",
    ),
    refused(
        "x-cos-callback-var",
        "upload callbacks are a COS service; picops does not call back",
    ),
    refused(
        "x-cos-symlink-target",
        "symbolic links (PUT Object ?symlink) have no S3 equivalent",
    ),
    refused(
        "x-cos-mime-limit",
        "upload MIME-type limits are a COS service with no S3 equivalent",
    ),
    refused(
        "x-cos-mfa",
        "an MFA code from a Tencent Cloud device means nothing to the store",
    ),
    refused(
        "x-cos-appid",
        "COS batch operations are not supported by picops",
    ),
];
