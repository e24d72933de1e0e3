'use strict'

// The SDK core against the contract test server: exact wire format, every input type,
// every call, consent, argument checks and error mapping. Serial: tests count the requests
// the shared server saw and script its answers.

const test = require('ava')
const fs = require('node:fs')
const path = require('node:path')
const http = require('node:http')
const { pathToFileURL } = require('node:url')
const { inspect } = require('node:util')

const perse = require('..')
const { PerseClient, PerseError, isPerseError } = perse
const { startContractServer } = require('./helpers/contract-server')
const { rejects } = require('./helpers/assert')

const FIX = path.join(__dirname, 'fixtures')
const ASTRONAUT = path.join(FIX, 'astronaut.jpg')
const astronaut = fs.readFileSync(ASTRONAUT)
const astronautPng = fs.readFileSync(path.join(FIX, 'astronaut.png'))
const CONSENT = { enduserConsent: true }

let server
test.before(async () => {
  server = await startContractServer()
})
test.after.always(() => server.close())

function client(extra = {}) {
  return new PerseClient({ baseUrl: server.url, token: server.mintToken(), maxRetries: 0, ...extra })
}

/** Runs `fn` and returns the requests the server saw meanwhile. */
async function seen(fn) {
  const before = server.requests.length
  await fn()
  return server.requests.slice(before)
}

function assertImagePart(t, part, name, bytes, type = 'image/jpeg') {
  t.is(part.name, name)
  t.is(part.contentType, type)
  t.is(part.filename, type === 'image/png' ? 'image.png' : 'image.jpg')
  t.true(part.data.equals(bytes), `${name} carries the image bytes unchanged`)
}

function assertConsent(t, parts) {
  const consent = parts.find((p) => p.name === 'client_declaration_enduser_consent')
  t.truthy(consent)
  t.is(consent.data.toString(), 'true')
  t.is(consent.filename, undefined)
}

const inputs = {
  Buffer: () => astronaut,
  Uint8Array: () => new Uint8Array(astronaut),
  'Uint8Array view into a larger buffer': () => {
    const big = Buffer.concat([Buffer.alloc(7), astronaut, Buffer.alloc(9)])
    return new Uint8Array(big.buffer, big.byteOffset + 7, astronaut.length)
  },
  ArrayBuffer: () => astronaut.buffer.slice(astronaut.byteOffset, astronaut.byteOffset + astronaut.length),
  'file path': () => ASTRONAUT,
  'file URL': () => pathToFileURL(ASTRONAUT),
}

