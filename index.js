'use strict'

// The public entry of perse-node: a small facade over the generated `binding.js`.
// It owns PerseError (napi-rs async rejections cannot carry a custom `code`, so the native
// side resolves a typed outcome and this file throws it), JS type checks that name the
// offending parameter, AbortSignal wiring, and the module-level default client. There is no
// native global state: every PerseClient, including the default one, owns its native client.

const { inspect, types } = require('node:util')
const { fileURLToPath } = require('node:url')

const { PerseError, isPerseError, fail, invalid, describe, nativeSync, nativeError } = require('./lib/errors.js')
const native = require('./lib/native.js')
const { startLocalServer } = require('./lib/local-server.js')
const { completer } = require('./lib/decode.js')
const { Pending } = require('./lib/pending.js')

// ---- argument normalisation -------------------------------------------------------------

const MAX_PATH = 4096
/** What #start queues its flush on (captured: a patched Promise.prototype.then is not our business). */
const SETTLED = Promise.resolve()
const then = Promise.prototype.then

/** An image as the two positional native arguments `data, path`. */
function imageArgs(value, name) {
  const a = toImageArg(value, name)
  return [a.data ?? null, a.path ?? null]
}

const { isProxy, isAnyArrayBuffer, isSharedArrayBuffer, isArrayBufferView } = types
const U8 = Uint8Array

/**
 * An image as `{ data }` (the caller's view or ArrayBuffer itself: the native side copies its
 * bytes while the call starts, see src/image_arg.rs) or `{ path }`. No user code runs between
 * this check and that copy.
 */
function toImageArg(value, name) {
  if (isProxy(value)) throw invalid(`${name} is a Proxy; pass the Buffer, typed array or ArrayBuffer itself`)
  if (isArrayBufferView(value)) {
    if (value.byteLength === 0) checkAttached(value.buffer, name)
    return { data: value }
  }
  if (isAnyArrayBuffer(value)) {
    if (value.byteLength === 0) checkAttached(value, name)
    return { data: isSharedArrayBuffer(value) ? new U8(value) : value }
  }
  if (value instanceof URL || (value != null && typeof value === 'object' && value.href && value.protocol === 'file:')) {
    try {
      return { path: fileURLToPath(value) }
    } catch (e) {
      throw invalid(`${name} is not a usable file URL: ${e.message}`)
    }
  }
  if (typeof value === 'string') {
    if (value.length === 0) throw invalid(`${name} must not be an empty path`)
    if (value.length > MAX_PATH) throw invalid(`${name} is not a usable file path (longer than ${MAX_PATH} characters)`)
    if (value.includes('\0')) throw invalid(`${name} is not a usable file path (it contains a NUL character)`)
    return { path: value }
  }
  throw invalid(`${name} must be a Buffer, Uint8Array, ArrayBuffer or file path string (got ${describe(value)})`)
}

/** An empty buffer that was transferred away reads as empty; say what happened instead. */
function checkAttached(buffer, name) {
  try {
    new U8(buffer)
  } catch {
    throw invalid(`${name} was detached (transferred to a worker or structuredClone) before the call could read it`)
  }
}

/** One side of a compare as the three positional native arguments `data, path, userToken`. */
function compareArgs(value, name) {
  if (value != null && typeof value === 'object' && !isProxy(value) && !isArrayBufferView(value) && 'userToken' in value) {
    return [null, null, userTokenArg(value.userToken, `${name}.userToken`)]
  }
  const a = toImageArg(value, name)
  return [a.data ?? null, a.path ?? null, null]
}

function userTokenArg(value, name) {
  if (typeof value !== 'string' || value.trim() === '') throw invalid(`${name} must be a non-empty string (got ${describe(value)})`)
  if (value.length > MAX_PATH) throw invalid(`${name} is too long to be a user token`)
  return value
}

/** Numeric options are checked here for their type only: their ranges live in src/options.rs. */
function checkNumber(opts, key, { where }) {
  const v = opts[key]
  if (v !== undefined && typeof v !== 'number') throw invalid(`${where}.${key} must be a number (got ${describe(v)})`)
}

function isAbortSignal(s) {
  return s != null && typeof s === 'object' && typeof s.aborted === 'boolean' && typeof s.addEventListener === 'function'
}

const CALL_OPTION_KEYS = new Set(['enduserConsent', 'timeoutMs', 'maxRetries', 'signal', 'prepare'])

