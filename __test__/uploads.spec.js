'use strict'

// Real uploads as routes receive them: File and Blob (request.formData()), Response, web and
// Node streams, multer and formidable file objects; phone photos with no option set
// (prepare: 'auto'), what was uploaded, boxes in the caller's photo's coordinates; and the
// errors that say what to do.

const test = require('ava')
const { SCALE } = require('./helpers/time')
// Under emulation (npm run test:arm64) a face-engine run takes seconds: one test at a time.
const it = SCALE > 1 ? test.serial : test
const { useLocalServer } = require('./helpers/local')
const fs = require('node:fs')
const path = require('node:path')
const { Readable } = require('node:stream')

const { PerseClient, startLocalServer, controlLocalServer, prepareImage } = require('..')
const { startContractServer } = require('./helpers/contract-server')
const { runChild } = require('./helpers/child')
const { rejects, throwsPerse } = require('./helpers/assert')
const { iou } = require('./helpers/geometry')

const FIX = path.join(__dirname, 'fixtures')
const img = (name) => path.join(FIX, name)
const astronaut = fs.readFileSync(img('astronaut.jpg'))
const CONSENT = { enduserConsent: true }

let client
useLocalServer(test, (_server, c) => {
  client = c
})

const inputs = {
  File: () => new File([astronaut], 'photo.jpg', { type: 'image/jpeg' }),
  Blob: () => new Blob([astronaut]),
  Response: () => new Response(astronaut, { headers: { 'content-length': String(astronaut.length) } }),
  'web ReadableStream': () => new Blob([astronaut]).stream(),
  'Node Readable (fs.createReadStream)': () => fs.createReadStream(img('astronaut.jpg'), { highWaterMark: 4096 }),
  'multer file, memory storage': () => ({ fieldname: 'photo', originalname: 'photo.jpg', mimetype: 'image/jpeg', buffer: astronaut, size: astronaut.length }),
  'multer file, disk storage': () => ({ fieldname: 'photo', originalname: 'photo.jpg', mimetype: 'image/jpeg', path: img('astronaut.jpg') }),
  'formidable file': () => ({ originalFilename: 'photo.jpg', mimetype: 'image/jpeg', filepath: img('astronaut.jpg') }),
}

for (const [kind, make] of Object.entries(inputs)) {
  it(`detect takes a ${kind} as it is`, async (t) => {
    const r = await client.detect(make(), CONSENT)
    t.is(r.totalFaces, 1)
    t.deepEqual(r.uploaded, { width: 512, height: 512, format: 'jpeg', bytes: astronaut.length, scale: 1, orientationApplied: false })
  })
}

it('prepareImage takes every image input the calls take', async (t) => {
  for (const [kind, make] of Object.entries(inputs)) {
    const p = await prepareImage(make())
    t.true(p.data.equals(astronaut), kind)
    t.like(p, { width: 512, height: 512, format: 'jpeg', resized: false }, kind)
  }
  const e = await t.throwsAsync(prepareImage(new Blob([astronaut]), { prepare: 'validate', maxUploadBytes: 1000 }))
  t.is(e.code, 'file_too_large')
})

it('compare and enroll take Files too', async (t) => {
  const file = inputs.File()
  t.true((await client.compare(file, new Blob([astronaut]), CONSENT)).similarity > 0.9)
  const e = await client.enroll(inputs.File(), CONSENT)
  const r = await client.compare({ userToken: e.userToken }, inputs.File(), CONSENT)
  t.deepEqual(r.uploaded.a, null)
  t.is(r.uploaded.b.bytes, astronaut.length)
})

it('a stream over the byte budget stops at the limit, having read no more than budget + one chunk', async (t) => {
  let pulled = 0
  const endless = new Readable({
    read() {
      pulled += 65536
      this.push(Buffer.alloc(65536))
    },
  })
  const e = await rejects(t, client.detect(endless, { ...CONSENT, prepare: 'validate' }), 'file_too_large')
  t.regex(e.message, /1000000/)
  t.true(pulled <= 1_000_000 + 3 * 65536, `pulled ${pulled} bytes`)
  t.true(endless.destroyed)
  const web = new ReadableStream({ pull: (c) => c.enqueue(new Uint8Array(65536)) })
  await rejects(t, client.detect(web, CONSENT), 'file_too_large') // auto: the 50 MB input budget
})

it('a stream that stalls times out; an aborted call stops reading', async (t) => {
  const stalled = new Readable({ read() {} })
  const e = await rejects(t, client.detect(stalled, { ...CONSENT, timeoutMs: 200 }), 'timeout')
  t.regex(e.message, /200 ms/)
  const ac = new AbortController()
  const pending = client.detect(new Readable({ read() {} }), { ...CONSENT, signal: ac.signal })
  setTimeout(() => ac.abort(), 50)
  await rejects(t, pending, 'aborted')
})