for (const [kind, make] of Object.entries(inputs)) {
  test.serial(`detect sends a ${kind} as the exact multipart wire format`, async (t) => {
    const c = client()
    let result
    const reqs = await seen(async () => {
      result = await c.detect(make(), CONSENT)
    })
    t.is(reqs.length, 1)
    const [r] = reqs
    t.is(r.method, 'POST')
    t.is(r.path, '/v0/face/detect')
    t.regex(r.authorization, /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/)
    t.regex(r.contentType, /^multipart\/form-data; boundary=/)
    // A sized body, not chunked: some servers and proxies refuse chunked uploads.
    t.is(r.headers['content-length'], String(r.body.length))
    t.is(r.headers['transfer-encoding'], undefined)
    t.deepEqual(r.parts.map((p) => p.name), ['image_file', 'client_declaration_enduser_consent'])
    assertImagePart(t, r.parts[0], 'image_file', astronaut)
    assertConsent(t, r.parts)
    t.regex(r.headers['user-agent'], /^perse-node\//)
    t.is(result.status, true)
    t.is(result.code, 'success')
    t.is(typeof result.message, 'string')
    c.close()
  })
}

test.serial('detect maps the response to camelCase and ignores unknown fields', async (t) => {
  const c = client()
  const r = await c.detect(astronaut, CONSENT)
  t.is(r.totalFaces, 1)
  const [f] = r.faces
  t.deepEqual(f.boundingBox, [180, 40, 120, 150])
  t.deepEqual(f.landmarks.rightEye, [210, 90])
  t.deepEqual(f.landmarks.mouthLeft, [255, 150])
  t.deepEqual(f.faceMetrics, { underexposure: 0.05, overexposure: 0.1, sharpness: 0.8, color: 0.02, rotation: 4 })
  t.is(f.livenessScore, 0.93)
  t.false('addedLater' in f)
  t.false('added_later' in f)
  t.is(r.imageMetrics.sharpness, 0.7)
  t.is(r.imageMetrics.color, undefined)
  t.is(r.timeTaken, 0.123)
  t.deepEqual(r.defaultThresholds, { underexposure: 0.5, overexposure: 0.5, sharpness: 0.3, liveness: 0.5 })
  c.close()
})

test.serial('a PNG goes up as image/png', async (t) => {
  const c = client()
  const [r] = await seen(() => c.detect(astronautPng, CONSENT))
  assertImagePart(t, r.parts[0], 'image_file', astronautPng, 'image/png')
  c.close()
})

test.serial('compare sends image_file1 / image_file2, or image_token1 / image_token2 for { userToken }', async (t) => {
  const c = client()
  const { userToken } = await c.enroll(astronaut, CONSENT)
  let res
  const [files] = await seen(async () => {
    res = await c.compare(astronaut, astronautPng, CONSENT)
  })
  t.is(files.path, '/v0/face/compare')
  t.deepEqual(files.parts.map((p) => p.name), ['image_file1', 'image_file2', 'client_declaration_enduser_consent'])
  assertImagePart(t, files.parts[0], 'image_file1', astronaut)
  assertImagePart(t, files.parts[1], 'image_file2', astronautPng, 'image/png')
  t.is(res.similarity, 0.91)
  t.deepEqual(res.defaultThresholds, { similarity: 0.75 })

  const [mixed] = await seen(() => c.compare({ userToken }, ASTRONAUT, CONSENT))
  t.deepEqual(mixed.parts.map((p) => p.name), ['image_token1', 'image_file2', 'client_declaration_enduser_consent'])
  t.is(mixed.parts[0].data.toString(), userToken)

  const [tokens] = await seen(() => c.compare(astronaut, { userToken }, CONSENT))
  t.deepEqual(tokens.parts.map((p) => p.name), ['image_file1', 'image_token2', 'client_declaration_enduser_consent'])
  assertConsent(t, tokens.parts)
  c.close()
})

test.serial('enrollment lifecycle: create, list, update, delete on the wire', async (t) => {
  const c = client()
  let enrolled
  const [create] = await seen(async () => {
    enrolled = await c.enroll(astronaut, CONSENT)
  })
  t.is(create.method, 'POST')
  t.is(create.path, '/v0/face/enrollment')
  assertImagePart(t, create.parts[0], 'image_file', astronaut)
  assertConsent(t, create.parts)
  t.regex(enrolled.userToken, /^usr_/)
  t.is(enrolled.code, 'success')

  const [list] = await seen(async () => {
    const l = await c.enrollment.list()
    t.true(l.userTokens.includes(enrolled.userToken))
    t.is(l.totalUsers, l.userTokens.length)
  })
  t.is(list.method, 'GET')
  t.is(list.path, '/v0/face/enrollment/list')
  t.is(list.body.length, 0)

  const [update] = await seen(async () => {
    const u = await c.enrollment.update(enrolled.userToken, astronautPng, CONSENT)
    t.is(u.userToken, enrolled.userToken)
  })
  t.is(update.method, 'PUT')
  t.is(update.path, '/v0/face/enrollment')
  t.deepEqual(update.parts.map((p) => p.name), ['image_file', 'user_token', 'client_declaration_enduser_consent'])
  t.is(update.parts[1].data.toString(), enrolled.userToken)

  const [del] = await seen(async () => {
    const d = await c.enrollment.delete(enrolled.userToken)
    t.is(d.status, true)
  })
  t.is(del.method, 'DELETE')
  t.is(del.path, `/v0/face/enrollment/${enrolled.userToken}`)
  await rejects(t, c.enrollment.delete(enrolled.userToken), 'user_token_not_found')
  t.is(typeof c.enrollment.create, 'function')
  t.is(c.enrollment.read, c.enrollment.list)
  c.close()
})

test.serial('user tokens are percent-encoded in the delete path', async (t) => {
  const c = client()
  const [r] = await seen(() => c.enrollment.delete('a/b c?').catch(() => {}))
  t.is(r.path, '/v0/face/enrollment/a%2Fb%20c%3F')
  c.close()
})

const biometric = {
  detect: (c, o) => c.detect(astronaut, o),
  compare: (c, o) => c.compare(astronaut, astronaut, o),
  enroll: (c, o) => c.enroll(astronaut, o),
  'enrollment.create': (c, o) => c.enrollment.create(astronaut, o),
  'enrollment.update': (c, o) => c.enrollment.update('usr_x', astronaut, o),
  isSimilar: (c, o) => c.isSimilar(astronaut, astronaut, o),
  quality: (c, o) => c.quality(astronaut, o),
}

for (const [name, call] of Object.entries(biometric)) {
  for (const [label, opts] of [['missing options', undefined], ['no enduserConsent', {}], ['enduserConsent: false', { enduserConsent: false }]]) {
    test.serial(`${name} with ${label} rejects consent_required and sends nothing`, async (t) => {
      const c = client()
      const reqs = await seen(() => rejects(t, call(c, opts), 'consent_required'))
      t.is(reqs.length, 0)
      c.close()
    })
  }
}

const misuse = [
  ['detect(42)', (c) => c.detect(42, CONSENT)],
  ['detect(null)', (c) => c.detect(null, CONSENT)],
  ['detect()', (c) => c.detect()],
  ['detect({})', (c) => c.detect({}, CONSENT)],
  ['detect([])', (c) => c.detect([], CONSENT)],
  ['detect(true)', (c) => c.detect(true, CONSENT)],
  ['detect(fn)', (c) => c.detect(() => 1, CONSENT)],
  ["detect('')", (c) => c.detect('', CONSENT)],
  ['detect(path with NUL)', (c) => c.detect('a\0b.jpg', CONSENT)],
  ['detect(huge string)', (c) => c.detect('x'.repeat(100_000), CONSENT)],
  ['detect(img, 5)', (c) => c.detect(astronaut, 5)],
  ["detect(img, 'yes')", (c) => c.detect(astronaut, 'yes')],
  ["enduserConsent: 'true'", (c) => c.detect(astronaut, { enduserConsent: 'true' })],
  ['enduserConsent: 1', (c) => c.detect(astronaut, { enduserConsent: 1 })],
  ['timeoutMs: NaN', (c) => c.detect(astronaut, { ...CONSENT, timeoutMs: NaN })],
  ['timeoutMs: -1', (c) => c.detect(astronaut, { ...CONSENT, timeoutMs: -1 })],
  ['timeoutMs: Infinity', (c) => c.detect(astronaut, { ...CONSENT, timeoutMs: Infinity })],
  ["timeoutMs: '100'", (c) => c.detect(astronaut, { ...CONSENT, timeoutMs: '100' })],
  ['maxRetries: 1.5', (c) => c.detect(astronaut, { ...CONSENT, maxRetries: 1.5 })],
  ['maxRetries: -1', (c) => c.detect(astronaut, { ...CONSENT, maxRetries: -1 })],
  ['signal: {}', (c) => c.detect(astronaut, { ...CONSENT, signal: {} })],
  ['compare(img)', (c) => c.compare(astronaut, undefined, CONSENT)],
  ['compare(1, 2)', (c) => c.compare(1, 2, CONSENT)],
  ['compare({ userToken: 5 })', (c) => c.compare({ userToken: 5 }, astronaut, CONSENT)],
  ["compare({ userToken: '' })", (c) => c.compare({ userToken: '' }, astronaut, CONSENT)],
  ['enroll(null)', (c) => c.enroll(null, CONSENT)],
  ['enrollment.update(5, img)', (c) => c.enrollment.update(5, astronaut, CONSENT)],
  ['enrollment.update(token, {})', (c) => c.enrollment.update('usr_1', {}, CONSENT)],
  ['enrollment.delete()', (c) => c.enrollment.delete()],
  ['enrollment.delete({})', (c) => c.enrollment.delete({})],
  ['enrollment.list(7)', (c) => c.enrollment.list(7)],
  ['setToken(5)', (c) => c.setToken(5)],
  ["setToken('')", (c) => c.setToken('')],
  ['login()', (c) => c.login()],
  ['login(123)', (c) => c.login(123)],
]

for (const [label, call] of misuse) {
  test.serial(`misuse ${label} rejects invalid_argument and sends nothing`, async (t) => {
    const c = client()
    const reqs = await seen(async () => {
      const p = call(c)
      t.true(p instanceof Promise, 'still a Promise, not a synchronous throw')
      const e = await rejects(t, p, 'invalid_argument')
      t.true(e.message.length > 10)
    })
    t.is(reqs.length, 0)
    c.close()
  })
}

test.serial('invalid_argument messages name the parameter', async (t) => {
  const c = client()
  t.regex((await t.throwsAsync(c.detect(42, CONSENT))).message, /^image must be/)
  t.regex((await t.throwsAsync(c.compare(astronaut, 42, CONSENT))).message, /^b must be/)
  t.regex((await t.throwsAsync(c.detect(astronaut, { ...CONSENT, timeoutMs: -5 }))).message, /options\.timeoutMs/)
  t.regex((await t.throwsAsync(c.enrollment.update(null, astronaut, CONSENT))).message, /^userToken must be/)
  c.close()
})

test.serial('methods work unbound', async (t) => {
  const c = client()
  const { detect, enrollment } = c
  t.is((await detect(astronaut, CONSENT)).totalFaces, 1)
  t.is((await enrollment.list()).status, true)
  c.close()
})

test.serial('bad client options throw invalid_argument synchronously from the constructor', (t) => {
  for (const opts of [{ baseUrl: 'http://example.com/v0' }, { baseUrl: 'not a url' }, { timeoutMs: 0 }, { maxRetries: -1 }, { bogus: 1 }, 'x', { token: 5 }, { onTokenRefresh: 'x' }]) {
    const e = t.throws(() => new PerseClient(opts), undefined, inspect(opts))
    t.true(isPerseError(e))
    t.is(e.code, 'invalid_argument')
  }
})

test.serial('https is required except on loopback', (t) => {
  t.notThrows(() => new PerseClient({ baseUrl: 'https://api.getperse.com/v0' }).close())
  t.notThrows(() => new PerseClient({ baseUrl: 'http://localhost:1/v0' }).close())
  t.notThrows(() => new PerseClient({ baseUrl: 'http://[::1]:1/v0' }).close())
  t.is(new PerseClient({ baseUrl: 'https://api.getperse.com/v0/' }).baseUrl, 'https://api.getperse.com/v0')
  t.is(new PerseClient().baseUrl, 'https://api.getperse.com/v0')
})

// ---- error paths ----------------------------------------------------------------------

test.serial('server error codes pass through with httpStatus', async (t) => {
  const c = client()
  server.script({ status: 422, body: JSON.stringify({ message: 'No face detected', code: 'no_face_detected', status: false }) })
  const e = await rejects(t, c.detect(astronaut, CONSENT), 'no_face_detected')
  t.is(e.httpStatus, 422)
  t.is(e.message, 'No face detected')
  t.true(e instanceof PerseError)
  t.true(e instanceof Error)
  t.is(e.name, 'PerseError')
  server.script({ status: 415, body: JSON.stringify({ message: 'bad type', code: 'invalid_file_type', status: false }) })
  t.is((await rejects(t, c.detect(astronaut, CONSENT), 'invalid_file_type')).httpStatus, 415)
  c.close()
})

test.serial('401 rejects with unauthorized', async (t) => {
  const c = new PerseClient({ baseUrl: server.url, token: 'expired.or.invalid' })
  const e = await rejects(t, c.detect(astronaut, CONSENT), 'unauthorized')
  t.is(e.httpStatus, 401)
  c.close()
})

test.serial('no token at all: unauthorized without sending', async (t) => {
  const c = new PerseClient({ baseUrl: server.url })
  const reqs = await seen(() => rejects(t, c.detect(astronaut, CONSENT), 'unauthorized'))
  t.is(reqs.length, 0)
  c.close()
})

test.serial('unknown codes, HTML and non-JSON bodies become unexpected_error with the status', async (t) => {
  const c = client()
  server.script({ status: 400, body: JSON.stringify({ message: 'x', code: 'brand_new_code', status: false }) })
  let e = await rejects(t, c.detect(astronaut, CONSENT), 'unexpected_error')
  t.is(e.httpStatus, 400)
  t.regex(e.message, /400/)
  server.script({ status: 200, body: '<html><body>Gateway</body></html>', headers: { 'content-type': 'text/html' } })
  e = await rejects(t, c.detect(astronaut, CONSENT), 'unexpected_error')
  t.regex(e.message, /200/)
  t.regex(e.message, /HTML/)
  server.script({ status: 200, body: '{"total_faces": "many"}' })
  e = await rejects(t, c.detect(astronaut, CONSENT), 'unexpected_error')
  t.is(e.httpStatus, 200)
  server.script({ status: 404, body: '' })
  e = await rejects(t, c.detect(astronaut, CONSENT), 'unexpected_error')
  t.regex(e.message, /404/)
  t.false(e.message.includes(server.state.requests.at(-1).authorization.slice(7)))
  c.close()
})

test.serial('a closed port gives network_error', async (t) => {
  const port = await new Promise((resolve) => {
    const s = http.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port
      s.close(() => resolve(p))
    })
  })
  const c = new PerseClient({ baseUrl: `http://127.0.0.1:${port}/v0`, token: 'x.y.z', maxRetries: 0 })
  const e = await rejects(t, c.detect(astronaut, CONSENT), 'network_error')
  t.is(e.attempts, 1)
  c.close()
})

