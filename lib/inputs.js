'use strict'

// Image inputs that must be read before a call can start: a Blob or File (what
// `request.formData()` gives in Next.js, Nuxt/h3, Remix, Hono and undici), a fetch Response,
// a web ReadableStream and a Node Readable. They are read within the call's byte budget
// (never buffering more than budget + one chunk) and before its deadline, and honour its
// AbortSignal and the client's close(). Which of these an argument is, lib/images.js
// (`readKind`) says.
//
// Every object here is the caller's, and treated as hostile: each property read and method
// call is guarded, a missing `destroy` or `cancel` is tolerated, nothing the caller's code
// throws (synchronously or later) escapes as anything but a PerseError, and the listeners and
// timer installed here never throw into the event loop.

const { types } = require('node:util')
const { fail, invalid, describe, isPerseError, foreignMessage } = require('./errors.js')

/** What stops a read, as a PerseError for the input `name`. */
const STOPPED = {
  timeout: (name, ms) => fail('timeout', `reading ${name} took longer than ${ms} ms`),
  aborted: () => fail('aborted', 'the call was aborted'),
  closed: () => fail('client_closed', 'the client was closed while the call was reading its image'),
}

/**
 * Why the reads of one call must stop, once: the deadline, the caller's AbortSignal, the
 * client's close(), or another input of the same call failing (its error). Listeners are
 * plain functions run in a try: a caller's object cannot make them throw.
 */
class Stop {
  reason = null
  #listeners = new Set()

  fire(reason) {
    if (this.reason !== null) return
    this.reason = reason
    for (const f of this.#listeners) {
      try {
        f(reason)
      } catch {
        // a listener only cancels a caller's source; its failure changes nothing
      }
    }
    this.#listeners.clear()
  }

  /** Runs `f(reason)` when the stop fires; returns the function that unsubscribes. */
  on(f) {
    this.#listeners.add(f)
    return () => this.#listeners.delete(f)
  }
}

/**
 * The bytes of each input of one call, as Buffers (inputs with no `kinds[i]` are returned as
 * they are). `budget` is the most bytes an input may have, `timeoutMs` the deadline for all,
 * `signal` the caller's AbortSignal (or an object like one), `closers` the client's Set of
 * functions that close() runs. One input failing cancels the others' reads.
 */
async function readImages(values, kinds, names, { budget, timeoutMs, signal, closers }) {
  const stop = new Stop()
  // A ref'd timer, not AbortSignal.timeout() (whose timer is unref'd): while a call reads a
  // stream that has stalled, the process stays alive until the deadline rejects the call, as
  // for any call in flight. With the unref'd timer, a process with nothing else to do exited
  // with the call's promise never settled.
  const timer = setTimeout(() => stop.fire('timeout'), timeoutMs)
  const onClose = () => stop.fire('closed')
  closers?.add(onClose)
  const unlisten = listen(signal, () => stop.fire('aborted'))
  try {
    if (signal !== undefined && aborted(signal)) stop.fire('aborted')
    const why = (name) => (reason) => (typeof reason === 'string' ? STOPPED[reason](name, timeoutMs) : reason)
    // Only the SDK's own promises go through Promise.all: a caller's value there (the other
    // side of a compare) would be adopted if it had a `then`, and could hang the call.
    const read = await Promise.all(
      values.map((v, i) => {
        if (!kinds[i]) return undefined
        return readOne(v, kinds[i], names[i], budget, stop, why(names[i])).catch((e) => {
          const err = isPerseError(e) ? e : invalid(`${names[i]} could not be read: ${foreignMessage(e)}`, e)
          stop.fire(err) // cancels the other input of a compare
          throw err
        })
      }),
    )
    return values.map((v, i) => (kinds[i] ? read[i] : v))
  } finally {
    clearTimeout(timer)
    closers?.delete(onClose)
    unlisten()
  }
}

/** The caller's `signal.aborted`; a throwing getter is an invalid argument. */
function aborted(signal) {
  try {
    return signal.aborted === true
  } catch (e) {
    throw invalid(`options.signal cannot be read: ${foreignMessage(e)}`, e)
  }
}

/** Subscribes `f` to the caller's signal, if any; returns the guarded unsubscribe. */
function listen(signal, f) {
  if (signal === undefined || signal === null) return () => {}
  try {
    inert(signal.addEventListener('abort', f, { once: true }))
  } catch (e) {
    throw invalid(`options.signal cannot be listened to: ${foreignMessage(e)}`, e)
  }
  return () => {
    try {
      inert(signal.removeEventListener('abort', f))
    } catch {
      // the caller's removeEventListener threw: the listener only fires a finished stop
    }
  }
}

