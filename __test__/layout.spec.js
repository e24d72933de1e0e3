'use strict'

// The completion batch layout, proved end to end: Rust encodes every outcome shape with
// distinct values in every field (src/queue/samples.rs), lib/decode.js decodes the batch, and
// each result must equal the camelCased serde JSON of the same Rust model (plus the SDK's
// status/code), each failure the error's fields. A field added to a model, to the encoder or
// to the decoder alone fails here.

const test = require('ava')

const native = require('../lib/native.js')
const { decodeBatch } = require('../lib/decode.js')
const { isPerseError } = require('..')

const camel = (k) => k.replace(/_([a-z])/g, (_, c) => c.toUpperCase())

/** snake_case JSON → the SDK's camelCase, recursively (arrays of numbers stay as they are). */
function camelize(v) {
  if (Array.isArray(v)) return v.map(camelize)
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [camel(k), camelize(x)]))
  return v
}

const DEFAULT_MESSAGES = {
  detect: 'Face detection completed',
  compare: 'Face comparison completed',
  enroll: 'Enrollment completed',
  list: 'Enrollment list retrieved',
  delete: 'Enrollment deleted',
}

/** What a decoded success must be: the model's fields, `status`, `code`, and the message. */
function expectedResult(model, defaultMessage) {
  const { message, ...fields } = camelize(model)
  return { status: true, code: 'success', message: message ?? defaultMessage, ...fields }
}

test('every outcome shape decodes to its Rust model, field for field', (t) => {
  const { nums, strs, expected } = native().__layoutSamples()
  const decoded = decodeBatch(new Float64Array(nums), strs)
  const want = JSON.parse(expected)
  t.is(decoded.length, want.length, 'one outcome per sample')
  const kinds = ['detect', 'compare', 'enroll', 'list', 'delete']
  for (const [i, w] of want.entries()) {
    const d = decoded[i]
    t.is(d.id, w.id)
    t.is(d.ok, w.ok)
    if (i < kinds.length) {
      t.deepEqual(d.value, expectedResult(w.value, DEFAULT_MESSAGES[kinds[i]]), kinds[i])
    } else if (w.ok) {
      t.deepEqual(d.value, { status: true, code: 'success', message: 'Logged in', ...w.value }, 'login')
    } else {
      t.true(isPerseError(d.value))
      const { code, message, retryable, attempts } = d.value
      t.deepEqual({ code, message, retryable, attempts }, { code: w.value.code, message: w.value.message, retryable: w.value.retryable, attempts: w.value.attempts })
      t.is(d.value.httpStatus, w.value.httpStatus ?? undefined)
      t.is(d.value.cause, w.value.cause ?? undefined)
    }
  }
})

test('the samples exercise every optional field both present and absent', (t) => {
  const want = JSON.parse(native().__layoutSamples().expected)
  const detect = want[0].value
  t.truthy(detect.faces[0].landmarks)
  t.is(detect.faces[1].landmarks, undefined)
  t.is(typeof detect.faces[0].face_metrics.color, 'number')
  t.is(detect.faces[1].face_metrics.color, undefined)
  t.is(typeof detect.message, 'string')
  t.is(want[1].value.message, undefined)
  t.truthy(want[6].value.cause)
  t.is(want[7].value.cause, null)
})