it('a stalled stream is timed out even when nothing else keeps the process alive', async (t) => {
  // Found by the serial emulated run: with an unref'd deadline timer the process exited with
  // the call's promise never settled.
  const r = await runChild(`
    const { Readable } = require('node:stream');
    const c = new perse.PerseClient({ baseUrl: 'http://127.0.0.1:9/v0', token: 'a.b.c' });
    const e = await c.detect(new Readable({ read() {} }), { enduserConsent: true, timeoutMs: 300 }).catch((e) => e);
    c.close();
    report({ code: e.code, message: e.message });`)
  t.is(r.code, 0, r.stderr)
  t.deepEqual(r.report, { code: 'timeout', message: 'reading image took longer than 300 ms' })
})

it('a failed or used Response is refused with what to do', async (t) => {
  const e = await rejects(t, client.detect(new Response('nope', { status: 404 }), CONSENT), 'invalid_argument')
  t.regex(e.message, /HTTP status 404/)
  const used = new Response(astronaut)
  await used.arrayBuffer()
  await rejects(t, client.detect(used, CONSENT), 'invalid_argument')
})

it('phone photos work with no option: a sideways JPEG comes back with its box on the upright face', async (t) => {
  const upright = await client.detect(img('hopper.jpg'), CONSENT)
  for (const n of [3, 6, 8]) {
    const r = await client.detect(img(`hopper-exif-orientation-${n}.jpg`), CONSENT)
    t.is(r.totalFaces, 1, `orientation ${n}`)
    t.true(r.uploaded.orientationApplied)
    t.true(iou(r.faces[0].boundingBox, upright.faces[0].boundingBox) > 0.7, `orientation ${n}: ${r.faces[0].boundingBox} vs ${upright.faces[0].boundingBox}`)
  }
})

it('validate sends a sideways JPEG as stored; its box is still mapped to the upright photo', async (t) => {
  const upright = await client.detect(img('hopper.jpg'), CONSENT)
  const r = await client.detect(img('hopper-exif-orientation-6.jpg'), { ...CONSENT, prepare: 'validate' })
  t.false(r.uploaded.orientationApplied)
  if (r.totalFaces === 1) t.true(iou(r.faces[0].boundingBox, upright.faces[0].boundingBox) > 0.5, `${r.faces[0].boundingBox}`)
  else t.pass('the frontal detector does not see the sideways face (what the hosted service may do differently)')
})

it('a 3.4 MB PNG is shrunk for upload and its box comes back in the original pixels', async (t) => {
  const small = await client.detect(astronaut, CONSENT)
  const r = await client.detect(img('astronaut-2048.png'), CONSENT)
  t.is(r.totalFaces, 1)
  t.is(r.uploaded.format, 'jpeg')
  t.true(r.uploaded.bytes <= 1_000_000)
  t.is(r.uploaded.scale, 1600 / 2048)
  const expected = small.faces[0].boundingBox.map((v) => v * 4)
  t.true(iou(r.faces[0].boundingBox, expected) > 0.6, `${r.faces[0].boundingBox} vs ${expected}`)
})

it('HEIC and AVIF are refused with what to do', async (t) => {
  for (const brand of ['heic', 'avif']) {
    const file = Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from(`ftyp${brand}`), Buffer.alloc(64)])
    const e = await rejects(t, client.detect(file, CONSENT), 'invalid_file_type')
    t.regex(e.message, /convert it to JPEG.*sharp/)
  }
})

