'use strict'

// PerseClient: the public class. Each method checks its arguments (lib/args.js, lib/images.js) and starts
// one native call through the transport (lib/transport.js), or calls a native setter.
// Failures are always PerseErrors; calls reject rather than throw.

const { inspect } = require('node:util')

const { isPerseError, fail, invalid, describe, fromInfo, nativeSync } = require('./errors.js')
const { clientOptions, callOptions, asPerseError } = require('./args.js')
const { imageArg, readKind, compareArgs, userTokenArg, stringHint } = require('./images.js')
const { readImages } = require('./inputs.js')
const { Transport } = require('./transport.js')
const { qualityVerdict, similarityVerdict, noFaceVerdict } = require('./verdicts.js')

const METHODS = ['setToken', 'login', 'onTokenRefresh', 'configure', 'detect', 'compare', 'enroll', 'isSimilar', 'quality', 'qualityWithSpoofCheck', 'close']

/** Throws the ErrorInfo a native setter returned, if any. */
function check(refused) {
  if (refused) throw fromInfo(refused)
}

function unbound() {
  return invalid('PerseClient method called without a PerseClient as `this` (use client.method(...) or a method taken from an instance)')
}

/** A Perse API client. Methods are bound, so `const { detect } = client` works. */
class PerseClient {
  #transport
  /** What close() runs besides closing the transport: it stops the reads in progress (lib/inputs.js). */
  #closers = new Set()

  constructor(options) {
    let o
    try {
      o = clientOptions(options)
    } catch (e) {
      throw asPerseError(e)
    }
    // The environment fills what the options leave out (explicit options win, as in
    // openai-node): PERSE_BASE_URL, PERSE_PRIVATE_KEY when no credential is given at all, and
    // PERSE_ALLOW_INSECURE_HTTP.
    const fromEnv = o.native.baseUrl === undefined && Boolean(process.env.PERSE_BASE_URL)
    if (fromEnv) o.native.baseUrl = process.env.PERSE_BASE_URL
    if (!o.credentials && process.env.PERSE_PRIVATE_KEY) o.native.privateKey = process.env.PERSE_PRIVATE_KEY
    if (o.native.allowInsecureHttp === undefined && /^(1|true)$/i.test(process.env.PERSE_ALLOW_INSECURE_HTTP ?? '')) o.native.allowInsecureHttp = true
    this.#transport = new Transport()
    if (o.logger !== undefined) this.#transport.logger = o.logger
    const refused = nativeSync(() => this.#native.configure(o.native))
    if (refused && fromEnv && /baseUrl/.test(refused.message)) {
      refused.message = `PERSE_BASE_URL (${o.native.baseUrl}) is not usable: ${refused.message.replace(/^baseUrl/, 'the base URL')}${/https/.test(refused.message) ? '; set PERSE_ALLOW_INSECURE_HTTP=1 for a test server on another host' : ''}`
    }
    check(refused)
    if (o.onTokenRefresh) this.onTokenRefresh(o.onTokenRefresh)
    for (const m of METHODS) Object.defineProperty(this, m, { value: this[m].bind(this), enumerable: false })
    const enrollment = {
      create: (image, opts) => this.enroll(image, opts),
      list: (opts) => this.#call('list', () => [], opts),
      update: (userToken, image, opts) => this.#upload('update', opts, [image], (i) => [userTokenArg(userToken, 'userToken'), imageArg(i[0], 'image')]),
      delete: (userToken, opts) => this.#call('delete', () => [userTokenArg(userToken, 'userToken')], opts),
    }
    enrollment.read = enrollment.list
    Object.defineProperty(this, 'enrollment', { value: Object.freeze(enrollment), enumerable: false })
  }

  get #native() {
    return this.#transport.native
  }