test.serial('a slow server gives timeout', async (t) => {
  const c = client({ timeoutMs: 150 })
  server.script(() => {}) // never answers
  const started = Date.now()
  const e = await rejects(t, c.detect(astronaut, CONSENT), 'timeout')
  t.true(Date.now() - started < 5000)
  t.regex(e.message, /150 ms/)
  c.close()
})

test.serial('local file problems: file_not_found, empty_file, invalid_file_type, file_too_large — nothing sent', async (t) => {
  const c = client()
  const reqs = await seen(async () => {
    await rejects(t, c.detect(path.join(FIX, 'missing.jpg'), CONSENT), 'file_not_found')
    await rejects(t, c.detect(path.join(FIX, 'empty.jpg'), CONSENT), 'empty_file')
    await rejects(t, c.detect(Buffer.alloc(0), CONSENT), 'empty_file')
    const html = await rejects(t, c.detect(path.join(FIX, 'not-an-image.jpg'), CONSENT), 'invalid_file_type')
    t.regex(html.message, /HTML/)
    const VALIDATE = { ...CONSENT, prepare: 'validate' }
    const webp = await rejects(t, c.detect(path.join(FIX, 'hopper.webp'), VALIDATE), 'invalid_file_type')
    t.regex(webp.message, /WebP.*prepare: 'auto', the default, converts it/)
    const trunc = await rejects(t, c.detect(path.join(FIX, 'truncated.jpg'), CONSENT), 'invalid_file_type')
    t.regex(trunc.message, /truncated/)
    const big = await rejects(t, c.detect(path.join(FIX, 'astronaut-3000-q97.jpg'), VALIDATE), 'file_too_large')
    t.regex(big.message, /1000000.*prepare: 'fit' shrinks/)
    await rejects(t, c.compare(astronaut, path.join(FIX, 'missing.jpg'), CONSENT), 'file_not_found')
  })
  t.is(reqs.length, 0)
  const small = client({ maxUploadBytes: 1000, prepare: 'validate' })
  await rejects(t, small.detect(astronaut, CONSENT), 'file_too_large')
  small.close()
  c.close()
})

