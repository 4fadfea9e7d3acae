//! JSON answers and the error type every route returns.

use serde::Serialize;
use serde_json::json;
use worker::Response;

/// A client-visible error: `{"error": {"code": ..., "message": ...}}` with an
/// HTTP status. Codes are stable strings that clients may match on.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// `Allow` header for 405 answers.
    allow: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), allow: None }
    }

    pub fn method_not_allowed(allow: &'static str) -> Self {
        ApiError {
            allow: Some(allow),
            ..Self::new(405, "method_not_allowed", format!("method not allowed, use {allow}"))
        }
    }

    /// The JSON body, also used for one failed image inside a batch answer.
    pub fn body(&self) -> serde_json::Value {
        json!({ "error": { "code": self.code, "message": self.message } })
    }

    pub fn into_response(self) -> worker::Result<Response> {
        let mut r = Response::from_json(&self.body())?.with_status(self.status);
        if let Some(allow) = self.allow {
            r.headers_mut().set("Allow", allow)?;
        }
        Ok(r)
    }
}

/// Failures of the runtime itself (a JS exception, a binding missing) are our
/// fault, not the client's: 500 with a code.
impl From<worker::Error> for ApiError {
    fn from(e: worker::Error) -> Self {
        ApiError::new(500, "internal", e.to_string())
    }
}

pub fn json<T: Serialize>(status: u16, value: &T) -> Result<Response, ApiError> {
    Ok(Response::from_json(value)?.with_status(status))
}

pub fn cors(mut r: Response) -> worker::Result<Response> {
    let h = r.headers_mut();
    h.set("Access-Control-Allow-Origin", "*")?;
    // Lets a cross-origin page read the timing/size headers if we add any.
    h.set("Access-Control-Expose-Headers", "Content-Length")?;
    Ok(r)
}
