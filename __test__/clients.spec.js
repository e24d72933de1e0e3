'use strict'

// Reliability round 2 (issue 22), item 8: a client per request costs what one client costs.
// Clients share the process's connection pools, and clients that log in with one private key
// at one base URL share one session (one login, single-flight refresh); a client given its
// own token keeps it to itself. The local server makes room for a new connection by closing
// an idle keep-alive one at its cap.

const test = require('ava')
const net = require('node:net')

const { PerseClient, startLocalServer } = require('..')
const { runChild } = require('./helpers/child')
const { ms } = require('./helpers/time')

const logins = (server) => server.requests().filter((r) => r.path.endsWith('/login')).length

let server
test.before(async () => {
  server = await startLocalServer()
})
test.after.always(() => server?.close())
test.beforeEach(() => server.reset())

test.serial('100 clients made per call with one private key log in once', async (t) => {
  const opts = { baseUrl: server.url, privateKey: server.privateKey }
  for (let i = 0; i < 100; i++) await new PerseClient(opts).enrollment.list()
  await Promise.all(Array.from({ length: 50 }, () => new PerseClient(opts).enrollment.list()))
  t.is(logins(server), 1)
})

test.serial('after the tokens expire, 50 concurrent per-call clients refresh with one login', async (t) => {
  const opts = { baseUrl: server.url, privateKey: server.privateKey }
  await new PerseClient(opts).enrollment.list()
  server.expireTokens()
  server.reset()
  await Promise.all(Array.from({ length: 50 }, () => new PerseClient(opts).enrollment.list()))
  t.is(logins(server), 1)
})

test.serial("a client's own setToken and onTokenRefresh act on it alone", async (t) => {
  const opts = { baseUrl: server.url, privateKey: server.privateKey }
  const shared = new PerseClient(opts)
  await shared.enrollment.list()
  const own = new PerseClient(opts)
  await own.setToken('not.a.token') // its own: 401, then it logs in for itself
  t.true(Array.isArray((await own.enrollment.list()).userTokens))
  t.is(logins(server), 1, 'the shared session was already logged in; only the client with its own token logged in')
  const asked = []
  const callback = new PerseClient({ baseUrl: server.url, onTokenRefresh: async () => (asked.push(1), new PerseClient({ baseUrl: server.url }).login(server.privateKey)) })
  await callback.enrollment.list()
  t.is(asked.length, 1, 'a callback client asks its own callback')
  t.is(logins(server), 2)
  // The shared session was not touched by either.
  server.reset()
  await new PerseClient(opts).enrollment.list()
  t.is(logins(server), 0)
  for (const c of [shared, own, callback]) c.close()
})

test.serial('another base URL or another key is another session', async (t) => {
  const [one, two] = await Promise.all([startLocalServer(), startLocalServer({ privateKey: 'sk_local_other_key' })])
  t.teardown(() => Promise.all([one.close(), two.close()]))
  await new PerseClient({ baseUrl: one.url, privateKey: one.privateKey }).enrollment.list()
  await new PerseClient({ baseUrl: two.url, privateKey: 'sk_local_other_key' }).enrollment.list()
  const wrong = await new PerseClient({ baseUrl: one.url, privateKey: 'sk_local_wrong', maxRetries: 0 }).enrollment.list().catch((e) => e.code)
  t.is(wrong, 'unauthorized', 'a wrong key does not ride on the right key’s session')
  t.is(logins(one), 2)
  t.is(logins(two), 1)
})

test('2,000 unclosed per-call clients hold no sockets of their own: open descriptors stay bounded', async (t) => {
  const r = await runChild(
    `
    const fs = require('node:fs');
    const server = await perse.startLocalServer();
    const fds = () => fs.readdirSync('/proc/self/fd').length;
    const base = fds();
    let max = base;
    const opts = { baseUrl: server.url, privateKey: server.privateKey };
    for (let round = 0; round < 100; round++) {
      await Promise.all(Array.from({ length: 20 }, () => new perse.PerseClient(opts).enrollment.list()));
      max = Math.max(max, fds());
    }
    const logins = server.requests().filter((r) => r.path.endsWith('/login')).length;
    await server.close();
    report({ grew: max - base, logins });`,
    { timeoutMs: ms(120_000) },
  )
  t.is(r.code, 0, r.stderr)
  t.is(r.report.logins, 1)
  // 20 calls at once need about 20 connections (and the server's side of each, in process).
  t.true(r.report.grew <= 80, `open descriptors grew by ${r.report.grew}`)
  t.log(`descriptors grew by ${r.report.grew} over 2,000 per-call clients`)
})

test.serial('at its connection cap the local server closes an idle keep-alive connection for a new client', async (t) => {
  const capped = await startLocalServer({ maxConnections: 2 })
  t.teardown(() => capped.close())
  // Two keep-alive connections that made one request each and then sit idle.
  const idle = await Promise.all(
    [0, 1].map(
      () =>
        new Promise((resolve, reject) => {
          const s = net.connect(capped.port, '127.0.0.1', () => s.write('GET /v0/face/enrollment/list HTTP/1.1\r\nHost: x\r\n\r\n'))
          s.once('data', () => resolve(s))
          s.on('error', reject)
        }),
    ),
  )
  const closed = idle.map((s) => new Promise((r) => s.once('close', r)))
  const c = new PerseClient({ baseUrl: capped.url, privateKey: capped.privateKey, maxRetries: 0, timeoutMs: ms(5000) })
  t.teardown(() => c.close())
  const started = Date.now()
  t.true(Array.isArray((await c.enrollment.list()).userTokens), 'served instead of waiting 30 s behind idle connections')
  t.log(`served after ${Date.now() - started} ms`)
  await Promise.race([Promise.any(closed), new Promise((r) => setTimeout(r, ms(5000)))])
  t.true(idle.some((s) => s.destroyed || s.readyState === 'closed'), 'an idle connection was closed to make room')
  for (const s of idle) s.destroy()
})

test('closing one client of a shared session leaves the others working', async (t) => {
  const opts = { baseUrl: server.url, privateKey: server.privateKey }
  const a = new PerseClient(opts)
  const b = new PerseClient(opts)
  await a.enrollment.list()
  a.close()
  t.true(Array.isArray((await b.enrollment.list()).userTokens))
  t.deepEqual(a.toJSON(), { baseUrl: server.url, hasToken: false, closed: true }, 'a closed client holds no token')
  b.close()
})