it('strings that are not paths are one mistake with one code, invalid_argument, and a hint; a PDF says to render it', async (t) => {
  const b64 = astronaut.toString('base64')
  const hints = {
    'https://example.com/photo.jpg': /looks like a URL; fetch it first/,
    [`data:image/jpeg;base64,${b64.slice(0, 100)}`]: /data URL; pass `Buffer.from/,
    [`data:image/jpeg;base64,${b64}`]: /data URL; pass `Buffer.from/,
    [b64.slice(0, 300)]: /base64; pass `Buffer.from\(s, 'base64'\)`/,
    [b64.slice(0, 3000)]: /base64; pass `Buffer.from\(s, 'base64'\)`/,
    [b64]: /base64; pass `Buffer.from\(s, 'base64'\)`/,
    usr_0123456789abcdef: /enrolled user token; pass `\{ userToken \}`/,
  }
  for (const [s, hint] of Object.entries(hints)) {
    const e = await rejects(t, client.detect(s, CONSENT), 'invalid_argument')
    t.regex(e.message, hint)
    const c = await rejects(t, client.compare(astronaut, s, CONSENT), 'invalid_argument')
    t.regex(c.message, hint)
  }
  // A file that really has such a name is read.
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'perse-usr-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  fs.copyFileSync(path.join(FIX, 'astronaut.jpg'), path.join(dir, 'usr_photo'))
  t.is((await client.detect(path.join(dir, 'usr_photo'), CONSENT)).totalFaces, 1)
  const pdf = Buffer.from('%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n')
  for (const prepare of ['auto', 'validate']) {
    const e = await rejects(t, client.detect(pdf, { ...CONSENT, prepare }), 'invalid_file_type')
    t.regex(e.message, /a PDF document \(render its page to a JPEG first/)
  }
})

it('unknown per-call options are refused, with a "did you mean"', async (t) => {
  const cases = { endUserConsent: 'enduserConsent', consent: 'enduserConsent', timeout: 'timeoutMs', retries: 'maxRetries', EnduserConsent: 'enduserConsent' }
  for (const [wrong, right] of Object.entries(cases)) {
    const e = await rejects(t, client.detect(astronaut, { [wrong]: true }), 'invalid_argument')
    t.regex(e.message, new RegExp(`unknown option '${wrong}' \\(did you mean '${right}'\\?\\)`))
  }
})

it('empty credentials in the constructor are refused like setToken(\'\')', (t) => {
  throwsPerse(t, () => new PerseClient({ token: '' }), 'invalid_argument')
  throwsPerse(t, () => new PerseClient({ privateKey: '' }), 'invalid_argument')
})

it('a 404 from a base URL without a version asks whether /v0 was meant', async (t) => {
  const s = await startContractServer()
  t.teardown(() => s.close())
  const c = new PerseClient({ baseUrl: s.url.replace(/\/v0$/, ''), token: s.mintToken(), maxRetries: 0 })
  t.teardown(() => c.close())
  const e = await t.throwsAsync(c.enrollment.list())
  t.regex(e.message, /has no API version: did you mean http:\/\/127\.0\.0\.1:\d+\/v0\?/)
})

it('http:// off loopback: refused by default (naming PERSE_BASE_URL when it came from there), allowed on purpose', async (t) => {
  throwsPerse(t, () => new PerseClient({ baseUrl: 'http://perse-local:8080/v0' }), 'invalid_argument')
  t.is(new PerseClient({ baseUrl: 'http://perse-local:8080/v0', allowInsecureHttp: true }).baseUrl, 'http://perse-local:8080/v0')
  const r = await runChild(`
    let refused; try { new perse.PerseClient() } catch (e) { refused = e.message }
    process.env.PERSE_ALLOW_INSECURE_HTTP = '1';
    report({ refused, allowed: new perse.PerseClient().baseUrl })`,
    { env: { PERSE_BASE_URL: 'http://perse-local:8080/v0' } },
  )
  t.regex(r.report.refused, /^PERSE_BASE_URL \(http:\/\/perse-local:8080\/v0\) is not usable: .*https.*PERSE_ALLOW_INSECURE_HTTP=1/)
  t.is(r.report.allowed, 'http://perse-local:8080/v0')
})

it('injectFault({ reachCaller: true }) fails the whole call through its retries, then stops', async (t) => {
  const s = await startLocalServer()
  t.teardown(() => s.close())
  const c = s.client({ retryBaseDelayMs: 1 })
  t.teardown(() => c.close())
  await c.enrollment.list() // logged in
  s.injectFault({ path: '/face/enrollment/list', status: 503, reachCaller: true })
  const e = await rejects(t, c.enrollment.list(), 'server_error')
  t.is(e.attempts, 3, 'the first attempt and both retries were answered 503')
  t.true(Array.isArray((await c.enrollment.list()).userTokens), 'the next call is served')
})

it('controlLocalServer drives a server from another process (jest global setup)', async (t) => {
  const s = await startLocalServer()
  t.teardown(() => s.close())
  const control = controlLocalServer({ url: s.url, privateKey: s.privateKey })
  const c = s.client({ maxRetries: 0 })
  t.teardown(() => c.close())
  await control.injectFault({ path: '/face/detect', status: 429 })
  await rejects(t, c.detect(astronaut, CONSENT), 'rate_limited')
  t.is((await c.detect(astronaut, CONSENT)).totalFaces, 1)
  const log = await control.requests()
  t.deepEqual(log.filter((r) => r.path === '/v0/face/detect').map((r) => r.status), [429, 200])
  await control.expireTokens()
  await control.reset()
  t.deepEqual(await control.requests(), [])
  const bad = controlLocalServer({ url: s.url, privateKey: 'wrong' })
  await rejects(t, bad.reset(), 'unauthorized')
  await rejects(t, control.injectFault({ status: 700 }), 'invalid_argument')
})