test.serial('a directory path is an invalid_argument', async (t) => {
  const c = client()
  await rejects(t, c.detect(FIX, CONSENT), 'invalid_argument')
  c.close()
})

test.serial('200 concurrent calls from one process all resolve', async (t) => {
  const c = client()
  const before = server.requests.length
  const results = await Promise.all(
    Array.from({ length: 200 }, (_, i) => (i % 2 ? c.detect(astronaut, CONSENT) : c.compare(astronaut, ASTRONAUT, CONSENT))),
  )
  t.is(results.length, 200)
  t.true(results.every((r) => r.status === true))
  t.is(server.requests.length - before, 200)
  c.close()
})

test.serial('calls after close reject client_closed', async (t) => {
  const c = client()
  c.close()
  t.true(c.closed)
  const reqs = await seen(() => rejects(t, c.detect(astronaut, CONSENT), 'client_closed'))
  t.is(reqs.length, 0)
})

test.serial('close() rejects a call in flight with client_closed', async (t) => {
  const c = client()
  server.script(() => {})
  const p = c.detect(astronaut, CONSENT)
  setTimeout(() => c.close(), 50)
  await rejects(t, p, 'client_closed')
})

test.serial('an AbortSignal rejects with aborted at once', async (t) => {
  const c = client()
  server.script(() => {})
  const ac = new AbortController()
  const p = c.detect(astronaut, { ...CONSENT, signal: ac.signal })
  setTimeout(() => ac.abort(), 50)
  const started = Date.now()
  await rejects(t, p, 'aborted')
  t.true(Date.now() - started < 2000)
  const reqs = await seen(() => rejects(t, c.detect(astronaut, { ...CONSENT, signal: AbortSignal.abort() }), 'aborted'))
  t.is(reqs.length, 0)
  c.close()
})

