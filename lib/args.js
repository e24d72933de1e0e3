'use strict'

// Options objects: what can be checked about a caller's options before native code sees
// them (image arguments: lib/images.js). Option keys and their JS types come from the Rust structs (`optionSpecs()`, see
// src/options.rs), so this file names no option; numeric ranges are checked once, in Rust.
// Everything here throws a PerseError (invalid_argument) that names the offending parameter.

const { invalid, describe, isPerseError, foreignMessage } = require('./errors.js')
const native = require('./native.js')
const { localPackageIfInstalled } = require('./local-package.js')
const { loggerArg } = require('./observe.js')

const { isProxy } = require('node:util').types

/** Options handled by JS itself, next to the native ones. */
const JS_ONLY = { client: [['onTokenRefresh', 'function'], ['logger', 'object']], call: [['signal', 'object']], prepareImage: [['timeoutMs', 'number']] }

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

/** Client options: `{ native, onTokenRefresh, logger }`; `onTokenRefresh` and `logger` may be `null`. */
function clientOptions(value) {
  const refresh = value != null && typeof value === 'object' && value.onTokenRefresh === null
  const noLogger = value != null && typeof value === 'object' && value.logger === null
  const undefinedKeys = new Set()
  const o = options(refresh || noLogger ? { ...value, onTokenRefresh: refresh ? undefined : value.onTokenRefresh, logger: noLogger ? undefined : value.logger } : value, 'client', 'options', undefinedKeys)
  for (const key of CREDENTIALS) {
    if (o[key] === '' || undefinedKeys.has(key)) {
      const env = key === 'privateKey' ? ', or leave it out to use PERSE_PRIVATE_KEY' : ', or leave it out'
      throw invalid(`options.${key} is ${o[key] === '' ? 'empty' : 'undefined'}: is the environment variable you read it from set? Pass a ${key === 'token' ? 'token' : 'key'}${env}`)
    }
  }
  const { onTokenRefresh, logger, ...rest } = o
  if (logger !== undefined && loggerArg(logger) === undefined) throw invalid(`options.logger must be an object with a debug(line) method, such as a pino or winston logger, or null (got ${describe(logger)})`)
  if (rest.headers !== undefined) rest.headers = headersArg(rest.headers)
  const hasRefresh = refresh || onTokenRefresh !== undefined
  return { native: rest, onTokenRefresh: refresh ? null : onTokenRefresh, hasRefresh, logger: noLogger ? null : logger, credentials: hasRefresh || CREDENTIALS.some((k) => rest[k] !== undefined) }
}

/** Longest header name or count read from a `headers` object before the native check refuses it. */
const MAX_HEADER_KEYS = 64

/**
 * A `headers` option as a fresh plain object of its own string-valued keys (the native side
 * checks names, values, sizes and the refused names: crates/perse-core/src/headers.rs).
 */
function headersArg(h) {
  if (Array.isArray(h) || isProxy(h)) throw invalid(`options.headers must be an object of header names to string values (got ${describe(h)})`)
  const keys = Object.keys(h)
  if (keys.length > MAX_HEADER_KEYS) throw invalid(`options.headers has ${keys.length} headers; at most 32 are sent`)
  const out = {}
  for (const k of keys) {
    const v = h[k]
    if (typeof v !== 'string') throw invalid(`options.headers['${k.slice(0, 40)}'] must be a string (got ${describe(v)})`)
    out[k] = v
  }
  return out
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
    else (rest ??= {})[key] = key === 'headers' ? headersArg(v) : v
  }
  return { consent, native: rest, signal }
}

function abortSignal(s) {
  if (typeof s.aborted === 'boolean' && typeof s.addEventListener === 'function') return s
  throw invalid(`options.signal must be an AbortSignal (got ${describe(s)})`)
}

/**
 * A time limit that JS itself applies (prepareImage reading a stream, controlLocalServer's
 * requests): an integer from 1 to 600000 milliseconds. The native options' ranges are
 * declared and checked in Rust (`js_options!`).
 */
function timeoutMsArg(v, name) {
  if (Number.isInteger(v) && v >= 1 && v <= 600_000) return v
  throw invalid(`${name} must be an integer between 1 and 600000 milliseconds (got ${typeof v === 'number' ? v : describe(v)})`)
}

/** Any failure as a PerseError: a caller's getter or Proxy that throws is an invalid argument. */
function asPerseError(e) {
  if (isPerseError(e)) return e
  return invalid(`an argument could not be read: ${foreignMessage(e)}`, e)
}

module.exports = { options, clientOptions, callOptions, timeoutMsArg, asPerseError }
