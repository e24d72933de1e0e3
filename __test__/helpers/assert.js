'use strict'

// Assertions shared by the specs.

const { inspect } = require('node:util')
const { isPerseError } = require('../..')

/** Awaits `promise`, which must reject with a PerseError of `code`; returns the error. */
async function rejects(t, promise, code) {
  const e = await t.throwsAsync(promise)
  t.true(isPerseError(e), `expected a PerseError, got ${inspect(e)}`)
  t.is(e.code, code, e.message)
  t.is(e.status, false)
  return e
}

/** Runs `fn`, which must throw a PerseError of `code`; returns the error. */
function throwsPerse(t, fn, code) {
  const e = t.throws(fn)
  t.true(isPerseError(e), `expected a PerseError, got ${inspect(e)}`)
  t.is(e?.code, code, e?.message)
  return e
}

module.exports = { rejects, throwsPerse }
