'use strict'

// Observability (docs/observability.md has the public contract, channel names and fields):
// the diagnostics_channel TracingChannel `perse-node:call` around every call, the
// `perse-node:attempt` and `perse-node:token-refresh` channels, and the debug log
// (`NODE_DEBUG=perse-node`, or a client's `logger`). The attempts run off the JS thread, in
// Rust; a traced call brings their facts back on its result or error (`trace`, filled only
// when the call was started traced: see `observing`), and they are published here when the
// call settles. Nothing here runs for a call that nobody observes.

const dc = require('node:diagnostics_channel')
const { debuglog } = require('node:util')

/** The version of the channels' contract (docs/observability.md). */
const CHANNELS_VERSION = 1

const CALL = dc.tracingChannel('perse-node:call')
/**
 * Whether `perse-node:call` has a subscriber. Node's TracingChannel has `hasSubscribers`;
 * Bun's (1.4) has not, only its five channels do, so there it is asked of them.
 */
const callObserved = 'hasSubscribers' in CALL
  ? () => CALL.hasSubscribers
  : () => CALL.start.hasSubscribers || CALL.end.hasSubscribers || CALL.asyncStart.hasSubscribers || CALL.asyncEnd.hasSubscribers || CALL.error.hasSubscribers
const ATTEMPT = dc.channel('perse-node:attempt')
const REFRESH = dc.channel('perse-node:token-refresh')

let debug = null
/** util.debuglog('perse-node'), made once; `enabled` follows NODE_DEBUG as Node read it at start-up. */
function debugLog() {
  debug ??= debuglog('perse-node')
  return debug
}
/** NODE_DEBUG names perse-node (read once: Node reads NODE_DEBUG once, at start-up). */
let debugOn = null

// @hot
/** Whether a call starting now is observed: a tracing subscriber, NODE_DEBUG=perse-node, or a logger. */
function observing(logger) {
  debugOn ??= debugLog().enabled
  return debugOn || logger !== null || callObserved()
}

let lastBase = ''
let lastOrigin = ''
function originOf(baseUrl) {
  if (baseUrl !== lastBase) {
    lastBase = baseUrl
    try {
      lastOrigin = new URL(baseUrl).origin
    } catch {
      lastOrigin = baseUrl
    }
  }
  return lastOrigin
}

/**
 * Runs `start(headers)` (which starts the native call, traced, with the subscribers' extra
 * headers, and returns its promise) inside the `perse-node:call` tracing channel when it has
 * subscribers, and writes the debug log when it is on. `spec` is the call's `{ operation,
 * method }` (perse-core's `CALLS`, through lib/transport.js); `logger` is the client's, or null.
 */
function traceCall(spec, baseUrl, logger, start) {
  const ctx = { version: CHANNELS_VERSION, operation: spec.operation, method: spec.method, origin: originOf(baseUrl), headers: {} }
  const run = () =>
    start(ctx.headers).then(
      (r) => {
        settled(ctx, r, undefined, logger)
        return r
      },
      (e) => {
        settled(ctx, undefined, e, logger)
        throw e
      },
    )
  if (callObserved()) return CALL.tracePromise(run, ctx)
  return run()
}

/** Fills `ctx` from the outcome (before asyncStart/error are published), then the attempt and refresh channels and the log. */
function settled(ctx, result, error, logger) {
  const from = result ?? error
  const trace = from?.trace
  ctx.requestId = from?.requestId
  ctx.attempts = trace ? trace.attempts : []
  ctx.refreshed = trace ? trace.refreshed : false
  const last = ctx.attempts[ctx.attempts.length - 1]
  ctx.status = last?.status
  if (error !== undefined) ctx.code = error?.code
  if (result?.uploaded !== undefined) ctx.uploads = uploadsOf(result.uploaded)
  if (ATTEMPT.hasSubscribers) {
    ctx.attempts.forEach((a, i) => ATTEMPT.publish({ version: CHANNELS_VERSION, operation: ctx.operation, origin: ctx.origin, requestId: ctx.requestId, attempt: i + 1, ...a }))
  }
  if (ctx.refreshed && REFRESH.hasSubscribers) REFRESH.publish({ version: CHANNELS_VERSION, operation: ctx.operation, origin: ctx.origin, requestId: ctx.requestId, ok: !(error?.code === 'token_refresh_failed') })
  const log = logger ?? (debugOn ? debugLog() : null)
  if (log === null) return
  try {
    writeLog(log, ctx, error)
  } catch {
    // a logger that throws must not change the call's outcome
  }
}

/** `[{ bytes, format }]` of what was uploaded (`null` where a compare side was a user token). */
function uploadsOf(uploaded) {
  const one = (u) => (u ? { bytes: u.bytes, format: u.format } : null)
  if (uploaded === null) return [null]
  if ('a' in uploaded && 'b' in uploaded) return [one(uploaded.a), one(uploaded.b)]
  return [one(uploaded)]
}

/**
 * One line per attempt, then one for the outcome. Only the SDK's own facts are written
 * (operation, origin, statuses, times, codes, ids) and the error's message, which the Rust
 * side has already redacted (no token, private key or JWT: see crates/perse-core/src/error/redact.rs).
 */
function writeLog(log, ctx, error) {
  const emit = typeof log === 'function' ? log : (line) => log.debug(line)
  const id = ctx.requestId ?? '-'
  ctx.attempts.forEach((a, i) => {
    emit(`${ctx.operation} attempt ${i + 1}: ${a.status ?? a.code ?? 'no response'} in ${a.ms.toFixed(1)} ms, requestId ${id}${a.code !== undefined && a.status !== undefined ? ` (${a.code})` : ''} → ${a.next}`)
  })
  if (ctx.refreshed) emit(`${ctx.operation}: fetched a new token for this call`)
  if (error !== undefined) emit(`${ctx.operation} failed: ${error?.code} after ${error?.attempts ?? 0} attempt(s), requestId ${id}: ${error?.message}`)
  else emit(`${ctx.operation} done, requestId ${id}`)
}

/**
 * A client's `logger` option: an object with a `debug(line)` method (pino, winston, bunyan,
 * console), `null` to remove it.
 */
function loggerArg(v) {
  if (v === null) return null
  if (v !== null && typeof v === 'object' && typeof v.debug === 'function') return v
  return undefined
}

module.exports = { observing, traceCall, loggerArg, CHANNELS_VERSION }
