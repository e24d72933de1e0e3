'use strict'

// The bundled local server, exercised through the SDK itself: real detection, metrics,
// comparison and enrollment on the fixture photos, its validation rules, injected faults,
// token expiry, and its test controls. Each test starts its own server.

const test = require('ava')
const fs = require('node:fs')
const path = require('node:path')
const net = require('node:net')

const { PerseClient, startLocalServer } = require('..')
const { rejects } = require('./helpers/assert')
const { SCALE, ms } = require('./helpers/time')

// Every test runs the face engine on its own server. Natively a detect takes under 0.1 s;
// emulated (npm run test:arm64) about 5 s, so there the tests run one at a time: at once,
// their calls would queue behind each other past any per-call timeout.
const it = SCALE > 1 ? test.serial : test
// The server's own logic (store, tokens, faults, validation, the request log) is portable Rust
// that these tests prove natively; under emulation only the engine's answers are checked,
// since the engine is what differs per architecture (its NEON kernels) and each call there
// costs seconds. They show as skipped in the emulated run's counts.
const server = SCALE > 1 ? test.skip : it

const FIX = path.join(__dirname, 'fixtures')
const img = (name) => path.join(FIX, name)
const CONSENT = { enduserConsent: true }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

test.beforeEach(async (t) => {
  t.context.server = await startLocalServer()
  t.context.client = t.context.server.client({ retryBaseDelayMs: 5, retryMaxDelayMs: 20, timeoutMs: ms(30_000) })
})
test.afterEach.always(async (t) => {
  t.context.client.close()
  await t.context.server.close()
})

it('astronaut.jpg: one face, boxed around the face, with metrics and thresholds', async (t) => {
  const d = await t.context.client.detect(img('astronaut.jpg'), CONSENT)
  t.is(d.totalFaces, 1)
  const [x, y, w, h] = d.faces[0].boundingBox
  // Eileen Collins' face in the 512x512 portrait lies around x 170-280, y 60-180.
  t.true(x >= 150 && x <= 200 && y >= 40 && y <= 100, `${d.faces[0].boundingBox}`)
  t.true(w >= 70 && w <= 140 && h >= 90 && h <= 170, `${d.faces[0].boundingBox}`)
  t.true(x + w <= 512 && y + h <= 512)
  const m = d.faces[0].faceMetrics
  for (const k of ['underexposure', 'overexposure', 'sharpness']) t.true(m[k] >= 0 && m[k] <= 1, k)
  t.is(d.faces[0].livenessScore, 0.9)
  // Five points inside the box, named from her point of view: her right eye is image-left.
  const lm = d.faces[0].landmarks
  for (const [px, py] of Object.values(lm)) t.true(px >= x && px <= x + w && py >= y && py <= y + h, JSON.stringify(lm))
  t.true(lm.rightEye[0] < lm.leftEye[0] && lm.mouthRight[0] < lm.mouthLeft[0], JSON.stringify(lm))
  t.true(Math.max(lm.rightEye[1], lm.leftEye[1]) < lm.nose[1] && lm.nose[1] < Math.min(lm.mouthRight[1], lm.mouthLeft[1]))
  t.deepEqual(d.defaultThresholds, { underexposure: 0.5, overexposure: 0.5, sharpness: 0.15, liveness: 0.5 })
  t.true(d.timeTaken > 0)
})

it('the same face is found in the PNG, the crop and in hopper.jpg', async (t) => {
  for (const name of ['astronaut.png', 'astronaut-crop.jpg', 'hopper.jpg']) {
    t.is((await t.context.client.detect(img(name), CONSENT)).totalFaces, 1, name)
  }
})

for (const name of ['cat.png', 'coffee.png', 'rocket.jpg']) {
  it(`${name}: no face; compare and enroll reject no_face_detected`, async (t) => {
    const { client } = t.context
    const d = await client.detect(img(name), CONSENT)
    t.is(d.totalFaces, 0)
    t.deepEqual(d.faces, [])
    t.is((await client.quality(img(name), CONSENT)).code, 'no_face_detected')
    const e = await rejects(t, client.enroll(img(name), CONSENT), 'no_face_detected')
    t.is(e.httpStatus, 422)
    await rejects(t, client.compare(img('astronaut.jpg'), img(name), CONSENT), 'no_face_detected')
  })
}

