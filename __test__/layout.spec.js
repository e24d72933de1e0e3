'use strict'

// The completion batch layout, proved end to end: Rust encodes a sample of every result,
// once with every optional field present and once with every one absent, and failures
// (src/queue/samples.rs, from the models' own declarations), lib/decode.generated.js decodes
// the batch, and each result must equal the camelCased serde JSON of the same Rust value
// (plus the SDK's status, code and uploads), each failure the failure's fields. The samples
// exist only in a debug build (feature layout-samples): suites run on release binaries
// (test:arm64, test:windows) skip this file.

const test = require('ava')

const native = require('../lib/native.js')
const { decodeBatch } = require('../lib/decode.js')
const { isPerseError } = require('..')

const samples = native().__layoutSamples

const camel = (k) => k.replace(/_([a-z])/g, (_, c) => c.toUpperCase())

/** snake_case JSON → the SDK's camelCase, recursively; `null` members (absent) dropped. */
function camelize(v) {
  if (Array.isArray(v)) return v.map(camelize)
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [camel(k), camelize(x)]))
  return v
}

/** What a decoded success must be: `status`, `code`, the message, the model's fields, the uploads, then the envelope's fields. */
function expectedResult({ result, uploads, envelope }, message) {
  const { message: sent, ...fields } = camelize(result)
  const upload = (u) => (u === null ? null : camelize(u))
  const out = { status: true, code: 'success', message: sent ?? message, ...fields }
  if (uploads.length === 1) out.uploaded = upload(uploads[0])
  if (uploads.length === 2) out.uploaded = { a: upload(uploads[0]), b: upload(uploads[1]) }
  return { ...out, ...camelize(envelope) }
}

const maybe = typeof samples === 'function' ? test : test.skip

maybe('every outcome shape decodes to its Rust value, field for field, with optional fields present and absent', (t) => {
  const { nums, strs, expected } = JSON.parse(samples())
  const decoded = decodeBatch(Float64Array.from(nums, (n) => n ?? NaN), strs)
  t.is(decoded.length, expected.length, 'one outcome per sample')
  t.true(expected.filter((e) => e.ok).length >= 12, 'every result, twice')
  for (const [i, want] of expected.entries()) {
    const d = decoded[i]
    t.is(d.id, want.id)
    t.is(d.ok, want.ok)
    if (want.ok) {
      // A result without the server's message gets the SDK's default, which the generator puts in.
      t.is(typeof d.value.message, 'string')
      t.deepEqual(d.value, expectedResult(want.value, d.value.message), `sample ${i}`)
    } else {
      t.true(isPerseError(d.value))
      const f = want.value
      const { code, message, retryable, attempts, httpStatus, cause } = d.value
      t.deepEqual({ code, message, retryable, attempts, httpStatus, cause }, { code: f.code, message: f.message, retryable: f.retryable, attempts: f.attempts, httpStatus: f.http_status ?? undefined, cause: f.cause ?? undefined })
    }
  }
})

maybe('the two sample sets differ in every optional field', (t) => {
  const { expected } = JSON.parse(samples())
  const detects = expected.filter((e) => e.ok && 'total_faces' in e.value.result).map((e) => e.value)
  t.is(detects.length, 2)
  const [full, bare] = detects
  t.truthy(full.result.faces[0].landmarks)
  t.is(bare.result.faces[0].landmarks, undefined)
  t.is(typeof full.result.faces[0].face_metrics.color, 'number')
  t.is(bare.result.faces[0].face_metrics.color, undefined)
  t.is(typeof full.result.message, 'string')
  t.is(bare.result.message, undefined)
  t.not(full.uploads[0], null)
  t.is(bare.uploads[0], null)
  const failures = expected.filter((e) => !e.ok).map((e) => e.value)
  t.is(typeof failures[0].cause, 'string')
  t.is(failures[1].cause, null)
})
