'use strict'

// Image preparation: 'validate' (default) refuses what the API would refuse, locally and
// without a request; 'fit' converts, orients and shrinks any common photo into a JPEG under
// the limit that the local server still finds the face in; hostile files are refused.

const test = require('ava')
const { useLocalServer } = require('./helpers/local')
const fs = require('node:fs')
const path = require('node:path')

const { prepareImage } = require('..')
const { rejects } = require('./helpers/assert')
const { png } = require('./helpers/png')

const FIX = path.join(__dirname, 'fixtures')
const img = (name) => path.join(FIX, name)
const CONSENT = { enduserConsent: true }
const VALIDATE = { ...CONSENT, prepare: 'validate' }
const FIT = { prepare: 'fit' }

let server
let client
useLocalServer(test, (s, c) => {
  server = s
  client = c
})

const isJpeg = (b) => b[0] === 0xff && b[1] === 0xd8 && b[b.length - 2] === 0xff && b[b.length - 1] === 0xd9

test('validate (the default) passes a small JPEG through unchanged', async (t) => {
  const bytes = fs.readFileSync(img('astronaut.jpg'))
  const p = await prepareImage(bytes)
  t.true(p.data.equals(bytes))
  t.deepEqual({ ...p, data: null }, { data: null, width: 512, height: 512, format: 'jpeg', resized: false, orientationApplied: false })
  const fit = await prepareImage(bytes, FIT)
  t.true(fit.data.equals(bytes), 'fit never re-encodes an upright JPEG that already fits')
})

for (const n of [2, 3, 4, 5, 6, 7, 8]) {
  test(`hopper-exif-orientation-${n}.jpg comes out upright as hopper.jpg's 128x128`, async (t) => {
    const p = await prepareImage(img(`hopper-exif-orientation-${n}.jpg`), FIT)
    t.true(p.orientationApplied)
    t.is(p.format, 'jpeg')
    t.deepEqual([p.width, p.height], [128, 128])
    t.true(isJpeg(p.data))
    // Pixel equality with the upright photo is checked in Rust (prepare::tests); here the
    // local server confirms the face is found upright, which it is not in the stored pixels.
    t.is((await client.detect(p.data, CONSENT)).totalFaces, 1)
  })
}

for (const name of ['hopper.webp', 'hopper.gif', 'hopper.bmp', 'hopper.tif']) {
  test(`${name} becomes a JPEG under the limit with its face`, async (t) => {
    await rejects(t, client.detect(img(name), VALIDATE), 'invalid_file_type')
    const auto = await client.detect(img(name), CONSENT)
    t.is(auto.totalFaces, 1, 'the default (auto) converts it')
    t.is(auto.uploaded.format, 'jpeg')
    const p = await prepareImage(img(name), FIT)
    t.is(p.format, 'jpeg')
    t.true(isJpeg(p.data))
    t.true(p.data.length <= 1_000_000)
    t.deepEqual([p.width, p.height], [128, 128])
    t.is((await client.detect(img(name), { ...CONSENT, prepare: 'fit' })).totalFaces, 1)
  })
}

for (const name of ['astronaut-2048.png', 'astronaut-3000-q97.jpg']) {
  // Serial: it counts the shared server's requests.
  test.serial(`${name}: validate refuses it locally; fit brings it under 1,000,000 bytes, face intact`, async (t) => {
    const before = server.requests().length
    const e = await rejects(t, client.detect(img(name), VALIDATE), 'file_too_large')
    t.regex(e.message, /1000000/)
    t.is(e.attempts, 0)
    t.is(server.requests().length, before, 'nothing was sent')
    const p = await prepareImage(img(name), FIT)
    t.true(p.data.length <= 1_000_000, `${p.data.length} bytes`)
    t.true(p.resized)
    t.is(Math.max(p.width, p.height), 1600)
    const d = await client.detect(img(name), { ...CONSENT, prepare: 'fit' })
    t.is(d.totalFaces, 1)
    const upload = server.requests().at(-1).fields.find((f) => f.name === 'image_file')
    t.is(upload.contentType, 'image/jpeg')
    t.true(upload.size <= 1_000_000)
  })
}

test('a client-wide prepare default applies to every call; per-call options override it', async (t) => {
  const c = server.client({ prepare: 'fit' })
  t.is((await c.detect(img('astronaut-2048.png'), CONSENT)).totalFaces, 1)
  await rejects(t, c.detect(img('astronaut-2048.png'), { ...CONSENT, prepare: 'validate' }), 'file_too_large')
  c.close()
})

test('a tight maxUploadBytes still fits, by shrinking further', async (t) => {
  const p = await prepareImage(img('astronaut-3000-q97.jpg'), { prepare: 'fit', maxUploadBytes: 50_000 })
  t.true(p.data.length <= 50_000, `${p.data.length}`)
  t.true(Math.max(p.width, p.height) < 1600)
})

test.serial('decompression bomb: refused from the header in both modes, nothing sent', async (t) => {
  const bomb = png(100_000, 100_000)
  t.true(bomb.length < 200)
  for (const prepare of ['validate', 'fit']) {
    const e = await rejects(t, prepareImage(bomb, { prepare }), 'invalid_file_type')
    t.regex(e.message, /pixel limit/)
  }
  const before = server.requests().length
  await rejects(t, client.detect(bomb, { ...CONSENT, prepare: 'fit' }), 'invalid_file_type')
  t.is(server.requests().length, before)
  await rejects(t, prepareImage(png(4000, 3000), { prepare: 'validate', maxPixels: 1_000_000 }), 'invalid_file_type')
})

const badFiles = {
  'empty.jpg': 'empty_file',
  'not-an-image.jpg': 'invalid_file_type',
  'truncated.jpg': 'invalid_file_type',
  'broken.png': 'invalid_file_type',
  'broken_data_stream.png': 'invalid_file_type',
  'hopper_bad_exif.jpg': 'invalid_file_type',
  'invalid-exif.jpg': 'invalid_file_type',
}

for (const [name, code] of Object.entries(badFiles)) {
  test(`bad/${name} rejects with ${code} in both modes`, async (t) => {
    for (const prepare of ['validate', 'fit']) {
      const e = await rejects(t, prepareImage(img(name), { prepare }), code)
      t.true(e.message.length > 10)
    }
  })
}

test('prepareImage argument checks', async (t) => {
  await rejects(t, prepareImage(42), 'invalid_argument')
  await rejects(t, prepareImage(img('astronaut.jpg'), { prepare: 'shrink' }), 'invalid_argument')
  await rejects(t, prepareImage(img('astronaut.jpg'), { quality: 0 }), 'invalid_argument')
  await rejects(t, prepareImage(img('astronaut.jpg'), { bogus: 1 }), 'invalid_argument')
  await rejects(t, client.detect(img('astronaut.jpg'), { ...CONSENT, prepare: 'yes' }), 'invalid_argument')
})
