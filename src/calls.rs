//! The API calls, by the `Call` code `lib/transport.js` passes to `NativeClient::start`: for
//! each, how its arguments are read (on the JS thread) and which core call it launches.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use napi::bindgen_prelude::Unknown;
use napi::ValueType;
use napi_derive::napi;
use perse_core::models::LoginResponse;
use perse_core::{CallOptions, CallResult, Client, CompareInput, Error, ImageSource, PrepareOptions, Uploaded};

use crate::byte_pool::BytePool;
use crate::image_arg::image_source;
use crate::queue::Done;

/// What every call start needs (`NativeClient::start` makes it): the client, the core call
/// options, the image budget and the buffers image bytes are copied into.
pub struct Started {
    pub client: Arc<Client>,
    pub opts: CallOptions,
    pub prep: PrepareOptions,
    pub pool: Arc<BytePool>,
}

/// A call `NativeClient::start` can launch (JS: `Call.Detect`, ...).
#[napi]
pub enum Call {
    Login,
    Detect,
    Compare,
    Enroll,
    List,
    Update,
    Delete,
}

type Launched = Pin<Box<dyn Future<Output = perse_core::Result<Done>> + Send>>;

/// The future of `call` with the positional arguments `a`..`d` (see each arm).
pub fn make(call: Call, s: Started, [a, b, c, d]: [Option<Unknown<'_>>; 4]) -> perse_core::Result<Launched> {
    Ok(match call {
        // (privateKey)
        Call::Login => {
            let key = text(a, "privateKey")?;
            Box::pin(async move {
                s.client
                    .login(&key, &s.opts)
                    .await
                    .map(|token| CallResult::Login(Uploaded::bare(LoginResponse { token })).into())
            })
        }
        // (image)
        Call::Detect => {
            let i = image(a, &s)?;
            Box::pin(async move { s.client.detect(i, &s.opts).await.map(|r| CallResult::Detect(r).into()) })
        }
        // (imageA, userTokenA, imageB, userTokenB): one of each pair is null
        Call::Compare => {
            let (x, y) = (side(a, b, &s)?, side(c, d, &s)?);
            Box::pin(async move {
                s.client
                    .compare(x, y, &s.opts)
                    .await
                    .map(|r| CallResult::Compare(r).into())
            })
        }
        // (image)
        Call::Enroll => {
            let i = image(a, &s)?;
            Box::pin(async move { s.client.enroll(i, &s.opts).await.map(|r| CallResult::Enroll(r).into()) })
        }
        // ()
        Call::List => Box::pin(async move {
            s.client
                .list(&s.opts)
                .await
                .map(|r| CallResult::List(Uploaded::bare(r)).into())
        }),
        // (userToken, image)
        Call::Update => {
            let (t, i) = (text(a, "userToken")?, image(b, &s)?);
            Box::pin(async move {
                s.client
                    .update(&t, i, &s.opts)
                    .await
                    .map(|r| CallResult::Enroll(r).into())
            })
        }
        // (userToken)
        Call::Delete => {
            let t = text(a, "userToken")?;
            Box::pin(async move {
                s.client
                    .delete(&t, &s.opts)
                    .await
                    .map(|r| CallResult::Delete(Uploaded::bare(r)).into())
            })
        }
    })
}

/// A string argument.
fn text(v: Option<Unknown<'_>>, name: &str) -> perse_core::Result<String> {
    match v {
        // SAFETY: the value's type was just checked to be a string.
        Some(v) if matches!(v.get_type(), Ok(ValueType::String)) => {
            unsafe { v.cast::<String>() }.map_err(|e| Error::invalid(format!("{name} cannot be read: {}", e.reason)))
        }
        _ => Err(Error::invalid(format!("{name} must be a string"))),
    }
}

/// An image argument: a path string, or bytes (copied now, see `image_arg.rs`).
fn image(v: Option<Unknown<'_>>, s: &Started) -> perse_core::Result<ImageSource> {
    image_source(v, &s.prep, Some(&s.pool))
}

/// One side of a compare: an image, or an enrolled user's token.
fn side(img: Option<Unknown<'_>>, token: Option<Unknown<'_>>, s: &Started) -> perse_core::Result<CompareInput> {
    match token {
        Some(t) => text(Some(t), "userToken").map(CompareInput::UserToken),
        None => image(img, s).map(CompareInput::Image),
    }
}
