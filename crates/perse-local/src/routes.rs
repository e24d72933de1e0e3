//! The contract's endpoints. One fallback handler routes by method and path, so every
//! request, known or not, goes through the same fault injection and request log.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State as AxState};
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use perse_core::models::*;

use crate::controls::{clip, take_fault, Fault, RecordedField, RecordedRequest};
use crate::form::Form;
use crate::handlers::{compare, detect, enroll, store_write};
use crate::reply::{self, secs, token_not_found, Reject};
use crate::state::{lock, State};

type Shared = Arc<State>;

/// A request body must arrive within this time (a client trickling its body would otherwise
/// hold a connection forever).
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

pub async fn handle(AxState(state): AxState<Shared>, req: Request) -> Response {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let has_authorization = req.headers().contains_key(header::AUTHORIZATION);
    if path.starts_with("/__perse/") {
        return crate::control_routes::serve(&state, req).await;
    }
    let mut fields = Vec::new();
    // The client's id for the request (the same on every attempt of one call): faults that
    // `reachCaller` follow it, the request log keeps it and the answer echoes it.
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 200 && v.bytes().all(|b| (0x21..0x7f).contains(&b)))
        .map(str::to_string);
    let fault = take_fault(&mut lock(&state.faults), &path, request_id.as_deref());
    let mut faulted = false;
    let response = match fault {
        Some(f) => {
            if !f.delay.is_zero() {
                tokio::time::sleep(f.delay).await;
            }
            match f.status {
                Some(status) => {
                    faulted = true;
                    // Read the request body first: answering with it unread makes hyper close
                    // the connection, which a client may already be reusing.
                    let _ = read_body(req.into_body()).await;
                    fault_response(&f, status)
                }
                None => route(&state, req, &mut fields).await,
            }
        }
        None => route(&state, req, &mut fields).await,
    };
    let status = response.status().as_u16();
    let mut response = response;
    if let Some(id) = request_id
        .as_deref()
        .and_then(|v| header::HeaderValue::from_str(v).ok())
    {
        response.headers_mut().insert("x-request-id", id);
    }
    if state.log_requests {
        // One line per request, as `serve --log` documents it; the path is the recorded one.
        eprintln!(
            "{method} {} {status} {} ms{}{}",
            clip(&path),
            started.elapsed().as_millis(),
            if faulted { " (injected fault)" } else { "" },
            request_id
                .as_deref()
                .map(|id| format!(" request-id={id}"))
                .unwrap_or_default(),
        );
    }
    lock(&state.log).push(RecordedRequest {
        method: method.to_string(),
        path: clip(&path),
        fields,
        has_authorization,
        status,
        faulted,
        request_id,
    });
    response
}

fn fault_response(f: &Fault, status: u16) -> Response {
    match &f.body {
        Some(body) => {
            let ct = if body.trim_start().starts_with('<') {
                "text/html"
            } else {
                "application/json"
            };
            reply::raw(status, ct, body.clone().into_bytes())
        }
        None => {
            let code = f.code.clone().unwrap_or_else(|| Fault::default_code(status).into());
            Reject::new(status, &code, &format!("injected fault: {code} (HTTP {status})")).into_response()
        }
    }
}

async fn route(state: &Shared, req: Request, fields: &mut Vec<RecordedField>) -> Response {
    match dispatch(state, req, fields).await {
        Ok(r) => r,
        Err(reject) => reject.into_response(),
    }
}

async fn dispatch(state: &Shared, req: Request, fields: &mut Vec<RecordedField>) -> Result<Response, Reject> {
    let (parts, body) = req.into_parts();
    let body = read_body(body).await?;
    let path = parts.uri.path();
    let route = path.strip_prefix("/v0").ok_or_else(|| not_found(path))?;
    if parts.method == Method::POST && route == "/login" {
        return login(state, &body);
    }
    authorize(state, &parts.headers)?;
    let form = || {
        Form::parse(
            parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
            body.clone(),
        )
    };
    let started = Instant::now();
    match (&parts.method, route) {
        (&Method::POST, "/face/detect") => {
            let f = form().await?;
            *fields = f.recorded();
            detect(state, &f, started).await
        }
        (&Method::POST, "/face/compare") => {
            let f = form().await?;
            *fields = f.recorded();
            compare(state, &f, started).await
        }
        (&Method::POST, "/face/enrollment") | (&Method::PUT, "/face/enrollment") => {
            let f = form().await?;
            *fields = f.recorded();
            enroll(state, &f, parts.method == Method::PUT, started).await
        }
        (&Method::GET, "/face/enrollment/list") => {
            let user_tokens = lock(&state.store).list();
            let total_users = user_tokens.len() as u32;
            let body = ListResponse {
                user_tokens,
                total_users,
                time_taken: secs(started),
                message: None,
            };
            Ok(reply::ok(&body, "Enrollment list retrieved"))
        }
        (&Method::DELETE, r) if r.starts_with("/face/enrollment/") => {
            let token = percent_decode(&r["/face/enrollment/".len()..]);
            match store_write(state, move |s| s.remove(&token)).await {
                Err(e) => Err(e),
                Ok(true) => Ok(reply::ok(
                    &DeleteResponse {
                        time_taken: secs(started),
                        message: None,
                    },
                    "Enrollment deleted",
                )),
                Ok(false) => Err(token_not_found()),
            }
        }
        _ => Err(not_found(path)),
    }
}

async fn read_body(body: Body) -> Result<Bytes, Reject> {
    match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, 16 * 1024 * 1024)).await {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(_)) => Err(Reject::new(413, "file_too_large", "the request body is too large")),
        Err(_) => Err(Reject::new(408, "timeout", "the request body did not arrive in time")),
    }
}

fn not_found(path: &str) -> Reject {
    Reject::new(404, "not_found", &format!("no such endpoint: {path}"))
}

fn login(state: &State, body: &[u8]) -> Result<Response, Reject> {
    let key = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("privateKey").and_then(|k| k.as_str()).map(str::to_string))
        .filter(|k| !k.is_empty())
        .ok_or_else(|| Reject::new(400, "form_key_missing", "privateKey is required"))?;
    if key != state.private_key {
        return Err(Reject::new(401, "unauthorized", "invalid private key"));
    }
    let token = state
        .issuer
        .issue(state.token_ttl.as_secs(), state.generation.load(Ordering::SeqCst));
    Ok(reply::json(200, &LoginResponse { token }))
}

fn authorize(state: &State, headers: &axum::http::HeaderMap) -> Result<(), Reject> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match token {
        Some(t) if state.issuer.verify(t, state.generation.load(Ordering::SeqCst)) => Ok(()),
        Some(_) => Err(Reject::new(
            401,
            "unauthorized",
            "the session token is invalid or expired",
        )),
        None => Err(Reject::new(
            401,
            "unauthorized",
            "the Authorization: Bearer header is missing",
        )),
    }
}

fn percent_decode(s: &str) -> String {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
