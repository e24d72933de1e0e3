'use strict'

// Loads the generated napi-rs binding on first use, so `require('perse-node')` stays cheap.
// A loader error (no binary for this platform) propagates as it is: it names what it tried.

let binding = null

module.exports = function native() {
  if (binding === null) binding = require('../binding.js')
  return binding
}