/** Checks per-call options. Reads each property once, before any image is looked at. */
function callOptions(opts) {
  if (opts === undefined || opts === null) return { consent: false, native: null, signal: undefined }
  if (typeof opts !== 'object' || Array.isArray(opts)) throw invalid(`options must be an object (got ${describe(opts)})`)
  for (const key of Object.keys(opts)) {
    if (!CALL_OPTION_KEYS.has(key)) throw invalid(`unknown option '${key}'`)
  }
  const { enduserConsent, timeoutMs, maxRetries, signal, prepare } = opts
  if (enduserConsent !== undefined && typeof enduserConsent !== 'boolean') {
    throw invalid(`options.enduserConsent must be a boolean (got ${describe(enduserConsent)})`)
  }
  const snapshot = { timeoutMs, maxRetries, prepare }
  checkNumber(snapshot, 'timeoutMs', { where: 'options' })
  checkNumber(snapshot, 'maxRetries', { where: 'options' })
  if (signal !== undefined && !isAbortSignal(signal)) throw invalid(`options.signal must be an AbortSignal (got ${describe(signal)})`)
  checkPrepare(snapshot, 'options')
  // Consent travels as its own argument and the rest only when set: every property the
  // native side reads costs a key lookup on the JS thread.
  const rest = timeoutMs === undefined && maxRetries === undefined && prepare === undefined ? null : snapshot
  return { consent: enduserConsent === true, native: rest, signal }
}

/** Any failure as a PerseError: a caller's getter or Proxy that throws is an invalid argument. */
function asPerseError(e) {
  if (isPerseError(e)) return e
  return fail('invalid_argument', `an argument could not be read: ${e instanceof Error ? e.message : String(e)}`, { cause: e })
}

const CLIENT_OPTION_KEYS = new Set([
  'baseUrl',
  'token',
  'timeoutMs',
  'userAgent',
  'maxRetries',
  'retryBaseDelayMs',
  'retryMaxDelayMs',
  'privateKey',
  'refreshSkewSeconds',
  'maxUploadBytes',
  'maxInputBytes',
  'maxPixels',
  'maxResponseBytes',
  'prepare',
  'onTokenRefresh',
])

function checkPrepare(opts, where) {
  const p = opts.prepare
  if (p !== undefined && p !== 'validate' && p !== 'fit') throw invalid(`${where}.prepare must be 'validate' or 'fit' (got ${describe(p)})`)
}

function clientOptions(opts) {
  if (opts === undefined || opts === null) return {}
  if (typeof opts !== 'object' || Array.isArray(opts)) throw invalid(`options must be an object (got ${describe(opts)})`)
  for (const key of Object.keys(opts)) {
    if (!CLIENT_OPTION_KEYS.has(key)) throw invalid(`unknown client option '${key}'`)
  }
  for (const key of ['baseUrl', 'token', 'userAgent', 'privateKey']) {
    if (opts[key] !== undefined && typeof opts[key] !== 'string') throw invalid(`options.${key} must be a string (got ${describe(opts[key])})`)
  }
  for (const key of ['token', 'privateKey']) {
    if (opts[key] === '') throw invalid(`options.${key} must not be empty (leave it out instead)`)
  }
  for (const key of ['timeoutMs', 'maxRetries', 'retryBaseDelayMs', 'retryMaxDelayMs', 'refreshSkewSeconds', 'maxUploadBytes', 'maxInputBytes', 'maxPixels', 'maxResponseBytes']) {
    checkNumber(opts, key, { where: 'options' })
  }
  checkPrepare(opts, 'options')
  if (opts.onTokenRefresh !== undefined && opts.onTokenRefresh !== null && typeof opts.onTokenRefresh !== 'function') {
    throw invalid(`options.onTokenRefresh must be a function (got ${describe(opts.onTokenRefresh)})`)
  }
  const { onTokenRefresh: _callback, ...rest } = opts
  return rest
}

// ---- the client -------------------------------------------------------------------------

function unbound() {
  return invalid('PerseClient method called without a PerseClient as `this` (use client.method(...) or a method taken from an instance)')
}

function closedError() {
  return fail('client_closed', 'the client is closed')
}

/** Throws the ErrorInfo a native setter or call start returned, if any. */
function check(refused) {
  if (refused) throw new PerseError(refused)
}

const METHODS = ['setToken', 'login', 'onTokenRefresh', 'configure', 'detect', 'compare', 'enroll', 'isSimilar', 'quality', 'qualityWithSpoofCheck', 'close']

/** A Perse API client. Methods are bound, so `const { detect } = client` works. */
class PerseClient {
  #native
  /** Calls in flight, settled by lib/decode.js's completer. */
  #pending = new Pending()
  #flushQueued = false

