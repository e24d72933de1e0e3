//! The test controls over HTTP, for test runners whose workers cannot reach the
//! `LocalServer` object (jest's global setup starts the server in another process than the
//! tests). `lib/local-server.js` `controlLocalServer()` calls these. Every request needs
//! `Authorization: Bearer <the server's private key>`; none is recorded in the request log.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};

use crate::controls::{Fault, FaultSpec};
use crate::reply::{self, Reject};
use crate::state::{lock, reset, State};

pub async fn serve(state: &Arc<State>, req: Request) -> Response {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(state.private_key.as_str()) {
        return Reject::new(
            401,
            "unauthorized",
            "the controls need Authorization: Bearer <private key>",
        )
        .into_response();
    }
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    match (method, path.as_str()) {
        (Method::POST, "/__perse/faults") => {
            let body = match axum::body::to_bytes(req.into_body(), 1 << 20).await {
                Ok(b) => b,
                Err(_) => return Reject::new(413, "file_too_large", "the fault is too large").into_response(),
            };
            let fault = serde_json::from_slice::<FaultSpec>(&body)
                .map_err(|e| perse_core::Error::invalid(e.to_string()))
                .and_then(Fault::try_from);
            match fault {
                Ok(f) => {
                    lock(&state.faults).push(f);
                    reply::json(200, &serde_json::json!({ "status": true }))
                }
                Err(e) => Reject::new(400, "invalid_argument", &e.to_string()).into_response(),
            }
        }
        (Method::POST, "/__perse/expire-tokens") => {
            state.generation.fetch_add(1, Ordering::SeqCst);
            reply::json(200, &serde_json::json!({ "status": true }))
        }
        (Method::POST, "/__perse/reset") => {
            reset(state);
            reply::json(200, &serde_json::json!({ "status": true }))
        }
        (Method::GET, "/__perse/requests") => reply::json(200, &lock(&state.log).to_vec()),
        _ => Reject::new(404, "not_found", &format!("no such control: {path}")).into_response(),
    }
}