/**
 * `thunk()` (a caller's method call) as a promise of `[value]`, rejected with `why(reason)` as
 * soon as `stop` fires. A synchronous throw becomes a rejection; a promise that is left behind
 * keeps a handler, so its later rejection is never unhandled. The value comes boxed: handing a
 * caller's object to a native `resolve` would let the engine adopt it as a thenable (see
 * `adopt`), reading its `then` again.
 */
function race(thunk, stop, why) {
  return new Promise((resolve, reject) => {
    if (stop.reason !== null) return reject(why(stop.reason))
    const off = stop.on((r) => reject(why(r)))
    let r
    try {
      r = thunk()
    } catch (e) {
      off()
      return reject(e)
    }
    adopt(
      r,
      (v) => (off(), resolve([v])),
      (e) => (off(), reject(e)),
    )
  })
}

/** The intrinsic `then`: a caller's promise may carry a `then` of its own. */
const promiseThen = Promise.prototype.then

/** How many thenables in a row `adopt` follows before it gives up on the value. */
const MAX_THENABLE_DEPTH = 32

/**
 * The Promise resolution procedure, done by hand for a caller's value: follows a native
 * promise or a thenable (each `then` read once, called at most once, its own return value made
 * inert) and calls `resolve` with the first value that is not one, or `reject`. Unlike
 * `Promise.resolve`, nothing the caller's `then` returns can become an unhandled rejection.
 */
function adopt(v, resolve, reject, depth = 0) {
  if (types.isPromise(v)) return void promiseThen.call(v, resolve, reject)
  if (v === null || (typeof v !== 'object' && typeof v !== 'function')) return resolve(v)
  let then
  try {
    then = v.then
  } catch (e) {
    return reject(e)
  }
  if (typeof then !== 'function') return resolve(v)
  if (depth >= MAX_THENABLE_DEPTH) return reject(new TypeError('a thenable that resolves to thenables without end'))
  let settled = false
  const once = (f) => (x) => {
    if (!settled) {
      settled = true
      f(x)
    }
  }
  try {
    inert(then.call(v, once((x) => adopt(x, resolve, reject, depth + 1)), once(reject)))
  } catch (e) {
    once(reject)(e)
  }
}

/** Settles nothing: the handlers for a caller's promise whose outcome no longer matters. */
const ignore = () => {}

/**
 * Lets the event loop turn. A source whose reads settle at once (a look-alike iterator that
 * yields empty chunks forever) would otherwise keep the reading loop in the microtask queue,
 * and no timer, the deadline's included, could fire.
 */
const turn = () => new Promise((resolve) => setImmediate(resolve))

/** Reads between two turns of the event loop. */
const READS_PER_TURN = 64

/**
 * `r`, a value a caller's method returned where no promise belongs (`headers.get()`,
 * `getReader()`): if it is a thenable anyway, its rejection is handled here, so that it
 * cannot surface as an unhandled rejection once the SDK has refused it.
 */
function inert(r) {
  if (types.isPromise(r)) promiseThen.call(r, undefined, ignore)
  else if (r !== null && (typeof r === 'object' || typeof r === 'function')) {
    try {
      if (typeof r.then === 'function') adopt(r, ignore, ignore)
    } catch {
      // a throwing `then` getter: not a thenable the SDK will use
    }
  }
  return r
}

/** Calls the caller's `obj[method](...args)` for cleanup, if it has one; whatever it throws or rejects is dropped. */
function quietly(obj, method, ...args) {
  try {
    if (typeof obj?.[method] !== 'function') return
    inert(obj[method](...args))
  } catch {
    // cleanup of a caller's object: nothing to report
  }
}

const tooLarge = (name, size, budget) =>
  fail('file_too_large', `${name} is ${size === undefined ? `more than ${budget}` : size} bytes, over the ${budget}-byte limit (maxUploadBytes for prepare: 'validate', maxInputBytes otherwise)`)

function readOne(v, kind, name, budget, stop, why) {
  switch (kind) {
    case 'blob':
      return readBlob(v, name, budget, stop, why)
    case 'response':
      return readResponse(v, name, budget, stop, why)
    case 'web':
      return readWeb(v, name, budget, stop, why, 'invalid_argument')
    default:
      return readNode(v, name, budget, stop, why)
  }
}

