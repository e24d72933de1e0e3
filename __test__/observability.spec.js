'use strict'

// Observability (issue 25, docs/observability.md): request ids on results and errors, the
// `headers` options and their refusals, the diagnostics_channel channels (events in order with
// the documented context, nothing published without a subscriber) and the debug log without
// secrets. Against the contract test server, serially: tests script its answers.

const test = require('ava')
const dc = require('node:diagnostics_channel')
const path = require('node:path')

const { PerseClient } = require('..')
const { startContractServer } = require('./helpers/contract-server')
const { rejects, throwsPerse } = require('./helpers/assert')
const { runChild } = require('./helpers/child')

const ASTRONAUT = path.join(__dirname, 'fixtures', 'astronaut.jpg')
const CONSENT = { enduserConsent: true }
const LIST = { user_tokens: ['usr_1'], total_users: 1, time_taken: 0.01, status: true }

let server
test.before(async () => {
  server = await startContractServer()
})
test.after.always(() => server.close())

function client(extra = {}) {
  return new PerseClient({ baseUrl: server.url, token: server.mintToken(), maxRetries: 0, retryBaseDelayMs: 1, retryMaxDelayMs: 5, ...extra })
}

/** Runs `fn` and returns the requests the server saw meanwhile. */
async function seen(fn) {
  const before = server.requests.length
  await fn()
  return server.requests.slice(before)
}

/** Subscribes `handlers` to the call channel for the length of `fn`. */
async function subscribed(handlers, fn) {
  const ch = dc.tracingChannel('perse-node:call')
  ch.subscribe(handlers)
  try {
    return await fn()
  } finally {
    ch.unsubscribe(handlers)
  }
}

/** Records every event of the call channel as [name, a snapshot of the context]. */
function recorder() {
  const events = []
  const snap = (name) => (ctx) => events.push([name, { ...ctx, attempts: ctx.attempts && [...ctx.attempts] }])
  return { events, handlers: { start: snap('start'), end: snap('end'), asyncStart: snap('asyncStart'), asyncEnd: snap('asyncEnd'), error: snap('error') } }
}

test.serial('every attempt of a call carries one X-Request-Id; without a server id the result has the one sent', async (t) => {
  const c = client({ maxRetries: 1 })
  server.script({ status: 503, body: '' })
  let r
  const reqs = await seen(async () => {
    r = await c.enrollment.list()
  })
  t.is(reqs.length, 2)
  const [a, b] = reqs.map((q) => q.headers['x-request-id'])
  t.regex(a, /^[0-9a-f]{16}$/)
  t.is(a, b, 'a retry carries the same id')
  t.is(r.requestId, a)
  t.false('x-perse-call' in reqs[0].headers, 'one id scheme: X-Perse-Call is gone')
  const again = await seen(() => c.enrollment.list())
  t.not(again[0].headers['x-request-id'], a, 'a new call, a new id')
})

test.serial("the server's request id wins, on results and on errors", async (t) => {
  const c = client()
  server.script({ status: 200, body: JSON.stringify(LIST), headers: { 'x-request-id': 'srv-result-1' } })
  t.is((await c.enrollment.list()).requestId, 'srv-result-1')
  server.script({ status: 400, body: JSON.stringify({ code: 'user_token_not_found', message: 'no', status: false }), headers: { 'x-amzn-requestid': 'aws-err-2' } })
  const e = await rejects(t, c.enrollment.delete('usr_x'), 'user_token_not_found')
  t.is(e.requestId, 'aws-err-2')
  // An id that could not be shown safely is ignored: the one sent stays.
  server.script({ status: 500, body: '', headers: { 'x-request-id': 'has space' } })
  let err
  const reqs = await seen(async () => {
    err = await rejects(t, c.enrollment.list(), 'server_error')
  })
  t.is(err.requestId, reqs[0].headers['x-request-id'], 'else the id sent')
  t.is(err.trace, undefined, 'no trace on an unobserved call')
})

