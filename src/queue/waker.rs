//! The JS thread's two handles on the queue: the rearm after each delivery, and the batch of
//! numbers as a `Float64Array`.

use std::sync::Weak;

use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;

use super::Hub;

/// What the JS side calls to rearm the queue after each delivery (see the module comment).
/// It holds the hub weakly: the completion callback owns it, and the hub owns the callback.
#[napi]
pub struct CompletionWaker {
    hub: Weak<Hub>,
}

impl CompletionWaker {
    pub(super) fn new(hub: Weak<Hub>) -> Self {
        CompletionWaker { hub }
    }
}

#[napi]
impl CompletionWaker {
    #[napi(catch_unwind)]
    pub fn rearm(&self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.rearm();
        }
    }
}

/// A `Float64Array` copied into V8-owned memory: for a batch of a few hundred bytes a copy is
/// cheaper than an external buffer, which needs a finalizer and a backing-store record.
pub struct Nums(pub Vec<f64>);

impl ToNapiValue for Nums {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        let len = val.0.len();
        let (mut data, mut buffer, mut array) = (std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
        // SAFETY: `data` points to `len * 8` fresh bytes owned by the new ArrayBuffer.
        unsafe {
            check_status!(sys::napi_create_arraybuffer(env, len * 8, &mut data, &mut buffer))?;
            if len > 0 {
                std::ptr::copy_nonoverlapping(val.0.as_ptr().cast::<u8>(), data.cast::<u8>(), len * 8);
            }
            check_status!(sys::napi_create_typedarray(
                env,
                sys::TypedarrayType::float64_array,
                len,
                buffer,
                0,
                &mut array
            ))?;
        }
        Ok(array)
    }
}
