'use strict'

// startLocalServer(): the local Perse-compatible server (crates/perse-local), for the demo,
// this package's tests and users' own test suites. It runs in perse-node-local's addon (see
// local-package.js), in this process, on loopback.

const { inspect } = require('node:util')
const { fail, fromInfo, invalid, describe, foreignMessage, isPerseError, nativeError, nativeSync } = require('./errors.js')
const native = require('./native.js')
const { options, timeoutMsArg, asPerseError } = require('./args.js')
const { localPackage } = require('./local-package.js')
const { PerseClient } = require('./client.js')

/** A running local server. Close it when done (`await server.close()`). */
class LocalServer {
  #native

  constructor(nativeServer) {
    this.#native = nativeServer
  }

  /** Base URL to pass as `baseUrl` as it is (ends in `/v0`). */
  get url() {
    return this.#native.url
  }

  get port() {
    return this.#native.port
  }

  /** The private key this server's `/login` accepts. */
  get privateKey() {
    return this.#native.privateKey
  }

  get closed() {
    return this.#native.closed
  }

  /** Answers the next `times` (default 1) matching requests with the given status/body, after `delayMs`. */
  injectFault(fault) {
    let f
    try {
      f = options(fault, 'fault', 'fault')
    } catch (e) {
      throw asPerseError(e)
    }
    const refused = nativeSync(() => this.#native.injectFault(f))
    if (refused) throw fromInfo(refused)
  }

  /** Every token issued so far stops working now. */
  expireTokens() {
    this.#native.expireTokens()
  }

  /** Requests seen so far: method, path, field names and sizes (never image bytes or tokens). */
  requests() {
    return this.#native.requests()
  }

  /** Forgets enrollments, injected faults and the request log. */
  reset() {
    this.#native.reset()
  }

  /** A PerseClient pointed at this server, logging in with its private key. */
  client(options = {}) {
    return new PerseClient({ baseUrl: this.url, privateKey: this.privateKey, ...options })
  }

  /** Stops the server; resolves once it has stopped. */
  close() {
    return this.#native.close()
  }

  toJSON() {
    return { url: this.url, closed: this.closed }
  }

  [inspect.custom](depth, opts, inspectFn = inspect) {
    return `LocalServer ${inspectFn(this.toJSON(), opts)}`
  }
}

/** Starts a local Perse-compatible server (default: 127.0.0.1, a free port, 15-minute tokens). */
async function startLocalServer(opts) {
  let o
  let local
  try {
    local = localPackage()
    o = options(opts, 'localServer')
  } catch (e) {
    throw asPerseError(e)
  }
  let r
  try {
    r = await local.native.startLocalServer(local.weightsDir, o)
  } catch (e) {
    throw nativeError(e)
  }
  if (r.status === false) throw fromInfo(r)
  return new LocalServer(r)
}

/** How long a control call waits for the server, by default. */
const CONTROL_TIMEOUT_MS = 30_000
/** Largest answer read from a server's controls (the request log is capped at 4 MiB there). */
const CONTROL_MAX_BYTES = 16 * 1024 * 1024

/**
 * The test controls of a local server this process did not start (jest's global setup runs
 * in another process than the tests; a server in another container): `{ injectFault,
 * expireTokens, reset, requests }`, each returning a promise, over the server's HTTP controls.
 * Defaults: PERSE_BASE_URL and PERSE_PRIVATE_KEY, as the global setup would export them.
 *
 * The URL follows the client's transport rules (https, or plain http only on loopback or with
 * `allowInsecureHttp`), so the private key is never sent where a client would not send it;
 * every failure, from a bad URL to a refused connection, is a PerseError.
 */
function controlLocalServer(server) {
  let url
  let privateKey
  let allowInsecureHttp
  let timeoutMs
  try {
    ;({ url = process.env.PERSE_BASE_URL, privateKey = process.env.PERSE_PRIVATE_KEY, allowInsecureHttp, timeoutMs = CONTROL_TIMEOUT_MS } = server ?? {})
  } catch (e) {
    throw asPerseError(e)
  }
  if (typeof url !== 'string' || typeof privateKey !== 'string' || !url || !privateKey) {
    throw invalid('controlLocalServer needs { url, privateKey } (or PERSE_BASE_URL and PERSE_PRIVATE_KEY)')
  }
  if (allowInsecureHttp !== undefined && typeof allowInsecureHttp !== 'boolean') throw invalid(`allowInsecureHttp must be a boolean (got ${describe(allowInsecureHttp)})`)
  timeoutMsArg(timeoutMs, 'timeoutMs')
  const insecure = allowInsecureHttp ?? /^(1|true)$/i.test(process.env.PERSE_ALLOW_INSECURE_HTTP ?? '')
  const base = nativeSync(() => native().normalizeBaseUrl(url, insecure))
  if (typeof base !== 'string') throw fromInfo({ ...base, message: `controlLocalServer: ${base.message.replace(/^baseUrl/, 'url')}` })
  const origin = new URL(base).origin
  const hide = (text) => text.split(privateKey).join('[redacted]')
  const send = async (method, path, body) => {
    let res
    try {
      res = await fetch(new URL(path, base), {
        method,
        headers: { authorization: `Bearer ${privateKey}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        redirect: 'error',
        signal: AbortSignal.timeout(timeoutMs),
      })
    } catch (e) {
      if (e?.name === 'TimeoutError') throw fail('timeout', `the local server at ${origin} did not answer within ${timeoutMs} ms`, { retryable: true })
      throw fail('network_error', `cannot reach the local server's controls at ${origin}: ${hide(foreignMessage(e?.cause ?? e))}`, { cause: e, retryable: true, attempts: 1 })
    }
    const text = await readCapped(res, origin).catch((e) => {
      throw isPerseError(e) ? e : fail('network_error', `reading the answer of ${origin} failed: ${hide(foreignMessage(e))}`, { cause: e, attempts: 1 })
    })
    let json = null
    try {
      json = text === '' ? null : JSON.parse(text)
    } catch {
      // not JSON: reported below
    }
    if (!res.ok) {
      const message = typeof json?.message === 'string' ? json.message : `HTTP ${res.status}`
      throw fromInfo({ code: typeof json?.code === 'string' ? json.code : 'unexpected_error', message: hide(foreignMessage(message)), httpStatus: res.status, attempts: 1 })
    }
    if (text !== '' && json === null) throw fail('unexpected_error', `the answer of ${origin}${path} is not JSON: is ${base} a perse-node local server?`, { httpStatus: res.status, attempts: 1 })
    return json
  }
  const done = () => undefined
  const fault = (f) => {
    try {
      return options(f, 'fault', 'fault')
    } catch (e) {
      throw asPerseError(e)
    }
  }
  return Object.freeze({
    injectFault: async (f) => send('POST', '/__perse/faults', fault(f)).then(done),
    expireTokens: () => send('POST', '/__perse/expire-tokens').then(done),
    reset: () => send('POST', '/__perse/reset').then(done),
    requests: () => send('GET', '/__perse/requests'),
  })
}

/** The body of `res` as text, refused past CONTROL_MAX_BYTES. */
async function readCapped(res, origin) {
  const chunks = []
  let size = 0
  for await (const chunk of res.body ?? []) {
    size += chunk.byteLength
    if (size > CONTROL_MAX_BYTES) throw fail('response_too_large', `the answer of ${origin} is larger than ${CONTROL_MAX_BYTES} bytes`, { httpStatus: res.status, attempts: 1 })
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

module.exports = { startLocalServer, controlLocalServer, LocalServer }