it('quality: astronaut is good, the degraded photos are flagged', async (t) => {
  const { client } = t.context
  const good = await client.quality(img('astronaut.jpg'), CONSENT)
  t.is(good.code, 'success')
  t.true(good.status)
  const dark = await client.quality(img('astronaut-underexposed.jpg'), CONSENT)
  t.is(dark.code, 'bad_image_quality')
  t.true(dark.detailedFaces[0].isUnderexposed)
  const blurred = await client.quality(img('astronaut-blurred.jpg'), CONSENT)
  t.is(blurred.code, 'bad_image_quality')
  t.true(blurred.detailedFaces[0].isBlurred)
  t.false(blurred.detailedFaces[0].isUnderexposed)
  t.false(blurred.detailedFaces[0].isOverexposed)
  // x3.5 brightness clips most of the face to white: the face is still found, and flagged.
  const bright = await client.quality(img('astronaut-overexposed.jpg'), CONSENT)
  t.is(bright.code, 'bad_image_quality')
  t.true(bright.detailedFaces[0].isOverexposed)
  const spoof = await client.qualityWithSpoofCheck(img('astronaut.jpg'), CONSENT)
  t.is(spoof.code, 'success')
  t.false(spoof.detailedFaces[0].isSpoofing)
})

it('livenessScore can be overridden to exercise the spoof check', async (t) => {
  const server = await startLocalServer({ livenessScore: 0.2 })
  const client = server.client({ timeoutMs: ms(30_000) })
  const r = await client.qualityWithSpoofCheck(img('astronaut.jpg'), CONSENT)
  t.is(r.code, 'bad_image_quality')
  t.true(r.detailedFaces[0].isSpoofing)
  client.close()
  await server.close()
})

it('enrollment refuses dark and bright photos', async (t) => {
  const { client } = t.context
  await rejects(t, client.enroll(img('astronaut-underexposed.jpg'), CONSENT), 'image_underexposed')
  await rejects(t, client.enroll(img('astronaut-overexposed.jpg'), CONSENT), 'image_overexposed')
})

it('compare: same person > threshold > different people', async (t) => {
  const { client } = t.context
  const same = await client.compare(img('astronaut.jpg'), img('astronaut-crop.jpg'), CONSENT)
  const different = await client.compare(img('astronaut.jpg'), img('obama.jpg'), CONSENT)
  const threshold = same.defaultThresholds.similarity
  t.true(same.similarity > threshold, `same ${same.similarity}`)
  t.true(different.similarity < threshold, `different ${different.similarity}`)
  t.is((await client.isSimilar(img('astronaut.jpg'), img('astronaut-crop.jpg'), CONSENT)).code, 'similar')
  t.is((await client.isSimilar(img('astronaut-crop.jpg'), img('obama.jpg'), CONSENT)).code, 'not_similar')
})

it('enrollment lifecycle, compare by token, and user_token_not_found after delete', async (t) => {
  const { client, server } = t.context
  const { userToken } = await client.enroll(img('astronaut.jpg'), CONSENT)
  t.regex(userToken, /^usr_[0-9a-f]{32}$/)
  const other = await client.enroll(img('obama.jpg'), CONSENT)
  t.deepEqual((await client.enrollment.list()).userTokens, [userToken, other.userToken])
  const byToken = await client.compare({ userToken }, img('astronaut-crop.jpg'), CONSENT)
  t.true(byToken.similarity > byToken.defaultThresholds.similarity)
  const twoTokens = await client.compare({ userToken }, { userToken: other.userToken }, CONSENT)
  t.true(twoTokens.similarity < twoTokens.defaultThresholds.similarity)
  t.is((await client.enrollment.update(userToken, img('astronaut.png'), CONSENT)).userToken, userToken)
  await client.enrollment.delete(userToken)
  t.deepEqual((await client.enrollment.list()).userTokens, [other.userToken])
  t.is((await client.enrollment.list()).totalUsers, 1)
  await rejects(t, client.compare({ userToken }, img('astronaut.jpg'), CONSENT), 'user_token_not_found')
  await rejects(t, client.enrollment.update(userToken, img('astronaut.jpg'), CONSENT), 'user_token_not_found')
  await rejects(t, client.enrollment.delete(userToken), 'user_token_not_found')
  const update = server.requests().find((r) => r.method === 'PUT')
  t.deepEqual(update.fields.map((f) => f.name), ['image_file', 'user_token', 'client_declaration_enduser_consent'])
})

