//! Image arguments: bytes (any ArrayBuffer view, or an ArrayBuffer) or a file path.
//!
//! Bytes are copied into native memory here, on the JS thread, while the call starts. Lending
//! the caller's memory instead is unsound: Node-API cannot pin an ArrayBuffer, so a caller
//! that transfers it (`postMessage(ab, [ab])`, `structuredClone(ab, {transfer})`) while the
//! call runs frees it under the native reader, and one that reuses its buffer changes what a
//! retry sends. The size is checked against the call's budget before anything is copied, so
//! an oversized input costs no memory. See `bench/http.mjs` for what the copy costs.

use std::sync::Arc;

use bytes::Bytes;
use napi::bindgen_prelude::Unknown;
use napi::{sys, JsValue};
use perse_core::{check_input_size, Error, ImageSource, PrepareOptions};

use crate::byte_pool::BytePool;

/// An image argument: a path string, or bytes (any view, or an ArrayBuffer), copied into a
/// buffer of `pool` when one is given.
pub fn image_source(
    value: Option<Unknown<'_>>,
    prep: &PrepareOptions,
    pool: Option<&Arc<BytePool>>,
) -> Result<ImageSource, Error> {
    match value {
        Some(v) if matches!(v.get_type(), Ok(napi::ValueType::String)) => {
            // SAFETY: the value's type was just checked to be a string.
            let path =
                unsafe { v.cast::<String>() }.map_err(|e| Error::invalid(format!("image path: {}", e.reason)))?;
            Ok(ImageSource::Path(path.into()))
        }
        Some(v) => copy_bytes(&v, prep, pool).map(ImageSource::Bytes),
        None => Err(Error::invalid(
            "an image must be a Buffer, typed array, DataView, ArrayBuffer or a non-empty file path",
        )),
    }
}

/// A copy of the bytes `value` views, refused before copying when over budget.
fn copy_bytes(value: &Unknown<'_>, prep: &PrepareOptions, pool: Option<&Arc<BytePool>>) -> Result<Bytes, Error> {
    let v = value.value();
    // SAFETY: `v` is a live value of this call's env, on the JS thread; no JS runs between
    // reading the pointer and copying from it.
    let (ptr, len) = unsafe { bytes_of(v.env, v.value) }?;
    check_input_size(len as u64, prep)?;
    if len == 0 || ptr.is_null() {
        return Ok(Bytes::new());
    }
    // SAFETY: Node-API reported `len` readable bytes at `ptr`, owned by a live ArrayBuffer.
    let src = unsafe { std::slice::from_raw_parts(ptr, len) };
    Ok(match pool {
        Some(pool) => pool.copy(src),
        None => Bytes::copy_from_slice(src),
    })
}

/// Where the bytes of a typed array, DataView or ArrayBuffer are, and how many there are.
unsafe fn bytes_of(env: sys::napi_env, value: sys::napi_value) -> Result<(*const u8, usize), Error> {
    let ok = |s: sys::napi_status| s == sys::Status::napi_ok;
    let mut is = false;
    let mut data: *mut std::ffi::c_void = std::ptr::null_mut();
    let mut buffer: sys::napi_value = std::ptr::null_mut();
    let mut offset = 0usize;
    // SAFETY (whole block): plain Node-API queries on a live value, with valid out-pointers.
    unsafe {
        if ok(sys::napi_is_typedarray(env, value, &mut is)) && is {
            let (mut kind, mut n) = (0, 0usize);
            if !ok(sys::napi_get_typedarray_info(
                env,
                value,
                &mut kind,
                &mut n,
                &mut data,
                &mut buffer,
                &mut offset,
            )) {
                return Err(unreadable());
            }
            let size = element_size(kind).ok_or_else(unreadable)?;
            return Ok((data as *const u8, n.checked_mul(size).ok_or_else(unreadable)?));
        }
        if ok(sys::napi_is_dataview(env, value, &mut is)) && is {
            let mut n = 0usize;
            if !ok(sys::napi_get_dataview_info(
                env,
                value,
                &mut n,
                &mut data,
                &mut buffer,
                &mut offset,
            )) {
                return Err(unreadable());
            }
            return Ok((data as *const u8, n));
        }
        if ok(sys::napi_is_arraybuffer(env, value, &mut is)) && is {
            let mut n = 0usize;
            if !ok(sys::napi_get_arraybuffer_info(env, value, &mut data, &mut n)) {
                return Err(unreadable());
            }
            return Ok((data as *const u8, n));
        }
    }
    Err(Error::invalid(
        "an image must be a Buffer, typed array, DataView or ArrayBuffer",
    ))
}

fn unreadable() -> Error {
    Error::invalid("the image bytes cannot be read")
}

/// Bytes per element of a typed array kind (`napi_typedarray_type`; 11 is Float16Array).
fn element_size(kind: sys::napi_typedarray_type) -> Option<usize> {
    use sys::TypedarrayType as T;
    Some(match kind {
        T::int8_array | T::uint8_array | T::uint8_clamped_array => 1,
        T::int16_array | T::uint16_array | 11 => 2,
        T::int32_array | T::uint32_array | T::float32_array => 4,
        T::float64_array | T::bigint64_array | T::biguint64_array => 8,
        _ => return None,
    })
}
