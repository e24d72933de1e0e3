'use strict'

// startLocalServer(): the local Perse-compatible server (crates/perse-local), for the demo,
// this package's tests and users' own test suites. It runs in perse-node-local's addon (see
// local-package.js), in this process, on loopback.

const { inspect } = require('node:util')
const { fromInfo, invalid, nativeError, nativeSync } = require('./errors.js')
const { options, asPerseError } = require('./args.js')
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

/**
 * The test controls of a local server this process did not start (jest's global setup runs
 * in another process than the tests; a server in another container): `{ injectFault,
 * expireTokens, reset, requests }`, each returning a promise, over the server's HTTP controls.
 * Defaults: PERSE_BASE_URL and PERSE_PRIVATE_KEY, as the global setup would export them.
 */
function controlLocalServer({ url = process.env.PERSE_BASE_URL, privateKey = process.env.PERSE_PRIVATE_KEY } = {}) {
  if (typeof url !== 'string' || typeof privateKey !== 'string' || !url || !privateKey) {
    throw invalid('controlLocalServer needs { url, privateKey } (or PERSE_BASE_URL and PERSE_PRIVATE_KEY)')
  }
  const send = async (method, path, body) => {
    const res = await fetch(new URL(path, url), {
      method,
      headers: { authorization: `Bearer ${privateKey}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const json = await res.json().catch(() => null)
    if (!res.ok) throw fromInfo({ code: json?.code ?? 'unexpected_error', message: json?.message ?? `HTTP ${res.status}`, httpStatus: res.status })
    return json
  }
  const done = () => undefined
  return Object.freeze({
    injectFault: async (fault) => send('POST', '/__perse/faults', options(fault, 'fault', 'fault')).then(done),
    expireTokens: () => send('POST', '/__perse/expire-tokens').then(done),
    reset: () => send('POST', '/__perse/reset').then(done),
    requests: () => send('GET', '/__perse/requests'),
  })
}

module.exports = { startLocalServer, controlLocalServer, LocalServer }