// ---- PerseError, secrets, default client ------------------------------------------------

test.serial('isPerseError works across module realms where instanceof fails', async (t) => {
  // A second copy of the JS modules (not of the native binding), as jest's registry makes.
  const root = path.dirname(require.resolve('..'))
  const saved = { ...require.cache }
  for (const k of Object.keys(require.cache)) {
    if (k.startsWith(root) && !k.includes('node_modules') && !k.endsWith('binding.js') && !k.includes('__test__')) delete require.cache[k]
  }
  const other = require('..')
  Object.assign(require.cache, saved)
  t.not(other.PerseError, PerseError)
  const c = new other.PerseClient({ baseUrl: server.url, token: server.mintToken() })
  const e = await t.throwsAsync(c.detect(astronaut))
  t.false(e instanceof PerseError, 'a different realm: instanceof fails as in jest')
  t.true(isPerseError(e))
  t.true(other.isPerseError(new PerseError({ code: 'x', message: 'y' })))
  t.false(isPerseError(new Error('plain')))
  t.false(isPerseError(null))
  t.false(isPerseError({ code: 'unauthorized' }))
  c.close()
})

test.serial('tokens never appear in errors, inspect, JSON or toString', async (t) => {
  const token = server.mintToken()
  const c = new PerseClient({ baseUrl: server.url, token })
  server.script({ status: 400, body: JSON.stringify({ message: `bad token ${token}`, code: 'form_key_missing', status: false }) })
  const e = await t.throwsAsync(c.detect(astronaut, CONSENT))
  const texts = [e.message, inspect(e), String(e), JSON.stringify(e), inspect(c, { showHidden: true, depth: 5 }), String(c), JSON.stringify(c)]
  for (const s of texts) t.false(s.includes(token), s)
  t.regex(e.message, /\[redacted\]/)
  t.deepEqual(Object.keys(c), [])
  c.close()
})

