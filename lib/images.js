'use strict'

// What an image argument is: every kind of image a call accepts is recognised here, and only
// here. Bytes (a Buffer, typed array or ArrayBuffer), a file path or file URL, and a multer or
// formidable file object become what the native side takes (`imageArg`); a Blob or File, a
// fetch Response and a web or Node stream are named by `readKind`, and lib/inputs.js reads
// them into bytes first. A compare side may also be `{ userToken }` (`compareArgs`).
// Everything here throws a PerseError (invalid_argument) that names the offending parameter.

const { types } = require('node:util')
const { fileURLToPath } = require('node:url')

const { invalid, describe } = require('./errors.js')

const MAX_PATH = 4096
const { isProxy, isAnyArrayBuffer, isSharedArrayBuffer, isArrayBufferView } = types
const U8 = Uint8Array

/** multer (memory storage: `.buffer`; disk storage: `.path`) and formidable (`.filepath`) file objects. */
function uploadedFile(v) {
  if (v === null || typeof v !== 'object') return undefined
  const named = typeof v.originalname === 'string' || typeof v.fieldname === 'string' || typeof v.mimetype === 'string' || typeof v.originalFilename === 'string'
  if (!named) return undefined
  if (v.buffer instanceof Uint8Array) return v.buffer
  if (typeof v.path === 'string') return v.path
  if (typeof v.filepath === 'string') return v.filepath
  return undefined
}

const fn = (v, key) => typeof v[key] === 'function'

// @hot
/**
 * How `v` must be read before the call can start: 'blob', 'response', 'web' (ReadableStream)
 * or 'node' (Readable); undefined when it needs no reading (bytes, paths, multer files...).
 * A getter that throws here propagates: the caller turns it into invalid_argument.
 */
function readKind(v) {
  if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v) || types.isAnyArrayBuffer(v) || types.isProxy(v)) return undefined
  if (fn(v, 'arrayBuffer')) {
    if (typeof v.size === 'number' && typeof v.type === 'string' && fn(v, 'stream')) return 'blob'
    if (typeof v.status === 'number' && v.headers !== undefined && 'bodyUsed' in v) return 'response'
  }
  if (fn(v, 'getReader')) return 'web'
  if (fn(v, 'pipe') && fn(v, 'on') && fn(v, Symbol.asyncIterator)) return 'node'
  return undefined
}

// @hot
/**
 * An image as the native side takes it: a file path string, or the caller's view or
 * ArrayBuffer itself. The native side copies the bytes while the call starts (see
 * src/image_arg.rs), and no user code runs between this check and that copy.
 */
function imageArg(value, name) {
  if (isProxy(value)) throw invalid(`${name} is a Proxy; pass the Buffer, typed array or ArrayBuffer itself`)
  if (isArrayBufferView(value)) {
    if (value.byteLength === 0) checkAttached(value.buffer, name)
    return value
  }
  if (isAnyArrayBuffer(value)) {
    if (value.byteLength === 0) checkAttached(value, name)
    return isSharedArrayBuffer(value) ? new U8(value) : value
  }
  if (value instanceof URL || (value != null && typeof value === 'object' && value.href && value.protocol === 'file:')) {
    try {
      return fileURLToPath(value)
    } catch (e) {
      throw invalid(`${name} is not a usable file URL: ${e.message}`)
    }
  }
  if (typeof value === 'string') {
    if (value.length === 0) throw invalid(`${name} must not be an empty path`)
    if (value.length > MAX_PATH || value.includes('\0')) throw invalid(`${name} is not a usable file path${stringHint(value)}`)
    return value
  }
  const file = uploadedFile(value)
  if (file !== undefined) return imageArg(file, name)
  throw invalid(`${name} must be a Buffer, typed array, ArrayBuffer, Blob or File, Response, stream, multer file or file path (got ${describe(value)})`)
}

/**
 * What a string that is not a file path probably is, and what to do with it (also used when
 * a path turns out not to exist: lib/client.js adds it to `file_not_found`).
 */
function stringHint(s) {
  if (/^https?:\/\//i.test(s)) return ': it looks like a URL; fetch it first and pass the Response (`await fetch(url)`)'
  if (/^data:[^,]*;base64,/i.test(s)) return ": it looks like a data URL; pass `Buffer.from(s.slice(s.indexOf(',') + 1), 'base64')`"
  if (/^usr_[\w-]+$/.test(s)) return ': it looks like an enrolled user token; pass `{ userToken }` to compare'
  if (s.length > 200 && /^[A-Za-z0-9+/\r\n]+={0,2}$/.test(s)) return ": it looks like base64; pass `Buffer.from(s, 'base64')`"
  return s.length > MAX_PATH ? ` (longer than ${MAX_PATH} characters)` : ' (it contains a NUL character)'
}

/** An empty buffer that was transferred away reads as empty; say what happened instead. */
function checkAttached(buffer, name) {
  try {
    new U8(buffer)
  } catch {
    throw invalid(`${name} was detached (transferred to a worker or structuredClone) before the call could read it`)
  }
}

/** One side of a compare as the two positional native arguments `[image, userToken]`. */
function compareArgs(value, name) {
  if (value != null && typeof value === 'object' && !isProxy(value) && !isArrayBufferView(value) && 'userToken' in value) {
    return [null, userTokenArg(value.userToken, `${name}.userToken`)]
  }
  return [imageArg(value, name), null]
}

function userTokenArg(value, name) {
  if (typeof value !== 'string' || value.trim() === '') throw invalid(`${name} must be a non-empty string (got ${describe(value)})`)
  if (value.length > MAX_PATH) throw invalid(`${name} is too long to be a user token`)
  return value
}

module.exports = { imageArg, readKind, compareArgs, userTokenArg, stringHint }
