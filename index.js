'use strict'

// The public entry of perse-node. Everything lives in lib/ (ARCHITECTURE.md has the map);
// the native binary loads on first use, so `require('perse-node')` stays cheap.

const { PerseError, isPerseError } = require('./lib/errors.js')
const { PerseClient } = require('./lib/client.js')
const defaults = require('./lib/default-client.js')
const { prepareImage } = require('./lib/prepare-image.js')
const { startLocalServer } = require('./lib/local-server.js')

module.exports = {
  PerseClient,
  PerseError,
  isPerseError,
  getDefaultClient: defaults.getDefaultClient,
  configure: defaults.configure,
  setToken: defaults.setToken,
  login: defaults.login,
  onTokenRefresh: defaults.onTokenRefresh,
  detect: defaults.detect,
  compare: defaults.compare,
  enroll: defaults.enroll,
  enrollment: defaults.enrollment,
  isSimilar: defaults.isSimilar,
  quality: defaults.quality,
  qualityWithSpoofCheck: defaults.qualityWithSpoofCheck,
  face: defaults.face,
  close: defaults.close,
  prepareImage,
  startLocalServer,
}
