'use strict'

// startLocalServer(): the bundled Perse-compatible server (crates/perse-local), for the demo,
// this package's tests and users' own test suites. It runs inside the addon, on loopback.

const { inspect } = require('node:util')
const { fromInfo, nativeError, nativeSync } = require('./errors.js')
const { options, asPerseError } = require('./args.js')
const native = require('./native.js')
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
  try {
    o = options(opts, 'localServer')
  } catch (e) {
    throw asPerseError(e)
  }
  let r
  try {
    r = await native().startLocalServer(o)
  } catch (e) {
    throw nativeError(e)
  }
  if (r.status === false) throw fromInfo(r)
  return new LocalServer(r)
}

module.exports = { startLocalServer, LocalServer }
