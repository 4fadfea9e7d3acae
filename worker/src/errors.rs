//! The one error type every route returns, and the one place that decides
//! which HTTP status each failure gets.

use densenet_edge::{ErrorAnswer, ErrorBody};
use worker::Response;

/// A client-visible error: the shared crate's `{"error": {"code", "message"}}`
/// with an HTTP status. Codes are stable strings that clients may match on.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub body: ErrorBody,
    /// `Allow` header for 405 answers.
    allow: Option<&'static str>,
    /// `Retry-After` (seconds) for 503 answers that will change by themselves.
    retry_after_s: Option<u32>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, body: ErrorBody::new(code, message), allow: None, retry_after_s: None }
    }

    pub fn method_not_allowed(allow: &'static str) -> Self {
        ApiError {
            allow: Some(allow),
            ..Self::new(405, "method_not_allowed", format!("method not allowed, use {allow}"))
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "not_found", message)
    }

    /// The model or its manifest cannot be read from R2.
    pub fn model_unavailable(message: impl Into<String>) -> Self {
        Self::new(503, "model_unavailable", message)
    }

    pub fn with_retry_after(mut self, seconds: u32) -> Self {
        self.retry_after_s = Some(seconds.max(1));
        self
    }

    /// The same error about one named upload.
    pub fn about_file(mut self, filename: &str) -> Self {
        self.body = about_file(self.body, filename);
        self
    }

    pub fn into_response(self) -> worker::Result<Response> {
        let mut r = Response::from_json(&ErrorAnswer { error: self.body })?.with_status(self.status);
        if let Some(allow) = self.allow {
            r.headers_mut().set("Allow", allow)?;
        }
        if let Some(s) = self.retry_after_s {
            r.headers_mut().set("Retry-After", &s.to_string())?;
        }
        Ok(r)
    }
}

/// An error's message naming the upload it is about (one item of several).
pub fn about_file(mut body: ErrorBody, filename: &str) -> ErrorBody {
    if !filename.is_empty() {
        body.message = format!("{filename:?}: {}", body.message);
    }
    body
}

/// Every error of the shared crate, with its status. No catch-all arm: a new
/// variant does not compile until someone decides its status here.
/// 400: the request is wrong. 415: the bytes are no image format we decode
/// (sniffed from content). 422: a supported format, but this image cannot be
/// used. 503: the model or the engine cannot serve (not the client's fault).
/// 500: the engine failed at run time (a bug).
impl From<densenet_edge::Error> for ApiError {
    fn from(e: densenet_edge::Error) -> Self {
        use densenet_edge::Error as E;
        let status = match &e {
            E::EmptyInput | E::InvalidArgument(_) => 400,
            E::NotAnImage | E::UnsupportedFormat(_) => 415,
            E::CorruptImage(_)
            | E::TooManyPixels { .. }
            | E::ImageTooLarge { .. }
            | E::TooManyBytes { .. }
            | E::TooMuchWork(_) => 422,
            E::ModelInvalid(_) | E::ModelChecksum { .. } | E::EngineUnavailable { .. } | E::EngineMismatch { .. } => {
                503
            }
            E::Inference(_) => 500,
        };
        ApiError { status, body: ErrorBody::from(&e), allow: None, retry_after_s: None }
    }
}

/// Failures of the runtime itself (a JS exception, a binding missing) are our
/// fault, not the client's: 500 with a code.
impl From<worker::Error> for ApiError {
    fn from(e: worker::Error) -> Self {
        ApiError::new(500, "internal", e.to_string())
    }
}