test.serial('a refused call has no requestId; a caller-given X-Request-Id is the call id', async (t) => {
  const c = client()
  const e = await rejects(t, c.detect(ASTRONAUT), 'consent_required')
  t.is(e.requestId, undefined, 'nothing was sent')
  let r
  const reqs = await seen(async () => {
    r = await c.detect(ASTRONAUT, { ...CONSENT, headers: { 'X-Request-Id': 'order-42' } })
  })
  t.is(reqs[0].headers['x-request-id'], 'order-42')
  t.is(r.requestId, 'order-42')
})

test.serial("headers: the client's on every request, a call's override them by name", async (t) => {
  const c = client({ headers: { 'X-Tenant': 'acme', 'X-Env': 'test' } })
  const reqs = await seen(async () => {
    await c.enrollment.list()
    await c.enrollment.list({ headers: { 'x-tenant': 'globex', 'X-Extra': '1' } })
  })
  t.is(reqs[0].headers['x-tenant'], 'acme')
  t.is(reqs[0].headers['x-env'], 'test')
  t.is(reqs[1].headers['x-tenant'], 'globex')
  t.is(reqs[1].headers['x-extra'], '1')
  t.is(reqs[1].headers['x-env'], 'test')
  t.regex(reqs[1].authorization, /^Bearer /, 'the SDK still sends its own')
})

test.serial('headers: refused names, line breaks, bad values and sizes are invalid_argument', async (t) => {
  const c = client()
  const bad = [
    { Authorization: 'Bearer stolen' },
    { 'content-type': 'text/plain' },
    { 'CONTENT-LENGTH': '1' },
    { 'X-A': 'a\r\nX-Injected: 1' },
    { 'X-A': 'a\nb' },
    { 'X-A': 'é' },
    { 'Bad Name': 'v' },
    { 'X-A': 42 },
    { 'X-A': 'v'.repeat(4097) },
    Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`x-${i}`, 'v'])),
    ['X-A', 'v'],
  ]
  const reqs = await seen(async () => {
    for (const headers of bad) {
      const e = await rejects(t, c.enrollment.list({ headers }), 'invalid_argument')
      t.regex(e.message, /headers/)
      throwsPerse(t, () => new PerseClient({ baseUrl: server.url, headers }), 'invalid_argument')
    }
  })
  t.is(reqs.length, 0, 'nothing was sent')
  throwsPerse(t, () => new PerseClient({ baseUrl: server.url, headers: { 'X-Request-Id': 'same-for-all' } }), 'invalid_argument')
  const e = await rejects(t, c.enrollment.list({ headers: { Authorization: 'Bearer x' } }), 'invalid_argument')
  t.false(e.message.includes('Bearer x'), 'the value is not quoted')
})

test.serial('diagnostics_channel: a retried call publishes start, end, asyncStart, asyncEnd with the documented context', async (t) => {
  const c = client({ maxRetries: 1 })
  const { events, handlers } = recorder()
  server.script({ status: 503, body: '' })
  let r
  const reqs = await seen(() =>
    subscribed(handlers, async () => {
      r = await c.detect(ASTRONAUT, CONSENT)
    }),
  )
  t.deepEqual(
    events.map(([n]) => n),
    ['start', 'end', 'asyncStart', 'asyncEnd'],
  )
  const [, start] = events[0]
  t.is(start.version, 1)
  t.is(start.operation, 'detect')
  t.is(start.method, 'POST')
  t.is(start.origin, new URL(server.url).origin)
  t.deepEqual(start.headers, {})
  const [, end] = events[3]
  t.is(end.requestId, reqs[0].headers['x-request-id'])
  t.is(end.requestId, r.requestId)
  t.deepEqual(
    end.attempts.map((a) => [a.status, a.code, a.next]),
    [
      [503, 'server_error', 'retry'],
      [200, undefined, 'done'],
    ],
  )
  t.true(end.attempts.every((a) => typeof a.ms === 'number' && a.ms >= 0))
  t.is(end.status, 200)
  t.false(end.refreshed)
  t.deepEqual(end.uploads, [{ bytes: r.uploaded.bytes, format: 'jpeg' }])
  t.is(end.result, r)
  t.deepEqual(r.trace.attempts, end.attempts, 'a traced result carries its trace')
})

