'use strict'

// Argument normalisation: what can be checked about a caller's input before native code sees
// it. Option keys and their JS types come from the Rust structs (`optionSpecs()`, see
// src/options.rs), so this file names no option; numeric ranges are checked once, in Rust.
// Everything here throws a PerseError (invalid_argument) that names the offending parameter.

const { types } = require('node:util')
const { fileURLToPath } = require('node:url')

const { invalid, describe, isPerseError, foreignMessage } = require('./errors.js')
const native = require('./native.js')
const { localPackageIfInstalled } = require('./local-package.js')
const { uploadedFile } = require('./inputs.js')

const MAX_PATH = 4096
const { isProxy, isAnyArrayBuffer, isSharedArrayBuffer, isArrayBufferView } = types
const U8 = Uint8Array

/** Options handled by JS itself, next to the native ones. */
const JS_ONLY = { client: [['onTokenRefresh', 'function']], call: [['signal', 'object']], prepareImage: [['timeoutMs', 'number']] }

/** Names people reach for, and what they meant. */
const ALIASES = {
  endUserConsent: 'enduserConsent',
  consent: 'enduserConsent',
  userConsent: 'enduserConsent',
  timeout: 'timeoutMs',
  retries: 'maxRetries',
  maxRetry: 'maxRetries',
  url: 'baseUrl',
  baseURL: 'baseUrl',
  apiKey: 'privateKey',
  key: 'privateKey',
}

/** `{ kind: [[key, typeof], ...] }` as a binding returns it → `{ kind: Map }`, with the JS-only keys. */
function toMaps(s) {
  const maps = {}
  for (const kind of Object.keys(s)) maps[kind] = new Map([...s[kind], ...(JS_ONLY[kind] ?? [])])
  return maps
}

let specs = null
/** `{ client, call, prepareImage }` from this addon, each a Map of key to typeof. */
function optionSpecs() {
  if (specs === null) specs = toMaps(native().optionSpecs())
  return specs
}

let localSpecs = null
/**
 * The Map for `kind`: this addon's kinds, or `localServer` / `fault` from perse-node-local's
 * addon (looked up only for those kinds, never on the call path; undefined while it is not
 * installed).
 */
function specFor(kind) {
  const own = optionSpecs()[kind]
  if (own !== undefined) return own
  if (localSpecs === null) {
    const local = localPackageIfInstalled()
    if (local === null) return undefined
    localSpecs = toMaps(local.native.optionSpecs())
  }
  return localSpecs[kind]
}

/** " (did you mean 'x'?)" when `key` is a known alias or differs from a valid key only in case. */
function hint(key, spec) {
  const alias = ALIASES[key]
  const match = alias && spec.has(alias) ? alias : [...spec.keys()].find((k) => k.toLowerCase() === key.toLowerCase())
  return match ? ` (did you mean '${match}'?)` : ''
}

/** `value[key]` read once and checked against `spec` (a Map of key to typeof). */
function field(value, key, spec, where) {
  if (!spec.has(key)) throw invalid(`unknown ${where === 'options' ? 'option' : where} '${key}'${hint(key, spec)}`)
  const v = value[key]
  const type = spec.get(key)
  if (v !== undefined && (typeof v !== type || (type === 'object' && v === null))) {
    throw invalid(`${where}.${key} must be a ${type} (got ${describe(v)})`)
  }
  return v
}

function checkObject(value, where) {
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(`${where} must be an object (got ${describe(value)})`)
}

/**
 * A snapshot of an options object: each known key read once, unknown keys and wrong types
 * refused. `kind` is a kind of specFor(); `where` names the parameter in messages.
 */
function options(value, kind, where = 'options', given = undefined) {
  if (value === undefined || value === null) return {}
  checkObject(value, where)
  const spec = specFor(kind)
  // A fault for a server in another process, with perse-node-local absent here: that server checks it.
  if (spec === undefined) return { ...value }
  const out = {}
  for (const key of Object.keys(value)) {
    const v = field(value, key, spec, where)
    if (v !== undefined) out[key] = v
    else given?.add(key)
  }
  return out
}

/** Credentials given as `undefined` are refused: usually an environment variable that is not set. */
const CREDENTIALS = ['privateKey', 'token']

/** Client options: `{ native, onTokenRefresh }`; `onTokenRefresh` may be `null`. */
function clientOptions(value) {
  const refresh = value != null && typeof value === 'object' && value.onTokenRefresh === null
  const undefinedKeys = new Set()
  const o = options(refresh ? { ...value, onTokenRefresh: undefined } : value, 'client', 'options', undefinedKeys)
  for (const key of CREDENTIALS) {
    if (o[key] === '' || undefinedKeys.has(key)) {
      const env = key === 'privateKey' ? ', or leave it out to use PERSE_PRIVATE_KEY' : ', or leave it out'
      throw invalid(`options.${key} is ${o[key] === '' ? 'empty' : 'undefined'}: is the environment variable you read it from set? Pass a ${key === 'token' ? 'token' : 'key'}${env}`)
    }
  }
  const { onTokenRefresh, ...rest } = o
  const hasRefresh = refresh || onTokenRefresh !== undefined
  return { native: rest, onTokenRefresh: refresh ? null : onTokenRefresh, hasRefresh, credentials: hasRefresh || CREDENTIALS.some((k) => rest[k] !== undefined) }
}

const NO_CALL_OPTIONS = Object.freeze({ consent: false, native: null, signal: undefined })

// @hot
/**
 * Per-call options: `{ consent, native, signal }`. Consent travels as its own argument and
 * the others only when set (`native` is null otherwise): every property the native side
 * reads costs a key lookup on the JS thread. No object is built by adding properties in the
 * common case: such shapes die at full GCs and take the optimized code with them.
 */
function callOptions(value) {
  if (value === undefined || value === null) return NO_CALL_OPTIONS
  checkObject(value, 'options')
  const spec = optionSpecs().call
  let consent = false
  let signal
  let rest = null
  for (const key of Object.keys(value)) {
    const v = field(value, key, spec, 'options')
    if (v === undefined) continue
    if (key === 'enduserConsent') consent = v
    else if (key === 'signal') signal = abortSignal(v)
    else (rest ??= {})[key] = v
  }
  return { consent, native: rest, signal }
}

function abortSignal(s) {
  if (typeof s.aborted === 'boolean' && typeof s.addEventListener === 'function') return s
  throw invalid(`options.signal must be an AbortSignal (got ${describe(s)})`)
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

/** Any failure as a PerseError: a caller's getter or Proxy that throws is an invalid argument. */
function asPerseError(e) {
  if (isPerseError(e)) return e
  return invalid(`an argument could not be read: ${foreignMessage(e)}`, e)
}

module.exports = { options, clientOptions, callOptions, imageArg, compareArgs, userTokenArg, asPerseError, stringHint }