server('the request log has names and sizes, never image bytes or tokens', async (t) => {
  const { client, server } = t.context
  await client.detect(img('astronaut.jpg'), CONSENT)
  const [login, detect] = server.requests()
  t.deepEqual(login, { method: 'POST', path: '/v0/login', fields: [], hasAuthorization: false, status: 200, faulted: false, requestId: login.requestId })
  t.regex(login.requestId, /^[0-9a-f]{16}$/)
  t.is(detect.path, '/v0/face/detect')
  t.not(detect.requestId, login.requestId, 'a login during a call has its own id')
  t.true(detect.hasAuthorization)
  t.deepEqual(detect.fields[0], { name: 'image_file', filename: 'image.jpg', contentType: 'image/jpeg', size: fs.statSync(img('astronaut.jpg')).size })
  t.deepEqual(detect.fields[1], { name: 'client_declaration_enduser_consent', size: 4, value: 'true' })
  const text = JSON.stringify(server.requests())
  t.false(text.includes(server.privateKey))
  t.false(text.includes('eyJ'))
  server.reset()
  t.deepEqual(server.requests(), [])
})

it('echoes X-Request-Id and records it: a result carries the id the log shows', async (t) => {
  const { client, server } = t.context
  const d = await client.detect(img('astronaut.jpg'), CONSENT)
  t.is(server.requests().find((r) => r.path === '/v0/face/detect').requestId, d.requestId)
  const res = await fetch(`${server.url}/face/enrollment/list`, { headers: { 'x-request-id': 'echo-me-1' } })
  t.is(res.status, 401)
  t.is(res.headers.get('x-request-id'), 'echo-me-1')
  t.is(server.requests().at(-1).requestId, 'echo-me-1')
})

// ---- the contract's validation, on the wire ------------------------------------------

async function raw(server, body, headers = {}) {
  const token = await new PerseClient({ baseUrl: server.url }).login(server.privateKey)
  const res = await fetch(`${server.url}/face/detect`, { method: 'POST', body, headers: { authorization: `Bearer ${token}`, ...headers } })
  return { status: res.status, body: await res.json() }
}

function form(fields) {
  const f = new FormData()
  for (const [k, v] of Object.entries(fields)) f.append(k, v, ...(v instanceof Blob ? ['image.jpg'] : []))
  return f
}

server('multipart validation: codes and statuses from the contract', async (t) => {
  const { server } = t.context
  const jpeg = new Blob([fs.readFileSync(img('astronaut.jpg'))], { type: 'image/jpeg' })
  const cases = [
    [JSON.stringify({ image_file: 'x' }), { 'content-type': 'application/json' }, 400, 'content_type_header_missing'],
    [form({ image_file: jpeg }), {}, 400, 'consent_required'],
    [form({ client_declaration_enduser_consent: 'true' }), {}, 400, 'form_key_missing'],
    [form({ image_file: new Blob([]), client_declaration_enduser_consent: 'true' }), {}, 400, 'empty_file'],
    [form({ image_file: new Blob(['<html>hi</html>']), client_declaration_enduser_consent: 'true' }), {}, 415, 'invalid_file_type'],
    [form({ image_file: new Blob([fs.readFileSync(img('hopper.webp'))]), client_declaration_enduser_consent: 'true' }), {}, 415, 'invalid_file_type'],
    [form({ image_file: new Blob([fs.readFileSync(img('astronaut-3000-q97.jpg'))]), client_declaration_enduser_consent: 'true' }), {}, 413, 'file_too_large'],
  ]
  for (const [body, headers, status, code] of cases) {
    const r = await raw(server, body, headers)
    t.is(r.status, status, code)
    t.is(r.body.code, code)
    t.is(r.body.status, false)
    t.is(typeof r.body.message, 'string')
  }
  const ok = await raw(server, form({ image_file: jpeg, client_declaration_enduser_consent: 'true' }))
  t.is(ok.status, 200)
  t.is(ok.body.total_faces, 1)
  t.true(Array.isArray(ok.body.faces[0].bounding_box))
})

