'use strict'

// One error-code table (issue 24): crates/perse-core/src/error/codes.rs owns every code; the
// TypeScript union, docs/errors.md's tables and lib/codes.generated.js are generated from it
// (`npm run generate -- --check` in npm test proves they are current). This proves the JS side
// raises no other code: every code literal in lib/ and bin/ is in the table, and fail() turns
// an unknown one into internal_error.

const test = require('ava')
const fs = require('node:fs')
const path = require('node:path')

const { CODES } = require('../lib/codes.generated.js')
const { fail } = require('../lib/errors.js')

const ROOT = path.join(__dirname, '..')
const TYPEOF = new Set(['string', 'number', 'boolean', 'object', 'function', 'undefined'])
const sources = [...fs.readdirSync(path.join(ROOT, 'lib')).map((f) => path.join('lib', f)), path.join('bin', 'perse-node.js')].filter((f) => f.endsWith('.js'))

test('every error code the JS side names is in the table', (t) => {
  const found = []
  for (const file of sources) {
    const text = fs.readFileSync(path.join(ROOT, file), 'utf8')
    for (const m of text.matchAll(/\bfail\(\s*'([a-z_]+)'|\bcode(?:\s*===|\s*:)\s*'([a-z_]+)'|\bcode === '([a-z_]+)'/g)) {
      const code = m[1] ?? m[2] ?? m[3]
      if (code === 'success' || TYPEOF.has(code)) continue // a result's code, or `typeof x.code === 'string'`
      found.push(code)
      t.true(CODES.has(code), `${file}: '${code}' is not in crates/perse-core/src/error/codes.rs`)
    }
  }
  t.true(found.length >= 20, `only ${found.length} codes found: the scan no longer matches the sources`)
})

test('fail() with a code outside the table is an internal_error naming it', (t) => {
  const e = fail('made_up_code', 'something')
  t.is(e.code, 'internal_error')
  t.regex(e.message, /unknown error code 'made_up_code'/)
  t.is(fail('timeout', 'slow').code, 'timeout')
})
