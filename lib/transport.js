'use strict'

// The JS half of the completion queue, behind one method: `call(method, args, options)`
// returns a promise. Ids, the calls in flight (pending.js), the batch decoder (decode.js),
// the once-per-tick flush and the rearm after each delivery all stay in here; see
// ARCHITECTURE.md for why the queue exists and the invariants it keeps.

const { fail, invalid, isPerseError, foreignMessage, fromInfo, nativeError, nativeSync } = require('./errors.js')
const native = require('./native.js')
const { completer } = require('./decode.js')
const { Pending } = require('./pending.js')
const { inert } = require('./inputs.js')
const { observing, traceCall } = require('./observe.js')

/** What `call` queues its flush on (captured: a patched Promise.prototype.then is not our business). */
const SETTLED = Promise.resolve()
const then = Promise.prototype.then

/**
 * The calls, from perse-core's `CALLS` (through the binding's `calls()`), by method name:
 * `codes` the number `NativeClient.start` takes (`{ login: 0, detect: 1, ... }`), `specs` the
 * operation and HTTP method lib/observe.js traces each with.
 */
let table = null
function callTable(calls) {
  if (!table) {
    const list = calls()
    table = { codes: Object.fromEntries(list.map((c, i) => [c.name, i])), specs: Object.fromEntries(list.map((c) => [c.name, { operation: c.operation, method: c.method }])) }
  }
  return table
}

class Transport {
  /** The NativeClient: setters and getters are called on it directly. */
  native
  /** The client's `logger` option (an object with `debug`), or null: see lib/observe.js. */
  logger = null
  #pending = new Pending()
  #flushQueued = false
  #codes
  #specs

  constructor() {
    const { NativeClient, calls } = native() // a loader error (no binary for this platform) propagates as it is
    ;({ codes: this.#codes, specs: this.#specs } = callTable(calls))
    // The callback must not hold the native client: the native client holds the callback, and
    // the cycle would keep both alive. The waker holds the queue weakly.
    const holder = { waker: null }
    this.native = nativeSync(() => new NativeClient(completer(this.#pending, holder)))
    holder.waker = this.native.waker()
  }

  // @hot
  /**
   * Closes the native client (which releases its threadsafe function: no handle outlives the
   * client) and rejects every call still in flight with `client_closed`.
   */
  close() {
    this.native.close()
    this.#pending.rejectAll(fail('client_closed', 'the client is closed'))
  }

  /**
   * Starts the native call `method` (`detect`, `compare`, ...: perse-core's `CALLS` in
   * crates/perse-core/src/endpoints.rs gives its arguments); the promise settles when the
   * outcome arrives. `o` is what lib/args.js callOptions() returned. Never throws.
   */
  // @hot
  call(method, args, o) {
    if (observing(this.logger)) return this.#traced(method, args, o)
    if (!o.signal) return this.#start(method, args, o.consent, o.native, null, false)
    return this.#callWithSignal(method, args, o, false)
  }

  /**
   * An observed call (lib/observe.js): started with `trace` on, so that its outcome carries
   * its attempts, and with the headers the tracing subscribers added (W3C `traceparent`)
   * under the caller's own `headers`, which win.
   */
  #traced(method, args, o) {
    return traceCall(this.#specs[method], this.native.baseUrl, this.logger, (extra) => {
      let nativeOpts = o.native
      if (Object.keys(extra).length > 0) nativeOpts = { ...nativeOpts, headers: { ...headersOf(extra), ...nativeOpts?.headers } }
      if (!o.signal) return this.#start(method, args, o.consent, nativeOpts, null, true)
      return this.#callWithSignal(method, args, { ...o, native: nativeOpts }, true)
    })
  }

  /**
   * A call with the caller's AbortSignal, or an object that looks like one: its getter and
   * methods may throw (an invalid argument), and the listener installed on it never throws.
   */
  async #callWithSignal(method, args, { consent, native: nativeOpts, signal }, trace) {
    const abort = new (native().NativeAbort)()
    const onAbort = () => {
      try {
        abort.abort()
      } catch {
        // the native abort catches its panics; nothing may throw into the caller's dispatch
      }
    }
    try {
      if (signal.aborted === true) throw fail('aborted', 'the call was aborted before it started')
      inert(signal.addEventListener('abort', onAbort, { once: true }))
    } catch (e) {
      throw isPerseError(e) ? e : invalid(`options.signal cannot be used: ${foreignMessage(e)}`, e)
    }
    try {
      return await this.#start(method, args, consent, nativeOpts, abort, trace)
    } finally {
      try {
        inert(signal.removeEventListener('abort', onAbort))
      } catch {
        // a throwing removeEventListener leaves a listener that only aborts a finished call
      }
    }
  }

  /**
   * Queues the native call; its outcome arrives through the completion callback. Calls
   * queued in the same tick are handed to the runtime together, by one flush() at the end of
   * the tick: one wake-up of the native runtime per tick instead of one per call.
   */
  // @hot: __test__/jit.spec.js checks that full GCs do not deoptimize this.
  #start(method, args, consent, nativeOpts, abort, trace) {
    const pending = this.#pending
    const id = pending.reserve()
    let refused
    try {
      refused = this.native.start(id, this.#codes[method], consent, trace, nativeOpts, abort, ...args)
    } catch (e) {
      pending.release(id)
      return Promise.reject(nativeError(e))
    }
    if (refused) {
      pending.release(id)
      return Promise.reject(fromInfo(refused))
    }
    // The outcome cannot arrive before this: it is delivered in a later callback on this thread.
    const promise = pending.promise(id)
    if (!this.#flushQueued) {
      this.#flushQueued = true
      // A reaction on a settled promise, not queueMicrotask: Node's queueMicrotask makes an
      // AsyncResource and a bound function per call, and its optimized code was thrown away
      // at every full GC.
      then.call(SETTLED, this.#flush)
    }
    return promise
  }

  // @hot
  #flush = () => {
    this.#flushQueued = false
    this.native.flush()
  }
}

/** A subscriber's headers as strings (a non-string value is refused with the others by the native check). */
function headersOf(extra) {
  const out = {}
  for (const k of Object.keys(extra)) out[k] = String(extra[k])
  return out
}

module.exports = { Transport }
