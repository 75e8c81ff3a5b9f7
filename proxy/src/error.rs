//! The proxy's error type: each variant has a COS error code and an HTTP status, and is
//! rendered to COS/S3 error XML in exactly one place ([`ApiError::to_xml`]).

use picops_processor::ProcessError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    InvalidImageFormat(String),
    #[error("{0}")]
    ImageTooLarge(String),
    #[error("{0}")]
    EntityTooLarge(String),
    #[error("{0}")]
    NoSuchKey(String),
    #[error("{0}")]
    NoSuchBucket(String),
    #[error("{0}")]
    NoSuchStyle(String),
    #[error("{0}")]
    NotImplemented(String),
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    SignatureDoesNotMatch(String),
    #[error("{0}")]
    RequestTimeTooSkewed(String),
    #[error("{0}")]
    InvalidAccessKeyId(String),
    /// The client sent its header or body too slowly.
    #[error("{0}")]
    RequestTimeout(String),
    /// Over the memory budget (or, later, a rate limit): retry after a moment.
    #[error("{0}")]
    SlowDown(String),
    #[error("{0}")]
    Internal(String),
    /// An error the upstream answered; passed through with its own code and status.
    #[error("{message}")]
    Upstream {
        status: u16,
        code: String,
        message: String,
    },
}

impl ApiError {
    pub fn code(&self) -> &str {
        match self {
            ApiError::InvalidArgument(_) => "InvalidArgument",
            ApiError::InvalidImageFormat(_) => "InvalidImageFormat",
            ApiError::ImageTooLarge(_) => "ImageTooLarge",
            ApiError::EntityTooLarge(_) => "EntityTooLarge",
            ApiError::NoSuchKey(_) => "NoSuchKey",
            ApiError::NoSuchBucket(_) => "NoSuchBucket",
            ApiError::NoSuchStyle(_) => "NoSuchStyle",
            ApiError::NotImplemented(_) => "NotImplemented",
            ApiError::AccessDenied(_) => "AccessDenied",
            ApiError::SignatureDoesNotMatch(_) => "SignatureDoesNotMatch",
            ApiError::RequestTimeTooSkewed(_) => "RequestTimeTooSkewed",
            ApiError::InvalidAccessKeyId(_) => "InvalidAccessKeyId",
            ApiError::RequestTimeout(_) => "RequestTimeout",
            ApiError::SlowDown(_) => "SlowDown",
            ApiError::Internal(_) => "InternalError",
            ApiError::Upstream { code, .. } => code,
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::InvalidArgument(_)
            | ApiError::InvalidImageFormat(_)
            | ApiError::ImageTooLarge(_) => 400,
            ApiError::EntityTooLarge(_) => 413,
            ApiError::NoSuchKey(_) | ApiError::NoSuchBucket(_) | ApiError::NoSuchStyle(_) => 404,
            ApiError::NotImplemented(_) => 501,
            ApiError::AccessDenied(_)
            | ApiError::SignatureDoesNotMatch(_)
            | ApiError::RequestTimeTooSkewed(_)
            | ApiError::InvalidAccessKeyId(_) => 403,
            ApiError::RequestTimeout(_) => 408,
            ApiError::SlowDown(_) => 503,
            ApiError::Internal(_) => 500,
            ApiError::Upstream { status, .. } => *status,
        }
    }

    /// Seconds for the `Retry-After` header, for errors a client should retry.
    pub fn retry_after(&self) -> Option<u32> {
        matches!(self, ApiError::SlowDown(_)).then_some(1)
    }

    /// The error as COS XML (the one place errors become answers' bodies).
    pub fn to_xml(&self, resource: &str, request_id: &str) -> String {
        crate::xml::error(self.code(), &self.to_string(), resource, request_id)
    }

    /// Prefix the message (e.g. with the rule it concerns), keeping code and status.
    pub fn context(self, prefix: &str) -> ApiError {
        let wrap = |m: String| format!("{prefix}: {m}");
        match self {
            ApiError::InvalidArgument(m) => ApiError::InvalidArgument(wrap(m)),
            ApiError::InvalidImageFormat(m) => ApiError::InvalidImageFormat(wrap(m)),
            ApiError::ImageTooLarge(m) => ApiError::ImageTooLarge(wrap(m)),
            ApiError::Internal(m) => ApiError::Internal(wrap(m)),
            other => other,
        }
    }
}

impl From<ProcessError> for ApiError {
    fn from(e: ProcessError) -> Self {
        let message = e.to_string();
        match e {
            ProcessError::InvalidRule { .. } | ProcessError::InvalidArgument(_) => {
                ApiError::InvalidArgument(message)
            }
            ProcessError::Unsupported(_) => ApiError::InvalidArgument(message),
            ProcessError::InvalidImageFormat(_) => ApiError::InvalidImageFormat(message),
            ProcessError::ImageTooLarge(_) => ApiError::ImageTooLarge(message),
            ProcessError::Encode(_) | ProcessError::Deadline => ApiError::Internal(message),
        }
    }
}