async function readBlob(v, name, budget, stop, why) {
  const size = v.size
  if (size > budget) throw tooLarge(name, size, budget)
  let ab
  try {
    ;[ab] = await race(() => v.arrayBuffer(), stop, why)
  } catch (e) {
    if (isPerseError(e)) throw e
    // fs.openAsBlob's Blob rejects (NotReadableError) when its file changed after it was opened.
    throw invalid(`${name} (a Blob) could not be read: ${foreignMessage(e)}`, e)
  }
  if (!types.isAnyArrayBuffer(ab)) throw invalid(`${name}.arrayBuffer() must resolve to an ArrayBuffer (got ${describe(ab)})`)
  if (ab.byteLength > budget) throw tooLarge(name, ab.byteLength, budget)
  return Buffer.from(ab)
}

async function readResponse(v, name, budget, stop, why) {
  if (v.bodyUsed) throw invalid(`${name} is a Response whose body was already read`)
  if (!v.ok) throw invalid(`${name} is a Response with HTTP status ${v.status}: fetch the image successfully first`)
  const length = Number(inert(v.headers.get('content-length')))
  if (length > budget) throw tooLarge(name, length, budget)
  const body = v.body
  if (body === null || body === undefined) return Buffer.alloc(0)
  // The body failing mid-read is the caller's connection failing (undici's "terminated").
  return readWeb(body, name, budget, stop, why, 'network_error')
}

/** A web ReadableStream (or an object with `getReader()`); a failure of its source is `failure`. */
async function readWeb(stream, name, budget, stop, why, failure) {
  const reader = inert(stream.getReader())
  if (reader === null || typeof reader !== 'object' || typeof reader.read !== 'function') {
    throw invalid(`${name}.getReader() must return a stream reader (got ${describe(reader)})`)
  }
  const chunks = []
  let size = 0
  try {
    for (let reads = 1; ; reads++) {
      if (reads % READS_PER_TURN === 0) await turn()
      const [r] = await race(() => reader.read(), stop, why)
      if (r === null || typeof r !== 'object') throw invalid(`the reader of ${name} must give { done, value } (got ${describe(r)})`)
      if (r.done) break
      size += chunk(r.value, chunks)
      if (size > budget) throw tooLarge(name, undefined, budget)
    }
  } catch (e) {
    quietly(reader, 'cancel')
    if (isPerseError(e)) throw e
    throw fail(failure, `reading ${name} failed: ${foreignMessage(e)}`, { cause: e })
  }
  return Buffer.concat(chunks, size)
}

/**
 * A Node Readable (or an object with `pipe`, `on` and an async iterator). Each `next()` races
 * the stop, so a source that stalls, or that has no `destroy` to be stopped with, cannot hold
 * the call; a real Readable is destroyed (without an error, which nobody might listen to).
 */
async function readNode(stream, name, budget, stop, why) {
  const it = inert(stream[Symbol.asyncIterator]())
  if (it === null || typeof it !== 'object' || typeof it.next !== 'function') {
    throw invalid(`${name}[Symbol.asyncIterator]() must return an iterator (got ${describe(it)})`)
  }
  const chunks = []
  let size = 0
  const off = stop.on(() => quietly(stream, 'destroy'))
  try {
    for (let reads = 1; ; reads++) {
      if (reads % READS_PER_TURN === 0) await turn()
      const [r] = await race(() => it.next(), stop, why)
      if (r === null || typeof r !== 'object') throw invalid(`the iterator of ${name} must give { done, value } (got ${describe(r)})`)
      if (r.done) break
      const value = r.value
      size += chunk(typeof value === 'string' ? Buffer.from(value) : value, chunks)
      if (size > budget) throw tooLarge(name, undefined, budget)
    }
  } catch (e) {
    quietly(stream, 'destroy')
    quietly(it, 'return')
    if (isPerseError(e)) throw e
    throw invalid(`the image stream failed: ${foreignMessage(e)}`, e)
  } finally {
    off()
  }
  return Buffer.concat(chunks, size)
}

/** Adds a chunk a stream gave (a copy: the caller may reuse its buffer); returns its length. */
function chunk(value, chunks) {
  if (!ArrayBuffer.isView(value) || !(value instanceof Uint8Array)) throw invalid(`the image stream must yield bytes (got ${describe(value)})`)
  const copy = Buffer.from(value)
  chunks.push(copy)
  return copy.length
}

module.exports = { readImages, inert }