test.serial('the module-level default client reads PERSE_BASE_URL and uses setToken', async (t) => {
  process.env.PERSE_BASE_URL = server.url
  perse.close()
  await perse.setToken(server.mintToken())
  const [r] = await seen(async () => {
    const d = await perse.detect(astronaut, CONSENT)
    t.is(d.totalFaces, 1)
  })
  t.is(r.path, '/v0/face/detect')
  t.is(perse.getDefaultClient().baseUrl, server.url)
  const explicit = new PerseClient()
  t.is(explicit.baseUrl, server.url, 'explicit clients default to PERSE_BASE_URL too')
  explicit.close()
  t.is(new PerseClient({ baseUrl: 'https://api.getperse.com/v0' }).baseUrl, 'https://api.getperse.com/v0')
  const { userToken } = await perse.enroll(astronaut, CONSENT)
  t.true((await perse.enrollment.list()).userTokens.includes(userToken))
  t.is((await perse.compare({ userToken }, astronaut, CONSENT)).similarity, 0.91)
  await perse.enrollment.update(userToken, astronaut, CONSENT)
  await perse.enrollment.delete(userToken)
  t.is(perse.face.detect, perse.detect)
  perse.close()
  delete process.env.PERSE_BASE_URL
})

test.serial('nothing is printed to the console', async (t) => {
  const { spawnSync } = require('node:child_process')
  const script = `
    const p = require(${JSON.stringify(path.join(__dirname, '..'))});
    const c = new p.PerseClient({ baseUrl: 'http://127.0.0.1:1/v0', token: 'a.b.c', maxRetries: 0 });
    Promise.allSettled([c.detect(Buffer.from('x'), { enduserConsent: true }), c.detect('/nope', { enduserConsent: true }), c.detect(${JSON.stringify(ASTRONAUT)}, { enduserConsent: true }), c.detect(1)])
      .then((r) => { if (r.some((x) => x.status !== 'rejected')) process.exit(3); c.close() })`
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' })
  t.is(r.status, 0)
  t.is(r.stdout, '')
  t.is(r.stderr, '')
})
