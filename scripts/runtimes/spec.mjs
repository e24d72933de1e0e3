// The public-API spec that npm run test:runtimes runs under Node, Bun and Deno
// (scripts/test-runtimes.js), in a fresh project where perse-node and perse-node-local are
// installed from their packed tarballs, as a user would have them. Only node:assert and
// node:fs, so it runs unchanged on all three runtimes; it prints one line per check and a
// closing "N passed, N failed" line. It never calls process.exit: the runner requires the
// process to end by itself once the spec is done (no handle left open by the SDK).
//
// PHOTOS: the folder holding astronaut.jpg and obama.jpg (argv[2]).

import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import dc from 'node:diagnostics_channel'
import { join } from 'node:path'
import { PerseClient, PerseError, detect, configure, close, isPerseError, startLocalServer } from 'perse-node'

const PHOTOS = process.argv[2]
const runtime = typeof globalThis.Bun !== 'undefined' ? `bun ${globalThis.Bun.version}` : typeof globalThis.Deno !== 'undefined' ? `deno ${globalThis.Deno.version.deno}` : `node ${process.versions.node}`
const consent = { enduserConsent: true }
const photo = join(PHOTOS, 'astronaut.jpg')
const other = join(PHOTOS, 'obama.jpg')

let passed = 0
let failed = 0
async function check(name, fn) {
  const t0 = Date.now()
  try {
    const note = await fn()
    passed++
    console.log(`ok ${passed + failed} - ${name}${note ? `: ${note}` : ''} (${Date.now() - t0} ms)`)
  } catch (e) {
    failed++
    console.log(`not ok ${passed + failed} - ${name}\n  ${String(e && e.stack ? e.stack : e).replace(/\n/g, '\n  ')}`)
  }
}

console.log(`# ${runtime} on ${process.platform}-${process.arch}`)
const server = await startLocalServer()
const perse = server.client()

await check('startLocalServer: a server on loopback with a /v0 URL', () => {
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/v0$/)
  return server.url
})

let box
await check('detect with a path', async () => {
  const r = await perse.detect(photo, consent)
  assert.equal(r.totalFaces, 1)
  box = r.faces[0].boundingBox
  assert.equal(box.length, 4)
  return JSON.stringify(box)
})

await check('detect with a Buffer: the same box', async () => {
  const r = await perse.detect(readFileSync(photo), consent)
  assert.deepEqual(r.faces[0].boundingBox, box)
})

await check('detect with a File: the same box', async () => {
  const file = new File([readFileSync(photo)], 'astronaut.jpg', { type: 'image/jpeg' })
  const r = await perse.detect(file, consent)
  assert.deepEqual(r.faces[0].boundingBox, box)
  assert.equal(r.uploaded.format, 'jpeg')
})

await check('compare: the same photo is similar, another person is not', async () => {
  const same = await perse.compare(photo, readFileSync(photo), consent)
  const diff = await perse.compare(photo, other, consent)
  assert.ok(same.similarity > diff.similarity, `${same.similarity} vs ${diff.similarity}`)
  assert.ok(same.similarity >= same.defaultThresholds.similarity)
  return `${same.similarity.toFixed(3)} vs ${diff.similarity.toFixed(3)}`
})

await check('enroll, compare with the user token, list, delete', async () => {
  const { userToken } = await perse.enroll(photo, consent)
  assert.match(userToken, /^usr_/)
  const c = await perse.compare({ userToken }, photo, consent)
  assert.ok(c.similarity >= c.defaultThresholds.similarity)
  const list = await perse.enrollment.list()
  assert.ok(list.totalUsers >= 1)
  await perse.enrollment.delete(userToken)
  const after = await perse.enrollment.list()
  assert.equal(after.totalUsers, list.totalUsers - 1)
})

await check('a missing file rejects with a PerseError (file_not_found, nothing sent)', async () => {
  const e = await perse.detect(join(PHOTOS, 'no-such-photo.jpg'), consent).then(() => null, (x) => x)
  assert.ok(e, 'detect resolved')
  assert.ok(isPerseError(e))
  assert.ok(e instanceof PerseError)
  assert.equal(e.code, 'file_not_found')
  assert.equal(e.attempts, 0)
})

await check('diagnostics_channel: a perse-node:call subscriber sees the call, with its request id', async () => {
  const seen = []
  const handlers = {
    start: (ctx) => seen.push(`start ${ctx.operation}`),
    end: () => seen.push('end'),
    asyncStart: () => seen.push('asyncStart'),
    asyncEnd: (ctx) => seen.push(`asyncEnd ${ctx.requestId}`),
    error: () => seen.push('error'),
  }
  const channel = dc.tracingChannel('perse-node:call')
  channel.subscribe(handlers)
  let r = null
  try {
    r = await perse.detect(photo, consent)
  } finally {
    channel.unsubscribe(handlers)
  }
  assert.ok(typeof r.requestId === 'string' && r.requestId.length > 0, `requestId ${r.requestId}`)
  assert.deepEqual(seen, ['start detect', 'end', 'asyncStart', `asyncEnd ${r.requestId}`])
  await perse.detect(photo, consent)
  assert.equal(seen.length, 4, 'nothing after unsubscribing')
})

await check('a server fault reaches the caller as server_error', async () => {
  server.injectFault({ path: '/face/detect', status: 503, reachCaller: true })
  const e = await perse.detect(photo, consent).then(() => null, (x) => x)
  assert.equal(e && e.code, 'server_error')
})

await check('the token callback: called for a token, and again after the tokens expire', async () => {
  let calls = 0
  const login = new PerseClient({ baseUrl: server.url })
  const token = await login.login(server.privateKey)
  login.close()
  const viaCallback = new PerseClient({
    baseUrl: server.url,
    onTokenRefresh: async () => {
      calls++
      const c = new PerseClient({ baseUrl: server.url })
      try {
        return calls === 1 ? token : await c.login(server.privateKey)
      } finally {
        c.close()
      }
    },
  })
  try {
    assert.equal((await viaCallback.detect(photo, consent)).totalFaces, 1)
    server.expireTokens()
    assert.equal((await viaCallback.detect(photo, consent)).totalFaces, 1)
    assert.equal(calls, 2)
  } finally {
    viaCallback.close()
  }
})

await check('the module-level functions with configure()', async () => {
  configure({ baseUrl: server.url, privateKey: server.privateKey })
  assert.equal((await detect(photo, consent)).totalFaces, 1)
  close()
})

await check('50 concurrent calls', async () => {
  const bytes = readFileSync(photo)
  const t0 = Date.now()
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 5 === 4 ? perse.enrollment.list() : perse.detect(i % 2 ? bytes : photo, consent))))
  const detects = results.filter((r) => 'faces' in r)
  assert.equal(detects.length, 40)
  for (const r of detects) assert.deepEqual(r.faces[0].boundingBox, box)
  return `${Date.now() - t0} ms for 40 detects and 10 lists`
})

perse.close()
await server.close()
console.log(`${runtime}: ${passed} passed, ${failed} failed`)
if (failed) process.exitCode = 1
