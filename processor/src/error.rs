//! The one error type of the processor. The proxy maps each variant to a COS error code.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ProcessError {
    /// The rule text is malformed: names the offending token and its byte offset.
    #[error("invalid rule: {message} at '{token}' (offset {offset})")]
    InvalidRule {
        token: String,
        offset: usize,
        message: String,
    },
    /// The rule is well formed but cannot be applied to this image (e.g. output too large).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Not an image, an unsupported format, or corrupt data.
    #[error("invalid image: {0}")]
    InvalidImageFormat(String),
    /// Refused from the header: the pixel, side or frame limits would be exceeded.
    #[error("image too large: {0}")]
    ImageTooLarge(String),
    /// The rule asks for something this build cannot do yet (e.g. watermark).
    #[error("not supported: {0}")]
    Unsupported(String),
    /// An encoder failed on valid pixels; a bug or resource problem on our side.
    #[error("encoding failed: {0}")]
    Encode(String),
    /// The caller's deadline passed between two steps.
    #[error("processing deadline exceeded")]
    Deadline,
}

impl ProcessError {
    pub(crate) fn rule(token: &str, offset: usize, message: impl Into<String>) -> Self {
        ProcessError::InvalidRule {
            token: token.to_string(),
            offset,
            message: message.into(),
        }
    }
}

pub type Result<T, E = ProcessError> = std::result::Result<T, E>;
