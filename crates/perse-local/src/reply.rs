//! Responses: contract-shaped JSON successes and `{message, code, status: false}` errors.

use std::time::Instant;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A refusal with the contract's error body.
#[derive(Debug)]
pub struct Reject {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl Reject {
    pub fn new(status: u16, code: &str, message: &str) -> Self {
        Reject {
            status,
            code: code.into(),
            message: message.into(),
        }
    }
}

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        let body = perse_core::models::ErrorBody {
            message: self.message,
            code: self.code,
            status: false,
        };
        json(self.status, &body)
    }
}

/// A success body: the model's fields plus `status: true` and a message.
pub fn ok<T: Serialize>(model: &T, message: &str) -> Response {
    let mut v = serde_json::to_value(model).unwrap_or(serde_json::Value::Null);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("status".into(), true.into());
        obj.insert("message".into(), message.into());
    }
    json(200, &v)
}

pub fn json<T: Serialize>(status: u16, body: &T) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    raw(status, "application/json", bytes)
}

pub fn raw(status: u16, content_type: &str, body: Vec<u8>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, content_type.to_string())], body).into_response()
}

/// The contract's refusal of an unknown user token (compare, update, delete).
pub fn token_not_found() -> Reject {
    Reject::new(404, "user_token_not_found", "the user token does not exist")
}

/// `timeTaken`: seconds since `started`, to 4 decimals.
pub fn secs(started: Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 10_000.0).round() / 10_000.0
}
