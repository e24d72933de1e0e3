'use strict'

// The calls are declared once, in perse-core (`calls!` in crates/perse-core/src/endpoints.rs:
// each one's JS name, tracing operation, HTTP method, path and argument kinds), and the binding
// reads them from there (`calls()`). This holds the rest to that table: every method the
// client exposes starts a call the table has, the types' docs name only requests the table
// lists (and every one of them), and a traced call reports the table's operation and method.
// (perse-core's tests/calls.rs holds the table to the requests each call really sends.)

const test = require('ava')
const dc = require('node:diagnostics_channel')
const fs = require('node:fs')
const path = require('node:path')

const { calls } = require('../binding.js')
const { startLocalServer } = require('..')
const { ms } = require('./helpers/time')

const ROOT = path.join(__dirname, '..')
const table = calls()

test('the table: unique names, an operation, a method and a path for each', (t) => {
  t.true(table.length >= 7)
  t.is(new Set(table.map((c) => c.name)).size, table.length)
  for (const c of table) {
    t.regex(c.method, /^(GET|POST|PUT|DELETE)$/, c.name)
    t.regex(c.path, /^\/[a-z/{}A-Z]+$/, c.name)
    t.true(c.operation === c.name || c.operation === `enrollment.${c.name}`, c.name)
  }
})

test("index.d.ts's docs name exactly the requests the table lists", (t) => {
  const dts = fs.readFileSync(path.join(ROOT, 'index.d.ts'), 'utf8')
  // (The local server's control requests, `/__perse/...`, are its own, not API calls.)
  const documented = new Set([...dts.matchAll(/Calls `((?:GET|POST|PUT|DELETE) (?!\/__perse\/)[^`]+)`/g)].map((m) => m[1]))
  const declared = new Set(table.map((c) => `${c.method} ${c.path}`))
  t.deepEqual([...documented].filter((r) => !declared.has(r)), [], 'documented but not in CALLS')
  t.deepEqual([...declared].filter((r) => !documented.has(r)), [], 'in CALLS but no method documents it')
})

test('a traced call reports the operation and HTTP method of its table entry', async (t) => {
  const server = await startLocalServer()
  // Scaled: under QEMU the first engine call (weights and all) came within a few seconds of 30 s.
  const perse = server.client({ timeoutMs: ms(30_000) })
  const seen = []
  const sub = { start: (ctx) => seen.push([ctx.operation, ctx.method]) }
  dc.tracingChannel('perse-node:call').subscribe(sub)
  try {
    const { userToken } = await perse.enrollment.create(path.join(__dirname, 'fixtures', 'astronaut.jpg'), { enduserConsent: true })
    await perse.enrollment.list()
    await perse.enrollment.delete(userToken)
  } finally {
    dc.tracingChannel('perse-node:call').unsubscribe(sub)
    perse.close()
    await server.close()
  }
  const entry = (name) => table.find((c) => c.name === name)
  t.deepEqual(seen, [
    [entry('enroll').operation, entry('enroll').method],
    [entry('list').operation, entry('list').method],
    [entry('delete').operation, entry('delete').method],
  ])
  t.deepEqual(seen, [['enroll', 'POST'], ['enrollment.list', 'GET'], ['enrollment.delete', 'DELETE']])
})