test.serial('diagnostics_channel: a failure publishes error before asyncStart and asyncEnd, with its code', async (t) => {
  const c = client()
  const { events, handlers } = recorder()
  server.script({ status: 500, body: '' })
  const e = await subscribed(handlers, () => rejects(t, c.enrollment.list(), 'server_error'))
  t.deepEqual(
    events.map(([n]) => n),
    ['start', 'end', 'error', 'asyncStart', 'asyncEnd'],
  )
  const [, last] = events[4]
  t.is(last.operation, 'enrollment.list')
  t.is(last.method, 'GET')
  t.is(last.code, 'server_error')
  t.is(last.error, e)
  t.is(last.requestId, e.requestId)
  t.deepEqual(
    last.attempts.map((a) => [a.status, a.next]),
    [[500, 'fail']],
  )
})

test.serial('diagnostics_channel: a subscriber adds headers to the call (trace context), under the caller’s own', async (t) => {
  const c = client()
  const handlers = {
    start(ctx) {
      ctx.headers.traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
      ctx.headers['x-tenant'] = 'from-subscriber'
    },
  }
  const reqs = await seen(() => subscribed(handlers, () => c.enrollment.list({ headers: { 'x-tenant': 'caller' } })))
  t.is(reqs[0].headers.traceparent, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')
  t.is(reqs[0].headers['x-tenant'], 'caller')
  // A subscriber's header goes through the same checks.
  const evil = { start: (ctx) => (ctx.headers.Authorization = 'Bearer evil') }
  await subscribed(evil, () => rejects(t, c.enrollment.list(), 'invalid_argument'))
})

test.serial('the token-refresh and attempt channels: a 401, then a login and the resend', async (t) => {
  const c = new PerseClient({ baseUrl: server.url, privateKey: server.privateKey, maxRetries: 0 })
  await c.enrollment.list() // logs in
  server.revokeAllTokens()
  const refreshes = []
  const attempts = []
  const onRefresh = (m) => refreshes.push(m)
  const onAttempt = (m) => attempts.push(m)
  dc.subscribe('perse-node:token-refresh', onRefresh)
  dc.subscribe('perse-node:attempt', onAttempt)
  const { events, handlers } = recorder()
  let r
  try {
    r = await subscribed(handlers, () => c.enrollment.list())
  } finally {
    dc.unsubscribe('perse-node:token-refresh', onRefresh)
    dc.unsubscribe('perse-node:attempt', onAttempt)
  }
  t.true(events.at(-1)[1].refreshed)
  t.deepEqual(
    attempts.map((a) => [a.operation, a.attempt, a.status, a.next, a.requestId === r.requestId]),
    [
      ['enrollment.list', 1, 401, 'refresh', true],
      ['enrollment.list', 2, 200, 'done', true],
    ],
  )
  t.is(refreshes.length, 1)
  t.like(refreshes[0], { version: 1, operation: 'enrollment.list', ok: true, requestId: r.requestId })
  t.true(r.trace.refreshed)
})

test.serial('no subscriber, no log: nothing is published and nothing is traced', async (t) => {
  const names = ['start', 'end', 'asyncStart', 'asyncEnd', 'error'].map((e) => `tracing:perse-node:call:${e}`).concat(['perse-node:attempt', 'perse-node:token-refresh'])
  let published = 0
  const originals = names.map((n) => {
    const ch = dc.channel(n)
    const publish = ch.publish
    ch.publish = function (...args) {
      published++
      return publish.apply(this, args)
    }
    return [ch, publish]
  })
  try {
    const c = client()
    const r = await c.detect(ASTRONAUT, CONSENT)
    server.script({ status: 500, body: '' })
    const e = await rejects(t, c.enrollment.list(), 'server_error')
    t.is(published, 0)
    t.false('trace' in r, 'the native side kept no trace')
    t.false('trace' in e)
    t.is(typeof r.requestId, 'string', 'request ids need no subscriber')
    // The spy sees a subscribed call, so the zero above is not a blind spot.
    await subscribed({ start() {} }, () => c.enrollment.list())
    t.true(published >= 4)
  } finally {
    for (const [ch, publish] of originals) ch.publish = publish
  }
})

test.serial('logger: one line per attempt and the outcome, with no token or private key in it', async (t) => {
  const lines = []
  const logger = { debug: (line) => lines.push(line) }
  const key = server.privateKey
  const c = new PerseClient({ baseUrl: server.url, privateKey: key, maxRetries: 1, retryBaseDelayMs: 1, retryMaxDelayMs: 5 })
  await c.enrollment.list() // the process's session for this key now holds a token
  c.configure({ logger })
  server.revokeAllTokens()
  server.script({ status: 503, body: '' }) // then the revoked token's 401, a login and the resend
  const r = await c.enrollment.list()
  // A server that quotes the credentials back in its error message.
  const token = server.mintToken()
  await c.setToken(token)
  server.script({ status: 400, body: JSON.stringify({ code: 'user_token_not_found', message: `bad ${token} for ${key}`, status: false }) })
  await rejects(t, c.enrollment.delete('usr_x'), 'user_token_not_found')
  const text = lines.join('\n')
  const id = r.requestId
  t.regex(text, new RegExp(`enrollment.list attempt 1: 503 in [0-9.]+ ms, requestId ${id} \\(server_error\\) → retry`))
  t.regex(text, new RegExp(`enrollment.list attempt 2: 401 in [0-9.]+ ms, requestId ${id} \\(unauthorized\\) → refresh`))
  t.regex(text, new RegExp(`enrollment.list attempt 3: 200 in [0-9.]+ ms, requestId ${id} → done`))
  t.regex(text, /enrollment.list: fetched a new token for this call/)
  t.regex(text, /enrollment.delete attempt 1: 400 in [0-9.]+ ms, requestId [0-9a-f]{16} \(user_token_not_found\) → fail/)
  t.regex(text, /enrollment.delete failed: user_token_not_found after 1 attempt\(s\)/)
  t.false(text.includes(key), 'no private key')
  t.false(text.includes(token), 'no token')
  t.false(text.includes(token.split('.')[2]), 'no JWT signature')
  c.configure({ logger: null })
  const before = lines.length
  await c.enrollment.list()
  t.is(lines.length, before, 'logger: null removes it')
  throwsPerse(t, () => new PerseClient({ baseUrl: server.url, logger: { info() {} } }), 'invalid_argument')
  c.configure({
    logger: {
      debug() {
        throw new Error('logger down')
      },
    },
  })
  t.is((await c.enrollment.list()).status, true, 'a throwing logger does not fail the call')
})

test.serial('NODE_DEBUG=perse-node writes the same lines to stderr, without secrets', async (t) => {
  const token = server.mintToken()
  const r = await runChild(
    `
    const c = new perse.PerseClient({ baseUrl: ${JSON.stringify(server.url)}, token: ${JSON.stringify(token)}, maxRetries: 0 })
    const res = await c.enrollment.list()
    report(res.requestId)
  `,
    { env: { NODE_DEBUG: 'perse-node' } },
  )
  t.is(r.code, 0, r.stderr)
  t.regex(r.stderr, new RegExp(`PERSE-NODE \\d+: enrollment.list attempt 1: 200 in [0-9.]+ ms, requestId ${r.report} → done`))
  t.false(r.stderr.includes(token))
  const quiet = await runChild(`const c = new perse.PerseClient({ baseUrl: ${JSON.stringify(server.url)}, token: ${JSON.stringify(token)} }); await c.enrollment.list()`)
  t.is(quiet.stderr, '', 'off by default')
})
