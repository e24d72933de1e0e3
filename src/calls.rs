//! The API calls, by the number `lib/transport.js` passes to `NativeClient::start`: their
//! arguments read on the JS thread by the kinds `perse_core::CALLS` declares, then the core's
//! `Client::call`. No call is named here: a new one is declared in perse-core alone.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use napi::bindgen_prelude::Unknown;
use napi::ValueType;
use napi_derive::napi;
use perse_core::{Arg, ArgKind, CallOptions, Client, CompareInput, Error, ImageSource, PrepareOptions, CALLS};

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

type Launched = Pin<Box<dyn Future<Output = perse_core::Result<Done>> + Send>>;

/// One call as JS sees it (perse-core's `CallSpec`).
#[napi(object)]
pub struct CallInfo {
    /// The method that starts it (`list` for `enrollment.list`).
    pub name: String,
    /// Its name for tracing (`enrollment.list`).
    pub operation: String,
    /// The HTTP method it requests.
    pub method: String,
    /// The path it requests (`{userToken}` for a path segment).
    pub path: String,
}

/// Every call, in the order of their numbers (perse-core's `CALLS`): how `lib/transport.js`
/// learns the number to pass to `NativeClient::start`, and `lib/observe.js` each call's
/// operation and HTTP method.
#[napi]
pub fn calls() -> Vec<CallInfo> {
    CALLS
        .iter()
        .map(|c| CallInfo {
            name: c.name.into(),
            operation: c.operation.into(),
            method: c.method.into(),
            path: c.path.into(),
        })
        .collect()
}

/// The future of call number `call` with the positional arguments `a`..`d`, read by the kinds
/// `CALLS` gives (a compare side takes two positions: image, then token).
pub fn make(call: u32, s: Started, raw: [Option<Unknown<'_>>; 4]) -> perse_core::Result<Launched> {
    let Some(spec) = CALLS.get(call as usize) else {
        return Err(Error::invalid(format!("no call number {call}")));
    };
    let mut raw = raw.into_iter();
    let mut args = Vec::with_capacity(spec.args.len());
    for kind in spec.args {
        args.push(match *kind {
            ArgKind::Text(name) => Arg::Text(text(raw.next().flatten(), name)?),
            ArgKind::Image => Arg::Image(image(raw.next().flatten(), &s)?),
            ArgKind::Side => {
                let (img, token) = (raw.next().flatten(), raw.next().flatten());
                Arg::Side(side(img, token, &s)?)
            }
        });
    }
    Ok(Box::pin(async move {
        s.client.call(call as usize, args, &s.opts).await.map(Done::from)
    }))
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