server('bearer validation and login rules', async (t) => {
  const { server } = t.context
  const res = await fetch(`${server.url}/face/enrollment/list`)
  t.is(res.status, 401)
  t.is((await res.json()).code, 'unauthorized')
  const bad = await fetch(`${server.url}/face/enrollment/list`, { headers: { authorization: 'Bearer a.b.c' } })
  t.is(bad.status, 401)
  const missing = await fetch(`${server.url}/login`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })
  t.is(missing.status, 400)
  const c = new PerseClient({ baseUrl: server.url })
  await rejects(t, c.login('sk_wrong'), 'unauthorized')
  const token = await c.login(server.privateKey)
  const { exp, iat } = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString())
  t.is(exp - iat, 900, 'tokens live 15 minutes by default')
  c.close()
})

// ---- faults and tokens ------------------------------------------------------------------

server('every injected fault reaches the caller as the right PerseError', async (t) => {
  const { server } = t.context
  // A client with a manual token: a privateKey client would (rightly) refresh on the 401.
  const c = new PerseClient({ baseUrl: server.url, maxRetries: 0 })
  const cases = [
    [{ status: 401 }, 'unauthorized'],
    [{ status: 422, code: 'no_face_detected' }, 'no_face_detected'],
    [{ status: 400, code: 'form_key_missing' }, 'form_key_missing'],
    [{ status: 413, code: 'file_too_large' }, 'file_too_large'],
    [{ status: 500 }, 'server_error'],
    [{ status: 502, body: '<html><body>Bad gateway</body></html>' }, 'server_error'],
    [{ status: 503 }, 'server_error'],
    [{ status: 429 }, 'rate_limited'],
    [{ status: 200, body: '{"total_faces": 1, "fac' }, 'unexpected_error'],
    [{ status: 200, body: '<html>ok</html>' }, 'unexpected_error'],
    [{ status: 418, code: 'teapot' }, 'unexpected_error'],
  ]
  await c.login(server.privateKey)
  for (const [fault, code] of cases) {
    server.injectFault({ path: '/face/detect', ...fault })
    const e = await rejects(t, c.detect(img('astronaut.jpg'), CONSENT), code)
    t.is(e.httpStatus, fault.status, code)
  }
  server.injectFault({ path: '/face/detect', delayMs: 400 })
  await rejects(t, c.detect(img('astronaut.jpg'), { ...CONSENT, timeoutMs: 100 }), 'timeout')
  t.is((await c.detect(img('astronaut.jpg'), CONSENT)).totalFaces, 1, 'faults are used up')
  t.true(server.requests().filter((r) => r.faulted).length === cases.length)
  c.close()
})

server('faults honour path and times; retried calls recover', async (t) => {
  const { client, server } = t.context
  server.injectFault({ path: '/v0/face/detect', status: 503, times: 2 })
  t.is((await client.enrollment.list()).status, true, 'another path is unaffected')
  t.is((await client.detect(img('astronaut.jpg'), CONSENT)).totalFaces, 1, 'two 503s, then success on the third attempt')
  t.deepEqual(server.requests().filter((r) => r.path === '/v0/face/detect').map((r) => r.status), [503, 503, 200])
  server.injectFault({ status: 500, times: 3 })
  const e = await rejects(t, client.enrollment.list(), 'server_error')
  t.is(e.attempts, 3)
  t.throws(() => server.injectFault({ status: 99 }), { code: 'invalid_argument' })
  t.throws(() => server.injectFault('x'), { code: 'invalid_argument' })
  t.throws(() => server.injectFault({}), { code: 'invalid_argument' })
})

server('tokens expire on schedule; a private-key client logs in again', async (t) => {
  const server = await startLocalServer({ tokenTtlSeconds: 2 })
  const manual = new PerseClient({ baseUrl: server.url })
  await manual.setToken(await manual.login(server.privateKey))
  const auto = server.client({ refreshSkewSeconds: 0 })
  t.is((await manual.enrollment.list()).status, true)
  t.is((await auto.enrollment.list()).status, true)
  await sleep(2600)
  await rejects(t, manual.enrollment.list(), 'unauthorized')
  t.is((await auto.enrollment.list()).status, true)
  t.true(server.requests().filter((r) => r.path === '/v0/login').length >= 3)
  manual.close()
  auto.close()
  await server.close()
})

