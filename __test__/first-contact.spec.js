'use strict'

// First contact (issue 23): one rule for the environment, a client without credentials that
// says so before sending, attempts counted from the first byte sent, and the local server's
// no-face answer as the hosted API may give it.

const test = require('ava')
const path = require('node:path')

const { startLocalServer, PerseClient } = require('..')
const { runChild } = require('./helpers/child')
const { startContractServer } = require('./helpers/contract-server')
const { rejects, throwsPerse } = require('./helpers/assert')

const FIX = path.join(__dirname, 'fixtures')
const CONSENT = { enduserConsent: true }

test('new PerseClient() reads PERSE_PRIVATE_KEY and PERSE_BASE_URL; explicit options win', async (t) => {
  const server = await startLocalServer()
  t.teardown(() => server.close())
  const r = await runChild(
    `
    const a = new perse.PerseClient();
    const listed = await a.enrollment.list().then((x) => x.totalUsers, (e) => e.code);
    const b = new perse.PerseClient({ privateKey: 'sk_local_wrong', maxRetries: 0 });
    const wrong = await b.enrollment.list().then(() => 'ok', (e) => e.code);
    const c = new perse.PerseClient({ onTokenRefresh: async () => 'not.a.jwt', maxRetries: 0 });
    const callback = await c.enrollment.list().then(() => 'ok', (e) => e.code);
    const d = await perse.enrollment.list().then((x) => x.totalUsers, (e) => e.code);
    for (const x of [a, b, c]) x.close();
    perse.close();
    report({ baseUrl: a.baseUrl, listed, wrong, callback, d });`,
    { env: { PERSE_BASE_URL: server.url, PERSE_PRIVATE_KEY: server.privateKey } },
  )
  t.is(r.code, 0, r.stderr)
  // The env key is used only when the options give no credential at all.
  t.deepEqual(r.report, { baseUrl: server.url, listed: 0, wrong: 'unauthorized', callback: 'unauthorized', d: 0 })
})

test('privateKey or token given as undefined or empty is refused at construction, naming the environment', (t) => {
  for (const key of ['privateKey', 'token']) {
    for (const value of [undefined, '']) {
      const e = throwsPerse(t, () => new PerseClient({ baseUrl: 'http://127.0.0.1:9/v0', [key]: value }), 'invalid_argument')
      t.regex(e.message, new RegExp(`options\\.${key} is ${value === undefined ? 'undefined' : 'empty'}: is the environment variable you read it from set\\?`))
      if (key === 'privateKey') t.regex(e.message, /PERSE_PRIVATE_KEY/)
    }
  }
})

test('a call without any credential fails before sending, naming every way to give one, with no httpStatus', async (t) => {
  const server = await startContractServer()
  t.teardown(() => server.close())
  const r = await runChild(
    `
    const c = new perse.PerseClient({ baseUrl: ${JSON.stringify(server.url)} });
    const e = await c.enrollment.list().catch((e) => e);
    const d = await perse.enrollment.list().catch((e) => e);
    c.close(); perse.close();
    report([e, d].map((x) => ({ code: x.code, message: x.message, httpStatus: x.httpStatus ?? null, attempts: x.attempts })));`,
    { env: { PERSE_BASE_URL: server.url } },
  )
  t.is(r.code, 0, r.stderr)
  for (const e of r.report) {
    t.is(e.code, 'unauthorized')
    t.is(e.httpStatus, null)
    t.is(e.attempts, 0)
    for (const name of ['PERSE_PRIVATE_KEY', 'privateKey', 'setToken', 'onTokenRefresh']) t.true(e.message.includes(name), `${name} in: ${e.message}`)
  }
  t.is(server.requests.length, 0, 'nothing was sent')
})

test('a call aborted after its request was sent reports the attempt', async (t) => {
  const server = await startContractServer()
  t.teardown(() => server.close())
  server.script(() => {}) // the request arrives and is never answered
  const c = new PerseClient({ baseUrl: server.url, token: server.mintToken(), maxRetries: 0 })
  t.teardown(() => c.close())
  const e = await rejects(t, c.detect(path.join(FIX, 'astronaut.jpg'), { ...CONSENT, signal: AbortSignal.timeout(300) }), 'aborted')
  t.is(e.attempts, 1)
})

test('the local server answers a detect without a face with no_face_detected when asked (noFaceError)', async (t) => {
  const server = await startLocalServer({ noFaceError: true })
  t.teardown(() => server.close())
  const c = server.client()
  t.teardown(() => c.close())
  const e = await rejects(t, c.detect(path.join(FIX, 'rocket.jpg'), CONSENT), 'no_face_detected')
  t.is(e.httpStatus, 422)
  t.regex(e.message, /no face detected in image_file/)
  t.is((await c.quality(path.join(FIX, 'rocket.jpg'), CONSENT)).code, 'no_face_detected')
  t.is((await c.detect(path.join(FIX, 'astronaut.jpg'), CONSENT)).totalFaces, 1, 'a face still answers normally')
  const plain = await startLocalServer()
  t.teardown(() => plain.close())
  const p = plain.client()
  t.teardown(() => p.close())
  t.is((await p.detect(path.join(FIX, 'rocket.jpg'), CONSENT)).totalFaces, 0, 'the default stays totalFaces: 0')
})
