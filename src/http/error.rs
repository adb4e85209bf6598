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
    #[error("{0}")]
    InvalidJson(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    Conflict(String),
    /// the report was erased: its id stays refused
    #[error("{0}")]
    Gone(String),
    #[error("{first}", first = first_error(.0))]
    InvalidReport(Vec<crate::journey::report::FieldError>),
    /// a corrected report (rectification, `PUT /api/journeys/{id}`) that does not validate: a
    /// bad request body, so 400 (a POSTed batch's invalid report is 422)
    #[error("{first}", first = first_error(.0))]
    InvalidCorrection(Vec<crate::journey::report::FieldError>),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    JustificationRequired(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("{0}")]
    UriTooLong(String),
    #[error("{0}")]
    HeadersTooLarge(String),
    #[error("{0}")]
    Busy(String),
    #[error("the store is unavailable; try again")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

fn first_error(errors: &[crate::journey::report::FieldError]) -> String {
    match errors {
        [] => "the report is invalid".into(),
        [one] => format!("invalid report: {one}"),
        [first, rest @ ..] => format!("invalid report: {first} (and {} more problems)", rest.len()),
    }
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
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [crate::journey::report::FieldError]>,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::UnknownParameter(..)
            | ApiError::DuplicateParameter(_)
            | ApiError::MissingParameter(_)
            | ApiError::InvalidParameter { .. }
            | ApiError::UnknownStation { .. }
            | ApiError::BadRequest(_)
            | ApiError::InvalidJson(_)
            | ApiError::InvalidCorrection(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::InvalidReport(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::JustificationRequired(_) => StatusCode::FORBIDDEN,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            ApiError::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::Unavailable(_) | ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
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
            ApiError::InvalidJson(_) => "invalid_json",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::Conflict(_) => "conflict",
            ApiError::Gone(_) => "erased",
            ApiError::InvalidReport(_) | ApiError::InvalidCorrection(_) => "invalid_report",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::JustificationRequired(_) => "justification_required",
            ApiError::TooManyRequests(_) => "too_many_requests",
            ApiError::UriTooLong(_) => "uri_too_long",
            ApiError::HeadersTooLarge(_) => "headers_too_large",
            ApiError::Busy(_) => "busy",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// The JSON error answer (status, body and the headers its status calls for).
    pub fn into_response(self) -> Response {
        self.response()
    }

    /// [`ApiError::into_response`] from a borrowed error (a rejection holds its error behind a
    /// reference).
    pub fn response(&self) -> Response {
        match self {
            ApiError::Internal(detail) => tracing::error!(%detail, "internal error"),
            ApiError::Unavailable(detail) => tracing::error!(%detail, "store unavailable"),
            ApiError::Busy(detail) => tracing::warn!(%detail, "busy"),
            _ => {}
        }
        let errors = match self {
            ApiError::InvalidReport(e) | ApiError::InvalidCorrection(e) => Some(e.as_slice()),
            _ => None,
        };
        let body = Body {
            code: self.code(),
            message: self.to_string(),
            errors,
        };
        let mut r = warp::reply::json(&body).into_response_compat();
        *r.status_mut() = self.status();
        match self {
            ApiError::Unavailable(_) | ApiError::TooManyRequests(_) | ApiError::Busy(_) => {
                r.headers_mut()
                    .insert("retry-after", warp::http::HeaderValue::from_static("5"));
            }
            ApiError::Unauthorized(_) => {
                r.headers_mut().insert(
                    "www-authenticate",
                    warp::http::HeaderValue::from_static("Bearer realm=\"linesmap\""),
                );
            }
            _ => {}
        }
        r
    }
}

impl warp::Reply for ApiError {
    fn into_response(self) -> Response {
        ApiError::into_response(self)
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