server('expireTokens(): manual tokens fail, refreshing clients recover on the 401', async (t) => {
  const { client, server } = t.context
  const manual = new PerseClient({ baseUrl: server.url })
  await manual.setToken(await manual.login(server.privateKey))
  await client.enrollment.list()
  server.expireTokens()
  await rejects(t, manual.enrollment.list(), 'unauthorized')
  t.is((await client.enrollment.list()).status, true)
  const statuses = server.requests().filter((r) => r.path === '/v0/face/enrollment/list').map((r) => r.status)
  t.deepEqual(statuses.slice(-3), [401, 401, 200])
  manual.close()
})

// ---- lifecycle and options --------------------------------------------------------------

server('loopback by default; bad options and busy ports are clear errors', async (t) => {
  const { server } = t.context
  t.regex(server.url, /^http:\/\/127\.0\.0\.1:\d+\/v0$/)
  t.regex(server.privateKey, /^sk_local_[0-9a-f]{32}$/)
  t.false(require('node:util').inspect(server).includes(server.privateKey))
  await rejects(t, startLocalServer({ host: 'not a host' }), 'invalid_argument')
  await rejects(t, startLocalServer({ port: 70000 }), 'invalid_argument')
  await rejects(t, startLocalServer({ bogus: 1 }), 'invalid_argument')
  await rejects(t, startLocalServer({ port: server.port }), 'network_error')
  const keyed = await startLocalServer({ privateKey: 'sk_test_fixed', host: 'localhost' })
  t.is(keyed.privateKey, 'sk_test_fixed')
  await keyed.close()
})

server('after close the port is released and calls fail with network_error', async (t) => {
  const server = await startLocalServer()
  const c = server.client({ maxRetries: 0 })
  await c.enrollment.list()
  await server.close()
  t.true(server.closed)
  await rejects(t, c.enrollment.list(), 'network_error')
  await new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject).listen(server.port, '127.0.0.1', () => s.close(resolve))
  })
  t.pass()
  c.close()
})

it('50 concurrent detections on the local server (16 under emulation)', async (t) => {
  const { client } = t.context
  const results = await Promise.all(Array.from({ length: SCALE > 1 ? 16 : 50 }, () => client.detect(img('astronaut.jpg'), CONSENT)))
  t.true(results.every((r) => r.totalFaces === 1))
})

// The default client is configured from the environment alone, so its calls keep the 30 s
// default timeout, which the emulated engine's calls outlast (3 attempts timed out in
// test:arm64 on a Zen 3 host); what it proves (the face.* and top-level helpers) is JS.
;(SCALE > 1 ? test.skip : test.serial)('the browser SDK surface: face.* and top-level helpers on the default client', async (t) => {
  const perse = require('..')
  const { server } = t.context
  process.env.PERSE_BASE_URL = server.url
  process.env.PERSE_PRIVATE_KEY = server.privateKey
  perse.close()
  try {
    const { face } = perse
    t.is((await face.detect(img('astronaut.jpg'), CONSENT)).totalFaces, 1)
    t.is((await face.compare(img('astronaut.jpg'), img('astronaut-crop.jpg'), CONSENT)).code, 'success')
    t.is((await face.isSimilar(img('astronaut.jpg'), img('obama.jpg'), CONSENT)).code, 'not_similar')
    t.is((await face.quality(img('astronaut-blurred.jpg'), CONSENT)).code, 'bad_image_quality')
    t.is((await face.qualityWithSpoofCheck(img('astronaut.jpg'), CONSENT)).code, 'success')
    const { userToken } = await face.enrollment.create(img('astronaut.jpg'), CONSENT)
    t.deepEqual((await face.enrollment.read()).userTokens, [userToken])
    t.is((await face.enrollment.update(userToken, img('astronaut.png'), CONSENT)).userToken, userToken)
    await face.enrollment.delete(userToken)
    t.is((await perse.enrollment.list()).totalUsers, 0)
    t.is((await perse.isSimilar({ userToken: 'usr_x' }, img('astronaut.jpg'), CONSENT).catch((e) => e)).code, 'user_token_not_found')
    t.is((await perse.quality(img('rocket.jpg'), CONSENT)).code, 'no_face_detected')
  } finally {
    perse.close()
    delete process.env.PERSE_BASE_URL
    delete process.env.PERSE_PRIVATE_KEY
  }
})
