//! Image arguments: bytes (any ArrayBuffer view, or an ArrayBuffer) or a file path.
//!
//! Bytes are copied into native memory here, on the JS thread, while the call starts. Lending
//! the caller's memory instead is unsound: Node-API cannot pin an ArrayBuffer, so a caller
//! that transfers it (`postMessage(ab, [ab])`, `structuredClone(ab, {transfer})`) while the
//! call runs frees it under the native reader, and one that reuses its buffer changes what a
//! retry sends. The size is checked against the call's budget before anything is copied, so
//! an oversized input costs no memory. See `bench/http.mjs` for what the copy costs.

use bytes::Bytes;
use napi::bindgen_prelude::Unknown;
use napi::{sys, JsValue};
use perse_core::{check_input_size, Error, ImageSource, PrepareOptions};

/// The image of a call, from the two positional arguments `index.js` passes: `data` (a
/// view or an ArrayBuffer) or `path`.
pub fn image_source(
    data: Option<Unknown<'_>>,
    path: Option<String>,
    prep: &PrepareOptions,
) -> Result<ImageSource, Error> {
    match (data, path) {
        (Some(v), None) => copy_bytes(&v, prep).map(ImageSource::Bytes),
        (None, Some(p)) if !p.is_empty() => Ok(ImageSource::Path(p.into())),
        _ => Err(Error::invalid(
            "an image must be a Buffer, typed array, DataView, ArrayBuffer or a non-empty file path",
        )),
    }
}

/// A copy of the bytes `value` views, refused before copying when over budget.
pub fn copy_bytes(value: &Unknown<'_>, prep: &PrepareOptions) -> Result<Bytes, Error> {
    let v = value.value();
    // SAFETY: `v` is a live value of this call's env, on the JS thread; no JS runs between
    // reading the pointer and copying from it.
    let (ptr, len) = unsafe { bytes_of(v.env, v.value) }?;
    check_input_size(len as u64, prep)?;
    if len == 0 || ptr.is_null() {
        return Ok(Bytes::new());
    }
    // SAFETY: Node-API reported `len` readable bytes at `ptr`, owned by a live ArrayBuffer.
    Ok(Bytes::copy_from_slice(unsafe { std::slice::from_raw_parts(ptr, len) }))
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
