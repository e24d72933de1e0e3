'use strict'

// PerseError: the one place it is built. Native failures arrive as data (an ErrorInfo object,
// or the same fields decoded from a completion batch) and become errors in fromInfo(); a
// throw from native code is a bug or an unconvertible value (nativeError()).

const { CODES } = require('./codes.generated.js')

const BRAND = Symbol.for('perse-node.PerseError')

/** Every failure of this SDK. `code` is stable; see the error codes in docs/errors.md. */
class PerseError extends Error {
  constructor(info) {
    super(info.message, info.cause != null ? { cause: info.cause } : undefined)
    this.name = 'PerseError'
    this.code = info.code
    this.status = false
    if (info.httpStatus != null) this.httpStatus = info.httpStatus
    this.retryable = Boolean(info.retryable)
    this.attempts = info.attempts ?? 0
    if (info.requestId != null) this.requestId = info.requestId
    if (info.trace != null) this.trace = info.trace
  }

  // A prototype getter keyed by a registry symbol: visible from every realm (jest gives each
  // test file its own, where `instanceof` fails) without adding an own enumerable property.
  get [BRAND]() {
    return true
  }
}

/** `true` for a PerseError from any realm (jest module registries, vm contexts, workers' copies). */
function isPerseError(e) {
  try {
    return e instanceof PerseError || (e != null && typeof e === 'object' && e[BRAND] === true)
  } catch {
    return false // a Proxy whose traps throw: not ours
  }
}

/** A PerseError from an ErrorInfo (crates/perse-napi-edge) or the same fields decoded from a batch. */
function fromInfo(info) {
  return new PerseError(info)
}

/**
 * A PerseError raised by the JS side itself. `code` must be one of the table in
 * crates/perse-core/src/error/codes.rs (lib/codes.generated.js); any other is a bug, reported
 * as `internal_error` rather than shipped as a code no user can look up.
 */
function fail(code, message, extra) {
  if (!CODES.has(code)) return new PerseError({ code: 'internal_error', message: `a bug in perse-node: unknown error code '${code}' (${message}); please report it`, attempts: 0, retryable: false })
  return new PerseError({ code, message, attempts: 0, retryable: false, ...extra })
}

/** invalid_argument; `cause` (the caller's own error, if any) is kept as the error's cause. */
function invalid(message, cause) {
  return fail('invalid_argument', message, cause === undefined ? undefined : { cause })
}

/** Longest part of a foreign error's message quoted in a PerseError's. */
const FOREIGN_MESSAGE_CHARS = 300

/**
 * The message of an error a caller's object threw, safe to quote: read without running
 * the caller's getters twice or letting them throw, on one line, at most
 * FOREIGN_MESSAGE_CHARS long.
 */
function foreignMessage(e) {
  let m
  try {
    m = e instanceof Error || (e !== null && typeof e === 'object' && typeof e.message === 'string') ? e.message : String(e)
    if (typeof m !== 'string' || m === '') m = e instanceof Error ? e.name : 'an error without a message'
  } catch {
    m = 'an error that cannot be described'
  }
  m = m.replace(/\s+/g, ' ').trim()
  return m.length > FOREIGN_MESSAGE_CHARS ? `${m.slice(0, FOREIGN_MESSAGE_CHARS - 1)}…` : m
}

function describe(v) {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'number' && Number.isNaN(v)) return 'NaN'
  if (typeof v === 'object') return `an object (${Object.prototype.toString.call(v).slice(8, -1)})`
  return `${typeof v}`
}

/**
 * A throw from native code as a PerseError. Native code refuses bad input by returning an
 * ErrorInfo, so a throw is either a value napi could not convert (an invalid argument) or a
 * caught panic (GenericFailure: a bug, reported as internal_error).
 */
function nativeError(e) {
  if (isPerseError(e)) return e
  const message = e && e.message ? e.message : String(e)
  if (e && e.code === 'GenericFailure') return fail('internal_error', `a bug in perse-node was caught (${message}); please report it`)
  return invalid(message)
}

/** Runs a synchronous native call; a throw becomes a PerseError (see nativeError). */
function nativeSync(fn) {
  try {
    return fn()
  } catch (e) {
    throw nativeError(e)
  }
}

module.exports = { PerseError, isPerseError, fromInfo, fail, invalid, describe, foreignMessage, nativeSync, nativeError }
