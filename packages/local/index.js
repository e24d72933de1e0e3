'use strict'

// perse-node-local: the local Perse-compatible server and its face engine, kept out of
// perse-node so that the client package stays small. Use it through perse-node:
// `require('perse-node').startLocalServer()` or `npx perse-node serve`, which load this
// package when it is installed. The native binary is loaded on first use, so that perse-node
// can tell "not installed" from "no binary for this platform".

const path = require('node:path')

/** The face engine's weight files (platform-independent; see weights/PROVENANCE.md). */
const weightsDir = path.join(__dirname, 'weights')

let binding = null

/** The generated napi-rs binding (`startLocalServer`, `optionSpecs`). */
function native() {
  if (binding === null) binding = require('./binding.js')
  return binding
}

module.exports = { version: require('./package.json').version, weightsDir, native }
