'use strict'

// What every part of the doc-samples runner shares: the repository root, the name of a
// sample's files, and the output helpers.

const path = require('node:path')

const ROOT = path.resolve(__dirname, '..', '..')

/** The base name of a unit's files (typecheck and run): `docs-api-md-L42`. */
function unitBase(u) {
  return `${u.file.replace(/[^\w]+/g, '-')}-L${u.line}`
}

const log = (s = '') => process.stdout.write(`${s}\n`)
const indent = (s) => s.replace(/\s+$/, '').replace(/^/gm, '    ')

module.exports = { ROOT, unitBase, log, indent }
