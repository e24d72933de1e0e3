'use strict'

// startLocalServer(): the bundled Perse-compatible server (crates/perse-local), for the demo,
// this package's tests and users' own test suites. It runs inside the addon, on loopback.

const { inspect } = require('node:util')
const { PerseError, invalid, describe, nativeSync } = require('./errors.js')
const native = require('./native.js')

function check(obj, key, type, where, test = () => true, rule = '') {
  const v = obj[key]
  if (v === undefined) return
  if (typeof v !== type || !test(v)) throw invalid(`${where}.${key} must be ${rule || `a ${type}`} (got ${describe(v)})`)
}

function plainObject(v, name) {
  if (v === undefined || v === null) return {}
  if (typeof v !== 'object' || Array.isArray(v)) throw invalid(`${name} must be an object (got ${describe(v)})`)
  return v
}

const isInt = (lo, hi) => (n) => Number.isInteger(n) && n >= lo && n <= hi

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
    const f = plainObject(fault, 'fault')
    check(f, 'path', 'string', 'fault')
    check(f, 'status', 'number', 'fault', isInt(100, 599), 'an HTTP status (100-599)')
    check(f, 'code', 'string', 'fault')
    check(f, 'body', 'string', 'fault')
    check(f, 'delayMs', 'number', 'fault', (n) => Number.isFinite(n) && n >= 0 && n <= 600000, 'milliseconds between 0 and 600000')
    check(f, 'times', 'number', 'fault', isInt(1, 1e9), 'a positive integer')
    nativeSync(() => this.#native.injectFault(f))
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
    const { PerseClient } = require('../index.js')
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
async function startLocalServer(options) {
  const o = plainObject(options, 'options')
  for (const key of Object.keys(o)) {
    if (!['port', 'host', 'privateKey', 'tokenTtlSeconds', 'livenessScore', 'headerTimeoutMs', 'maxConnections'].includes(key)) throw invalid(`unknown local server option '${key}'`)
  }
  check(o, 'port', 'number', 'options', isInt(0, 65535), 'an integer between 0 and 65535')
  check(o, 'host', 'string', 'options')
  check(o, 'privateKey', 'string', 'options')
  check(o, 'tokenTtlSeconds', 'number', 'options', (n) => Number.isFinite(n) && n >= 1, 'a number of seconds >= 1')
  check(o, 'livenessScore', 'number', 'options', (n) => n >= 0 && n <= 1, 'a number between 0 and 1')
  check(o, 'headerTimeoutMs', 'number', 'options')
  check(o, 'maxConnections', 'number', 'options')
  const r = await native().startLocalServer(o)
  if (r.status === false) throw new PerseError(r)
  return new LocalServer(r)
}

module.exports = { startLocalServer, LocalServer }