  constructor(options) {
    let opts
    try {
      opts = clientOptions(options)
    } catch (e) {
      throw asPerseError(e)
    }
    if (opts.baseUrl === undefined && process.env.PERSE_BASE_URL) opts.baseUrl = process.env.PERSE_BASE_URL
    const { NativeClient } = native() // a loader error (no binary for this platform) propagates as it is
    // The callback must not hold `this` or the native client: the native client holds the
    // callback, and the cycle would keep both alive. The waker holds the queue weakly.
    const pending = this.#pending
    const holder = { waker: null }
    this.#native = nativeSync(() => new NativeClient(completer(pending, holder)))
    holder.waker = this.#native.waker()
    check(nativeSync(() => this.#native.configure(opts)))
    if (options && options.onTokenRefresh) this.onTokenRefresh(options.onTokenRefresh)
    for (const m of METHODS) Object.defineProperty(this, m, { value: this[m].bind(this), enumerable: false })
    const enrollment = {
      create: (image, o) => this.enroll(image, o),
      list: (o) => this.#run(() => ['list', [], o]),
      update: (userToken, image, o) => this.#run(() => ['update', [userTokenArg(userToken, 'userToken')], o, image]),
      delete: (userToken, o) => this.#run(() => ['delete', [userTokenArg(userToken, 'userToken')], o]),
    }
    enrollment.read = enrollment.list
    Object.defineProperty(this, 'enrollment', { value: Object.freeze(enrollment), enumerable: false })
  }

  /** Whether `o` is a real PerseClient (methods called with another `this` reject cleanly). */
  static #owns(o) {
    return o !== null && typeof o === 'object' && #native in o
  }

  /** Stores the session token (JWT) used by later calls; `null` clears it. */
  async setToken(jwt) {
    if (!PerseClient.#owns(this)) return Promise.reject(unbound())
    if (jwt !== null && (typeof jwt !== 'string' || jwt.length === 0)) throw invalid(`token must be a non-empty string or null (got ${describe(jwt)})`)
    check(nativeSync(() => this.#native.setToken(jwt)))
  }

  /** Exchanges a private key for a session token, stores it and resolves with it. */
  async login(privateKey, options) {
    if (!PerseClient.#owns(this)) return Promise.reject(unbound())
    if (this.closed) throw closedError()
    if (typeof privateKey !== 'string' || privateKey.length === 0) throw invalid(`privateKey must be a non-empty string (got ${describe(privateKey)})`)
    const r = await this.#run(() => ['login', [privateKey], options])
    return r.token
  }

  /** Registers the callback asked for a new JWT whenever one is needed (`null` removes it). */
  onTokenRefresh(callback) {
    if (callback !== null && typeof callback !== 'function') throw invalid(`onTokenRefresh callback must be a function or null (got ${describe(callback)})`)
    if (this.closed) throw closedError()
    check(nativeSync(() => this.#native.setTokenRefresh(callback ? wrapRefresh(callback) : null)))
  }

  /** Changes options for later calls. */
  configure(options) {
    let opts
    try {
      opts = clientOptions(options)
    } catch (e) {
      throw asPerseError(e)
    }
    if (this.closed) throw closedError()
    check(nativeSync(() => this.#native.configure(opts)))
    if (options && 'onTokenRefresh' in options) this.onTokenRefresh(options.onTokenRefresh ?? null)
  }

  detect(image, options) {
    if (!PerseClient.#owns(this)) return Promise.reject(unbound())
    return this.#run(() => ['detect', [], options, image])
  }

  compare(a, b, options) {
    if (!PerseClient.#owns(this)) return Promise.reject(unbound())
    return this.#run(() => ['compare', [], options, a, b])
  }

  enroll(image, options) {
    if (!PerseClient.#owns(this)) return Promise.reject(unbound())
    return this.#run(() => ['enroll', [], options, image])
  }

  /** compare, then the browser SDK's verdict: code `similar` or `not_similar`. */
  async isSimilar(a, b, options) {
    if (!PerseClient.#owns(this)) return Promise.reject(unbound())
    const r = await this.compare(a, b, options)
    const similar = r.similarity >= r.defaultThresholds.similarity
    return {
      ...r,
      status: similar,
      code: similar ? 'similar' : 'not_similar',
      message: similar ? 'The faces are similar' : 'The faces are not similar enough',
    }
  }

  /** detect, then per-face exposure and blur flags; code `success`, `bad_image_quality` or `no_face_detected`. */
  quality(image, options) {
    if (!PerseClient.#owns(this)) return Promise.reject(unbound())
    return this.#quality(image, options, false)
  }

  /** As `quality`, plus `isSpoofing` on faces whose liveness score is below the threshold. */
  qualityWithSpoofCheck(image, options) {
    if (!PerseClient.#owns(this)) return Promise.reject(unbound())
    return this.#quality(image, options, true)
  }

  /** Rejects pending and later calls with `client_closed`, forgets every secret and releases the refresh callback. */
  close() {
    this.#native.close()
  }

  get closed() {
    return this.#native.closed
  }

  get baseUrl() {
    return this.#native.baseUrl
  }

  toJSON() {
    return { baseUrl: this.baseUrl, hasToken: this.#native.hasToken(), closed: this.closed }
  }

  toString() {
    return `PerseClient(${this.baseUrl})`
  }

  [inspect.custom](depth, opts, inspectFn = inspect) {
    return `PerseClient ${inspectFn(this.toJSON(), opts)}`
  }

  async #quality(image, options, spoofCheck) {
    let d
    try {
      d = await this.detect(image, options)
    } catch (e) {
      if (isPerseError(e) && e.code === 'no_face_detected') {
        return { status: false, code: 'no_face_detected', message: e.message, totalFaces: 0, detailedFaces: [] }
      }
      throw e
    }
    return qualityVerdict(d, spoofCheck)
  }

  /**
   * Checks the options, then the images (in that order: an options getter may detach a
   * buffer, and the images are read last), and starts the call. Never throws: failures are
   * rejections, always PerseErrors.
   */
  #run(build) {
    try {
      const [method, lead, options, ...images] = build()
      const o = callOptions(options)
      const args = [...lead]
      if (method === 'compare') args.push(...compareArgs(images[0], 'a'), ...compareArgs(images[1], 'b'))
      else if (images.length > 0) args.push(...imageArgs(images[0], 'image'))
      // The common case goes straight to #start: no async wrapper, no extra promise to settle.
      if (!o.signal) return this.#start(method, args, o.consent, o.native, null)
      return this.#callWithSignal(method, args, o)
    } catch (e) {
      return Promise.reject(asPerseError(e))
    }
  }

  async #callWithSignal(method, args, { consent, native: nativeOpts, signal }) {
    if (signal.aborted) throw fail('aborted', 'the call was aborted before it started')
    const abort = new (native().NativeAbort)()
    const onAbort = () => abort.abort()
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      return await this.#start(method, args, consent, nativeOpts, abort)
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  /**
   * Queues the native call; its outcome arrives through the completion callback. Calls
   * queued in the same tick are handed to the runtime together, by one flush() at the end of
   * the tick: one wake-up of the native runtime per tick instead of one per call.
   */
  #start(method, args, consent, nativeOpts, abort) {
    const pending = this.#pending
    const id = pending.reserve()
    let refused
    try {
      refused = this.#native[method](id, ...args, consent, nativeOpts, abort)
    } catch (e) {
      pending.release(id)
      return Promise.reject(nativeError(e))
    }
    if (refused) {
      pending.release(id)
      return Promise.reject(new PerseError(refused))
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

  #flush = () => {
    this.#flushQueued = false
    this.#native.flush()
  }
}

/** The browser SDK's quality verdict over a detect result. */
function qualityVerdict(d, spoofCheck) {
  const t = d.defaultThresholds
  if (d.totalFaces === 0 || d.faces.length === 0) {
    return { status: false, code: 'no_face_detected', message: 'No face was detected', totalFaces: 0, detailedFaces: [], imageMetrics: d.imageMetrics, timeTaken: d.timeTaken, defaultThresholds: t }
  }
  let bad = false
  const detailedFaces = d.faces.map((f) => {
    const m = f.faceMetrics
    const flags = {
      isUnderexposed: m.underexposure > t.underexposure,
      isOverexposed: m.overexposure > t.overexposure,
      isBlurred: m.sharpness < t.sharpness,
    }
    const clear = !flags.isUnderexposed && !flags.isOverexposed && !flags.isBlurred
    if (spoofCheck) flags.isSpoofing = clear && f.livenessScore < t.liveness
    if (!clear || flags.isSpoofing) bad = true
    return { ...f, ...flags }
  })
  return {
    status: !bad,
    code: bad ? 'bad_image_quality' : 'success',
    message: bad ? 'At least one face fails the quality thresholds' : 'Image quality is good',
    totalFaces: d.totalFaces,
    detailedFaces,
    imageMetrics: d.imageMetrics,
    timeTaken: d.timeTaken,
    defaultThresholds: t,
  }
}

/** Adapts the user's callback so the native side always receives `{token}` or `{error}`. */
function wrapRefresh(callback) {
  return () => {
    let p
    try {
      p = Promise.resolve(callback())
    } catch (e) {
      return Promise.resolve({ error: errorText(e) })
    }
    return p.then(
      (t) => (typeof t === 'string' && t.length > 0 ? { token: t } : { error: `onTokenRefresh must resolve to a non-empty string (got ${describe(t)})` }),
      (e) => ({ error: errorText(e) }),
    )
  }
}

function errorText(e) {
  if (e instanceof Error || (e && typeof e.message === 'string')) return e.message || e.name || 'Error'
  return `onTokenRefresh failed: ${String(e)}`
}

// ---- the module-level default client (browser SDK style) -------------------------------

let defaultClient = null

function getDefaultClient() {
  if (defaultClient === null) {
    const env = process.env
    defaultClient = new PerseClient({ privateKey: env.PERSE_PRIVATE_KEY || undefined })
  }
  return defaultClient
}

function viaDefault(fn) {
  return (...args) => {
    let c
    try {
      c = getDefaultClient()
    } catch (e) {
      return Promise.reject(e)
    }
    return fn(c, ...args)
  }
}

const enrollment = Object.freeze({
  create: viaDefault((c, image, o) => c.enrollment.create(image, o)),
  read: viaDefault((c, o) => c.enrollment.read(o)),
  list: viaDefault((c, o) => c.enrollment.list(o)),
  update: viaDefault((c, userToken, image, o) => c.enrollment.update(userToken, image, o)),
  delete: viaDefault((c, userToken, o) => c.enrollment.delete(userToken, o)),
})

const setToken = viaDefault((c, jwt) => c.setToken(jwt))
const login = viaDefault((c, key, o) => c.login(key, o))
const detect = viaDefault((c, image, o) => c.detect(image, o))
const compare = viaDefault((c, a, b, o) => c.compare(a, b, o))
const enroll = viaDefault((c, image, o) => c.enroll(image, o))
const isSimilar = viaDefault((c, a, b, o) => c.isSimilar(a, b, o))
const quality = viaDefault((c, image, o) => c.quality(image, o))
const qualityWithSpoofCheck = viaDefault((c, image, o) => c.qualityWithSpoofCheck(image, o))

/** Sets options on the default client (created on first use from PERSE_BASE_URL / PERSE_PRIVATE_KEY). */
function configure(options) {
  getDefaultClient().configure(options)
}

/** Registers the default client's token refresh callback. */
function onTokenRefresh(callback) {
  getDefaultClient().onTokenRefresh(callback)
}

/** Closes the default client; the next module-level call creates a fresh one. */
function close() {
  if (defaultClient !== null) {
    defaultClient.close()
    defaultClient = null
  }
}

/**
 * What an upload would send for `image`: `{ data, width, height, format, resized, orientationApplied }`.
 * Options: `prepare` ('validate' default, or 'fit'), `maxUploadBytes`, `maxPixels`, `maxDimension`, `quality`.
 */
async function prepareImage(image, options) {
  let args
  try {
    const o = options === undefined || options === null ? {} : options
    if (typeof o !== 'object' || Array.isArray(o)) throw invalid(`options must be an object (got ${describe(o)})`)
    const keys = ['prepare', 'maxUploadBytes', 'maxInputBytes', 'maxPixels', 'maxDimension', 'quality']
    for (const key of Object.keys(o)) {
      if (!keys.includes(key)) throw invalid(`unknown prepareImage option '${key}'`)
    }
    const snapshot = {}
    for (const key of keys) if (o[key] !== undefined) snapshot[key] = o[key]
    checkPrepare(snapshot, 'options')
    for (const key of keys.slice(1)) checkNumber(snapshot, key, { where: 'options' })
    const a = toImageArg(image, 'image')
    args = [a.data ?? null, a.path ?? null, snapshot]
  } catch (e) {
    throw asPerseError(e)
  }
  let r
  try {
    r = await native().prepareImage(...args)
  } catch (e) {
    throw nativeError(e)
  }
  if (r.status === false) throw new PerseError(r)
  return r
}

/** The browser SDK's `Perse.face` namespace. */
const face = Object.freeze({ detect, compare, isSimilar, quality, qualityWithSpoofCheck, enrollment })

module.exports = {
  PerseClient,
  PerseError,
  isPerseError,
  getDefaultClient,
  configure,
  setToken,
  login,
  onTokenRefresh,
  detect,
  compare,
  enroll,
  enrollment,
  isSimilar,
  quality,
  qualityWithSpoofCheck,
  face,
  close,
  prepareImage,
  startLocalServer,
}
