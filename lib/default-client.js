'use strict'

// The module-level API of the browser SDK (`perse.detect(...)`, `perse.face.*`): one default
// client per module realm, created on first use from PERSE_BASE_URL and PERSE_PRIVATE_KEY.

const { PerseClient } = require('./client.js')

let defaultClient = null

/** The default client, created on first use. */
function getDefaultClient() {
  if (defaultClient === null) {
    defaultClient = new PerseClient() // reads PERSE_BASE_URL and PERSE_PRIVATE_KEY itself
  }
  return defaultClient
}

/** `fn(client, ...args)` on the default client; a failure to create it is a rejection. */
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

const calls = {
  setToken: viaDefault((c, jwt) => c.setToken(jwt)),
  login: viaDefault((c, key, o) => c.login(key, o)),
  detect: viaDefault((c, image, o) => c.detect(image, o)),
  compare: viaDefault((c, a, b, o) => c.compare(a, b, o)),
  enroll: viaDefault((c, image, o) => c.enroll(image, o)),
  isSimilar: viaDefault((c, a, b, o) => c.isSimilar(a, b, o)),
  quality: viaDefault((c, image, o) => c.quality(image, o)),
  qualityWithSpoofCheck: viaDefault((c, image, o) => c.qualityWithSpoofCheck(image, o)),
}

/** Sets options on the default client. */
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

/** The browser SDK's `Perse.face` namespace. */
const face = Object.freeze({ detect: calls.detect, compare: calls.compare, isSimilar: calls.isSimilar, quality: calls.quality, qualityWithSpoofCheck: calls.qualityWithSpoofCheck, enrollment })

module.exports = { getDefaultClient, configure, onTokenRefresh, close, enrollment, face, ...calls }
