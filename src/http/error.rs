//! The HTTP error type: every failure becomes `{"code": "...", "message": "..."}` with a 4xx
//! status naming the input problem, or a 500 that says nothing internal (and is logged).

use serde::Serialize;
use warp::http::StatusCode;
use warp::reply::Response;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("unknown query parameter \"{0}\"{hint}", hint = allowed_hint(.1))]
    UnknownParameter(String, &'static [&'static str]),
    #[error("query parameter \"{0}\" is given more than once")]
    DuplicateParameter(String),
    #[error("missing query parameter \"{0}\"")]
    MissingParameter(&'static str),
    #[error("query parameter \"{name}\": {message}")]
    InvalidParameter { name: &'static str, message: String },
    #[error("{what} \"{code}\" is not known")]
    UnknownStation { what: &'static str, code: String },
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    #[error("{0}")]
    NoRoute(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("internal error")]
    Internal(String),
}

fn allowed_hint(allowed: &[&str]) -> String {
    if allowed.is_empty() {
        ": this endpoint takes no query parameters".into()
    } else {
        format!(": expected one of {}", allowed.join(", "))
    }
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: String,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::UnknownParameter(..)
            | ApiError::DuplicateParameter(_)
            | ApiError::MissingParameter(_)
            | ApiError::InvalidParameter { .. }
            | ApiError::UnknownStation { .. }
            | ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::NoRoute(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::UnknownParameter(..) => "unknown_parameter",
            ApiError::DuplicateParameter(_) => "duplicate_parameter",
            ApiError::MissingParameter(_) => "missing_parameter",
            ApiError::InvalidParameter { .. } => "invalid_parameter",
            ApiError::UnknownStation { .. } => "unknown_station",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::NoRoute(_) => "no_route",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Internal(_) => "internal_error",
        }
    }

    pub fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
        let body = Body {
            code: self.code(),
            message: self.to_string(),
        };
        let mut r = warp::reply::json(&body).into_response_compat();
        *r.status_mut() = self.status();
        r
    }
}

/// `warp::Reply::into_response` under a name that does not clash with ours.
trait IntoResponseCompat {
    fn into_response_compat(self) -> Response;
}

impl<T: warp::Reply> IntoResponseCompat for T {
    fn into_response_compat(self) -> Response {
        warp::Reply::into_response(self)
    }
}
