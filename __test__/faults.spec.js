'use strict'

// The fault suite: every transport failure, for every call type, ends as one PerseError with
// the documented code, in bounded time, after exactly the attempts the retry policy allows
// (enrollment create/update never resent once a response began), with no unhandled rejection
// and a responsive event loop. Then misuse: bad JS input of every kind rejects cleanly.

const test = require('ava')
const fs = require('node:fs')
const path = require('node:path')
const { monitorEventLoopDelay } = require('node:perf_hooks')

const { PerseClient, isPerseError } = require('..')
const { startFaultServer, refusedUrl } = require('./helpers/fault-server')

const astronaut = fs.readFileSync(path.join(__dirname, 'fixtures', 'astronaut.jpg'))
const CONSENT = { enduserConsent: true }
const { ms } = require('./helpers/time')
// 300 ms natively: a 504 to an upload must arrive well within it (scaled under emulation).
const TIMEOUT = ms(300)
const RETRIES = 2
const BACKOFF_CAP = 200

const unhandled = []
process.on('unhandledRejection', (e) => unhandled.push(e))
const lag = monitorEventLoopDelay({ resolution: 10 })
lag.enable()
test.after.always(() => lag.disable())

const calls = {
  detect: { run: (c) => c.detect(astronaut, CONSENT), key: 'POST /v0/face/detect', idempotent: true },
  compare: { run: (c) => c.compare(astronaut, { userToken: 'usr_1' }, CONSENT), key: 'POST /v0/face/compare', idempotent: true },
  list: { run: (c) => c.enrollment.list(), key: 'GET /v0/face/enrollment/list', idempotent: true },
  delete: { run: (c) => c.enrollment.delete('usr_1'), key: 'DELETE /v0/face/enrollment/usr_1', idempotent: true },
  enroll: { run: (c) => c.enroll(astronaut, CONSENT), key: 'POST /v0/face/enrollment', idempotent: false },
  update: { run: (c) => c.enrollment.update('usr_1', astronaut, CONSENT), key: 'PUT /v0/face/enrollment', idempotent: false },
}

// fault: [code, attempts for calls safe to repeat, extra wait the server asks for (Retry-After)]
const faults = {
  reset: ['network_error', RETRIES + 1, 0],
  500: ['server_error', RETRIES + 1, 0],
  502: ['server_error', RETRIES + 1, 0],
  503: ['server_error', RETRIES + 1, 1000],
  504: ['server_error', RETRIES + 1, 0],
  429: ['rate_limited', RETRIES + 1, 0],
  html: ['unexpected_error', 1, 0],
  empty: ['unexpected_error', 1, 0],
  truncated: ['unexpected_error', RETRIES + 1, 0],
  'stall-headers': ['timeout', RETRIES + 1, 0],
  'stall-body': ['timeout', RETRIES + 1, 0],
  401: ['unauthorized', 1, 0],
}

function client(baseUrl) {
  return new PerseClient({ baseUrl, token: 'e30.e30.sig', timeoutMs: TIMEOUT, maxRetries: RETRIES, retryBaseDelayMs: 50, retryMaxDelayMs: BACKOFF_CAP })
}

for (const [fault, [code, idempotentAttempts, retryAfterMs]] of Object.entries(faults)) {
  for (const [name, call] of Object.entries(calls)) {
    test(`${fault} → ${name} rejects ${code} after the allowed attempts`, async (t) => {
      const server = await startFaultServer(fault)
      const c = client(server.url)
      t.teardown(() => {
        c.close()
        return server.close()
      })
      const started = Date.now()
      const e = await t.throwsAsync(call.run(c))
      const elapsed = Date.now() - started
      t.true(isPerseError(e), String(e))
      t.is(e.code, code, e.message)
      const expected = call.idempotent ? idempotentAttempts : 1
      t.is(server.count(call.key), expected, 'requests the server saw')
      t.is(e.attempts, expected)
      if (!call.idempotent && expected === 1 && idempotentAttempts > 1) t.false(e.retryable, 'never resent once a response began')
      const bound = TIMEOUT * (RETRIES + 1) + BACKOFF_CAP * RETRIES + retryAfterMs * RETRIES + 1500
      t.true(elapsed < bound, `settled in ${elapsed} ms (bound ${bound} ms)`)
      if (code === 'server_error') t.regex(e.message, new RegExp(String(fault)))
      t.deepEqual(unhandled, [])
    })
  }
}

for (const [name, call] of Object.entries(calls)) {
  test(`refused connection → ${name}: network_error, retried even for enrollment (never reached a server)`, async (t) => {
    const c = client(await refusedUrl())
    const e = await t.throwsAsync(call.run(c))
    t.is(e.code, 'network_error', e.message)
    t.is(e.attempts, RETRIES + 1)
    t.true(e.retryable)
    c.close()
  })
}

test('a 503 with Retry-After is waited for, then the call succeeds', async (t) => {
  const failing = await startFaultServer('503')
  const c = client(failing.url)
  const started = Date.now()
  await t.throwsAsync(c.enrollment.list(), { code: 'server_error' })
  t.true(Date.now() - started >= 2 * 1000 - 50, 'two retries, each after Retry-After: 1')
  c.close()
  await failing.close()
})

test('maxRetries: 0 and per-call overrides', async (t) => {
  const server = await startFaultServer('500')
  const c = client(server.url)
  const e = await t.throwsAsync(c.detect(astronaut, { ...CONSENT, maxRetries: 0 }))
  t.is(e.attempts, 1)
  const e2 = await t.throwsAsync(c.detect(astronaut, { ...CONSENT, maxRetries: 1 }))
  t.is(e2.attempts, 2)
  t.is(server.count('POST /v0/face/detect'), 3)
  c.close()
  await server.close()
})