  /** Whether `o` is a real PerseClient (methods called with another `this` reject cleanly). */
  static #owns(o) {
    return o !== null && typeof o === 'object' && #transport in o
  }

  /** Stores the session token (JWT) used by later calls; `null` clears it. */
  async setToken(jwt) {
    if (!PerseClient.#owns(this)) throw unbound()
    if (jwt !== null && (typeof jwt !== 'string' || jwt.length === 0)) throw invalid(`token must be a non-empty string or null (got ${describe(jwt)})`)
    check(nativeSync(() => this.#native.setToken(jwt)))
  }

  /** Exchanges a private key for a session token, stores it and resolves with it. */
  async login(privateKey, options) {
    if (!PerseClient.#owns(this)) throw unbound()
    if (this.closed) throw fail('client_closed', 'the client is closed')
    if (typeof privateKey !== 'string' || privateKey.length === 0) throw invalid(`privateKey must be a non-empty string (got ${describe(privateKey)})`)
    return (await this.#call('login', () => [privateKey], options)).token
  }

  /** Registers the callback asked for a new JWT whenever one is needed (`null` removes it). */
  onTokenRefresh(callback) {
    if (callback !== null && typeof callback !== 'function') throw invalid(`onTokenRefresh callback must be a function or null (got ${describe(callback)})`)
    check(nativeSync(() => this.#native.setTokenRefresh(callback ? wrapRefresh(callback) : null)))
  }

  /** Changes options for later calls. */
  configure(options) {
    let o
    try {
      o = clientOptions(options)
    } catch (e) {
      throw asPerseError(e)
    }
    check(nativeSync(() => this.#native.configure(o.native)))
    if (o.logger !== undefined) this.#transport.logger = o.logger
    if (o.hasRefresh) this.onTokenRefresh(o.onTokenRefresh ?? null)
  }

  // @hot
  detect(image, options) {
    if (!PerseClient.#owns(this)) return Promise.reject(unbound())
    return this.#upload('detect', options, [image], (i) => [imageArg(i[0], 'image')])
  }

  compare(a, b, options) {
    if (!PerseClient.#owns(this)) return Promise.reject(unbound())
    return this.#upload('compare', options, [a, b], (i) => [...compareArgs(i[0], 'a'), ...compareArgs(i[1], 'b')])
  }

  enroll(image, options) {
    if (!PerseClient.#owns(this)) return Promise.reject(unbound())
    return this.#upload('enroll', options, [image], (i) => [imageArg(i[0], 'image')])
  }

  /** compare, then the browser SDK's verdict: code `similar` or `not_similar`. */
  async isSimilar(a, b, options) {
    if (!PerseClient.#owns(this)) throw unbound()
    return similarityVerdict(await this.compare(a, b, options))
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
    this.#transport.close()
    for (const stop of this.#closers) stop()
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
    try {
      return qualityVerdict(await this.detect(image, options), spoofCheck)
    } catch (e) {
      if (isPerseError(e) && e.code === 'no_face_detected') return noFaceVerdict(e)
      throw e
    }
  }

  /**
   * Reads the options, then the call's arguments with `args()` (in that order: an options
   * getter may detach a buffer, and images are read last, right before the native copy), and
   * starts the call. Never throws: every failure is a rejected PerseError.
   */
  // @hot
  #call(method, args, options) {
    try {
      const o = callOptions(options)
      return this.#transport.call(method, args(), o)
    } catch (e) {
      return Promise.reject(asPerseError(e))
    }
  }

  /**
   * A call with images: as #call, but a Blob, Response or stream among `images` is read first
   * (within the call's byte budget and deadline, see lib/inputs.js), and a path that does not
   * exist gets a hint when it looks like a URL, base64 or a user token.
   */
  // @hot
  #upload(method, options, images, build) {
    try {
      const o = callOptions(options)
      const kinds = images.length === 1 ? [readKind(images[0])] : images.map(readKind)
      const call = kinds[0] === undefined && kinds[1] === undefined ? this.#transport.call(method, build(images), o) : this.#readThenCall(method, o, images, kinds, build)
      const named = images.findIndex(isString)
      return named === -1 ? call : call.catch((e) => hintMissing(e, images[named], images.length === 1 ? 'image' : ['a', 'b'][named]))
    } catch (e) {
      return Promise.reject(asPerseError(e))
    }
  }

  /**
   * Reads the Blobs, Responses and streams among `images` (see lib/inputs.js), then starts the
   * call. The other arguments are checked first, with an empty placeholder for each input to
   * read, so that a bad one refuses the call before any stream is consumed; they are built
   * again from the read bytes right before the native call, as #upload does.
   */
  async #readThenCall(method, o, images, kinds, build) {
    try {
      build(images.map((v, i) => (kinds[i] === undefined ? v : EMPTY)))
      const limits = this.#native.readLimits(o.native)
      if (limits.status === false) throw fromInfo(limits)
      const names = images.length === 1 ? ['image'] : ['a', 'b']
      const read = await readImages(images, kinds, names, { budget: limits.budget, timeoutMs: limits.timeoutMs, signal: o.signal, closers: this.#closers })
      return await this.#transport.call(method, build(read), o)
    } catch (e) {
      throw asPerseError(e)
    }
  }
}

const isString = (v) => typeof v === 'string'

/** Stands in for an input still to be read while the other arguments are checked. */
const EMPTY = Buffer.alloc(0)

/**
 * A string that is no file and looks like something else (a URL, a data URL, base64, a user
 * token) was a wrong argument, not a missing file: `invalid_argument` saying what it looks
 * like and what to pass, as for the strings too long to be a path (lib/images.js).
 */
function hintMissing(e, path, name) {
  if (isPerseError(e) && e.code === 'file_not_found') {
    const hint = stringHint(path)
    if (!hint.startsWith(' (')) throw invalid(`${name} is not a file path${hint} (no file is named ${path.length > 60 ? `${path.slice(0, 60)}…` : path})`)
  }
  throw e
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

module.exports = { PerseClient }
