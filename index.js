'use strict'

// The public entry of perse-node. Everything lives in lib/ (ARCHITECTURE.md has the map);
// the native binary loads on first use, so `require('perse-node')` stays cheap. The exports
// are listed as plain names on purpose: that is what lets Node's CommonJS lexer offer them
// as named ESM imports (`import { detect } from 'perse-node'`).

const { PerseError, isPerseError } = require('./lib/errors.js')
const { PerseClient } = require('./lib/client.js')
const { prepareImage } = require('./lib/prepare-image.js')
const { startLocalServer, controlLocalServer } = require('./lib/local-server.js')
const {
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
} = require('./lib/default-client.js')

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
  controlLocalServer,
}