test('the event loop stayed responsive through the faults', (t) => {
  // Measured across the whole file; max blocking of the JS thread well under a frame budget.
  t.true(lag.max / 1e6 < 250, `max event-loop delay ${(lag.max / 1e6).toFixed(1)} ms`)
  t.deepEqual(unhandled, [])
})

// ---- misuse -------------------------------------------------------------------------------

function detached() {
  const ab = new ArrayBuffer(16)
  structuredClone(ab, { transfer: [ab] })
  return ab
}

const misuse = [
  ['detect(undefined)', (c) => c.detect(undefined, CONSENT), 'invalid_argument'],
  ['detect(null)', (c) => c.detect(null, CONSENT), 'invalid_argument'],
  ['detect(NaN)', (c) => c.detect(NaN, CONSENT), 'invalid_argument'],
  ['detect(12)', (c) => c.detect(12, CONSENT), 'invalid_argument'],
  ['detect(Symbol)', (c) => c.detect(Symbol('x'), CONSENT), 'invalid_argument'],
  ['detect({})', (c) => c.detect({}, CONSENT), 'invalid_argument'],
  ['detect(Promise)', (c) => c.detect(Promise.resolve(astronaut), CONSENT), 'invalid_argument'],
  ['detect(huge path string)', (c) => c.detect('a'.repeat(1_000_000), CONSENT), 'invalid_argument'],
  ['detect(detached ArrayBuffer)', (c) => c.detect(detached(), CONSENT), 'invalid_argument'],
  ['detect(view of a detached ArrayBuffer)', (c) => {
    const ab = new ArrayBuffer(8)
    const view = new Uint8Array(ab)
    structuredClone(ab, { transfer: [ab] })
    return c.detect(view, CONSENT)
  }, 'invalid_argument'],
  ['detect(empty Buffer)', (c) => c.detect(Buffer.alloc(0), CONSENT), 'empty_file'],
  ['detect(random bytes)', (c) => c.detect(Buffer.from('not an image at all'), CONSENT), 'invalid_file_type'],
  ['options = 42', (c) => c.detect(astronaut, 42), 'invalid_argument'],
  ['options = []', (c) => c.detect(astronaut, []), 'invalid_argument'],
  ['timeoutMs: NaN', (c) => c.detect(astronaut, { ...CONSENT, timeoutMs: NaN }), 'invalid_argument'],
  ['timeoutMs: -100', (c) => c.detect(astronaut, { ...CONSENT, timeoutMs: -100 }), 'invalid_argument'],
  ['timeoutMs: 0', (c) => c.detect(astronaut, { ...CONSENT, timeoutMs: 0 }), 'invalid_argument'],
  ['timeoutMs: 1e12', (c) => c.detect(astronaut, { ...CONSENT, timeoutMs: 1e12 }), 'invalid_argument'],
  ['maxRetries: Infinity', (c) => c.detect(astronaut, { ...CONSENT, maxRetries: Infinity }), 'invalid_argument'],
  ['maxRetries: 1000', (c) => c.detect(astronaut, { ...CONSENT, maxRetries: 1000 }), 'invalid_argument'],
  ['enduserConsent: "true"', (c) => c.detect(astronaut, { enduserConsent: 'true' }), 'invalid_argument'],
  ['enduserConsent missing', (c) => c.detect(astronaut, {}), 'consent_required'],
  ['signal already aborted', (c) => c.detect(astronaut, { ...CONSENT, signal: AbortSignal.abort() }), 'aborted'],
  ['signal: "yes"', (c) => c.detect(astronaut, { ...CONSENT, signal: 'yes' }), 'invalid_argument'],
  ['prepare: "shrink"', (c) => c.detect(astronaut, { ...CONSENT, prepare: 'shrink' }), 'invalid_argument'],
  ['compare with one side', (c) => c.compare(astronaut, undefined, CONSENT), 'invalid_argument'],
  ['compare({ userToken: null })', (c) => c.compare({ userToken: null }, astronaut, CONSENT), 'invalid_argument'],
  ['compare({ userToken: "a\\u0000b" })', (c) => c.compare({ userToken: 'a\u0000b' }, astronaut, CONSENT), 'invalid_argument'],
  ['update(huge token)', (c) => c.enrollment.update('u'.repeat(100_000), astronaut, CONSENT), 'invalid_argument'],
  ['delete(42)', (c) => c.enrollment.delete(42), 'invalid_argument'],
  ['setToken(NaN)', (c) => c.setToken(NaN), 'invalid_argument'],
  ['login({})', (c) => c.login({}), 'invalid_argument'],
  ['prototype.detect with this = undefined', () => PerseClient.prototype.detect.call(undefined, astronaut, CONSENT), 'invalid_argument'],
  ['prototype.setToken with this = {}', () => PerseClient.prototype.setToken.call({}, 'a.b.c'), 'invalid_argument'],
  ['a method taken from an instance', (c) => {
    const { detect } = c
    return detect(astronaut, {})
  }, 'consent_required'],
]

test(`${misuse.length} misuse cases each reject with a documented code, sending nothing`, async (t) => {
  t.true(misuse.length >= 25)
  const server = await startFaultServer('ok')
  const c = client(server.url)
  t.teardown(() => {
    c.close()
    return server.close()
  })
  for (const [label, run, code] of misuse) {
    let p
    t.notThrows(() => {
      p = run(c)
    }, `${label} must not throw synchronously`)
    t.true(p instanceof Promise, label)
    const e = await t.throwsAsync(p, undefined, label)
    t.true(isPerseError(e), `${label}: ${e}`)
    t.is(e.code, code, `${label}: ${e.message}`)
  }
  t.is(server.total(), 0, 'no request was sent for any of them')
})
