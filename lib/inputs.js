'use strict'

// Image inputs that must be read before a call can start: a Blob or File (what
// `request.formData()` gives in Next.js, Nuxt/h3, Remix, Hono and undici), a fetch Response,
// a web ReadableStream and a Node Readable. They are read within the call's byte budget
// (never buffering more than budget + one chunk) and before its deadline, and honour its
// AbortSignal. multer and formidable file objects are resolved here too, without reading.

const { fail, invalid, describe } = require('./errors.js')

/** multer (memory storage: `.buffer`; disk storage: `.path`) and formidable (`.filepath`) file objects. */
function uploadedFile(v) {
  if (v === null || typeof v !== 'object') return undefined
  const named = typeof v.originalname === 'string' || typeof v.fieldname === 'string' || typeof v.mimetype === 'string' || typeof v.originalFilename === 'string'
  if (!named) return undefined
  if (v.buffer instanceof Uint8Array) return v.buffer
  if (typeof v.path === 'string') return v.path
  if (typeof v.filepath === 'string') return v.filepath
  return undefined
}

const isBlob = (v) => typeof v?.arrayBuffer === 'function' && typeof v.size === 'number' && typeof v.type === 'string' && typeof v.stream === 'function'
const isResponse = (v) => typeof v?.arrayBuffer === 'function' && typeof v.status === 'number' && v.headers !== undefined && 'bodyUsed' in v
const isWebStream = (v) => typeof v?.getReader === 'function'
const isNodeStream = (v) => typeof v?.pipe === 'function' && typeof v.on === 'function' && typeof v[Symbol.asyncIterator] === 'function'

/** Whether `v` must be read (asynchronously) before the call can start. */
function needsReading(v) {
  return v !== null && typeof v === 'object' && !ArrayBuffer.isView(v) && (isBlob(v) || isResponse(v) || isWebStream(v) || isNodeStream(v))
}

/**
 * The bytes of `v` (see needsReading) as a Buffer. `budget` is the most bytes the call takes,
 * `timeoutMs` the deadline, `signal` the caller's AbortSignal.
 */
async function readImage(v, name, { budget, timeoutMs, signal }) {
  // A ref'd timer, not AbortSignal.timeout() (whose timer is unref'd): while a call reads a
  // stream that has stalled, the process stays alive until the deadline rejects the call, as
  // for any call in flight. With the unref'd timer, a process with nothing else to do exited
  // with the call's promise never settled.
  const clock = new AbortController()
  const timer = setTimeout(() => clock.abort(), timeoutMs)
  try {
    return await readWithin(v, name, budget, timeoutMs, signal, clock.signal)
  } finally {
    clearTimeout(timer)
  }
}

async function readWithin(v, name, budget, timeoutMs, signal, deadline) {
  const tooLarge = (size) =>
    fail('file_too_large', `${name} is ${size === undefined ? 'more than' : ''}${size ?? budget} bytes${size === undefined ? '' : ''}, over the ${budget}-byte limit (maxUploadBytes for prepare: 'validate', maxInputBytes otherwise)`)
  const stop = signal ? AbortSignal.any([signal, deadline]) : deadline
  const why = () => (deadline.aborted ? fail('timeout', `reading ${name} took longer than ${timeoutMs} ms`) : fail('aborted', 'the call was aborted'))
  if (isBlob(v)) {
    if (v.size > budget) throw tooLarge(v.size)
    return race(v.arrayBuffer().then((ab) => Buffer.from(ab)), stop, why)
  }
  if (isResponse(v)) {
    if (v.bodyUsed) throw invalid(`${name} is a Response whose body was already read`)
    if (!v.ok) throw invalid(`${name} is a Response with HTTP status ${v.status}: fetch the image successfully first`)
    const length = Number(v.headers.get('content-length'))
    if (length > budget) throw tooLarge(length)
    if (v.body === null) return Buffer.alloc(0)
    return readWeb(v.body, budget, stop, why, tooLarge)
  }
  if (isWebStream(v)) return readWeb(v, budget, stop, why, tooLarge)
  return readNode(v, budget, stop, why, tooLarge)
}

/** `promise`, or the reason `stop` gives when it fires first. */
function race(promise, stop, why) {
  if (stop.aborted) return Promise.reject(why())
  return new Promise((resolve, reject) => {
    const onStop = () => reject(why())
    stop.addEventListener('abort', onStop, { once: true })
    promise.then(resolve, reject).finally(() => stop.removeEventListener('abort', onStop))
  })
}

async function readWeb(stream, budget, stop, why, tooLarge) {
  let reader
  try {
    reader = stream.getReader()
  } catch (e) {
    throw invalid(`the image stream cannot be read: ${e.message}`)
  }
  const chunks = []
  let size = 0
  try {
    for (;;) {
      const { done, value } = await race(reader.read(), stop, why)
      if (done) break
      if (!(value instanceof Uint8Array)) throw invalid(`the image stream must yield bytes (got ${describe(value)})`)
      size += value.byteLength
      if (size > budget) throw tooLarge()
      chunks.push(value)
    }
  } catch (e) {
    reader.cancel().catch(() => {})
    throw e
  }
  return Buffer.concat(chunks, size)
}

async function readNode(stream, budget, stop, why, tooLarge) {
  const chunks = []
  let size = 0
  const onStop = () => stream.destroy(why())
  if (stop.aborted) throw why()
  stop.addEventListener('abort', onStop, { once: true })
  try {
    for await (const chunk of stream) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
      if (!(bytes instanceof Uint8Array)) throw invalid(`the image stream must yield bytes (got ${describe(chunk)})`)
      size += bytes.byteLength
      if (size > budget) throw tooLarge()
      chunks.push(bytes)
    }
  } catch (e) {
    stream.destroy()
    if (e && e.code && typeof e.status === 'boolean') throw e // already a PerseError
    if (stop.aborted) throw why()
    throw invalid(`the image stream failed: ${e?.message ?? String(e)}`)
  } finally {
    stop.removeEventListener('abort', onStop)
  }
  return Buffer.concat(chunks, size)
}

module.exports = { needsReading, readImage, uploadedFile }
