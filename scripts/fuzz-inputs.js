'use strict'

// The hostile-input fuzz target of `npm run fuzz` (issue 22): random input objects handed to
// the public API as a hostile caller would, against the contract server. Objects with random
// property sets (functions that return junk, throw, reject or never settle; getters that
// throw; hostile thenables), and real streams that stall, error, lie about their size or
// yield junk; random timeouts, AbortSignals and close() in the middle of calls. Every call
// must settle, and settle with a result or a PerseError; nothing may throw into the event
// loop (uncaught exceptions and unhandled rejections are counted).
//
//   node scripts/fuzz-inputs.js [seconds=60]      FUZZ_SEED=n repeats a run
//
// Prints one line: cases, seconds, and the counts; exits 1 if any count is not 0.

const { Readable } = require('node:stream')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')
const perse = require(ROOT)
const { startContractServer } = require(path.join(ROOT, '__test__', 'helpers', 'contract-server'))

const SECONDS = Number(process.argv[2] ?? process.env.FUZZ_SECONDS ?? 60)
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31))
const photo = require('node:fs').readFileSync(path.join(ROOT, '__test__', 'fixtures', 'astronaut.jpg'))

// mulberry32: a small seeded PRNG, so a failing run can be repeated with FUZZ_SEED.
let state = SEED >>> 0
function random() {
  state = (state + 0x6d2b79f5) >>> 0
  let t = state
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const pick = (xs) => xs[Math.floor(random() * xs.length)]
const chance = (p) => random() < p

const never = () => new Promise(() => {})
const boom = () => new Error(`hostile ${Math.floor(random() * 1e6)}`)

/** `v`, with a rejection it may carry handled. */
function handled(v) {
  if (v instanceof Promise) v.catch(() => {})
  return v
}

/** A value a hostile method could return. */
function junk(depth = 0) {
  const kinds = [
    () => undefined,
    () => null,
    () => 42,
    () => 'a string',
    () => photo.subarray(0, Math.floor(random() * photo.length)),
    () => new Uint8Array(Math.floor(random() * 100)),
    () => new Float32Array(4),
    () => ({}),
    () => Promise.reject(boom()),
    () => never(),
    () => Promise.resolve(depth < 2 ? junk(depth + 1) : 1),
    () => ({
      then() {
        throw boom()
      },
    }),
    () => ({ then: (resolve) => resolve(depth < 2 ? junk(depth + 1) : 2) }),
    // A promise nested in a value is the caller's own to handle (the SDK never awaits it).
    () => ({ done: chance(0.5), value: depth < 2 ? handled(junk(depth + 1)) : photo }),
    () => new Proxy({}, { get: () => { throw boom() } }),
    () => {
      throw boom()
    },
  ]
  return pick(kinds)()
}

const KEYS = ['pipe', 'on', 'destroy', Symbol.asyncIterator, 'getReader', 'arrayBuffer', 'size', 'type', 'stream', 'status', 'headers', 'bodyUsed', 'ok', 'body', 'buffer', 'originalname', 'mimetype', 'path', 'filepath', 'userToken', 'then', 'cancel', 'byteLength', 'href', 'protocol', 'read', 'next']

/** An object with random members: methods returning junk, getters that throw, plain values. */
function hostileObject(depth = 0) {
  const o = {}
  const n = 1 + Math.floor(random() * 8)
  const set = (key, value) => Object.defineProperty(o, key, { value, enumerable: true, configurable: true, writable: true })
  for (let i = 0; i < n; i++) {
    const key = pick(KEYS)
    const how = random()
    if (how < 0.45) {
      const nested = depth < 2 && chance(0.4)
      set(key, () => (nested ? hostileObject(depth + 1) : junk()))
    } else if (how < 0.6) {
      Object.defineProperty(o, key, {
        get() {
          throw boom()
        },
        enumerable: true,
        configurable: true,
      })
    } else {
      set(key, pick([0, -1, 1e12, NaN, 'image/jpeg', true, false, null, photo, {}, never()]))
    }
  }
  // Often make it look like one of the inputs the SDK reads (over any getter set above).
  const look = {
    node: () => ({ pipe() {}, on() {}, [Symbol.asyncIterator]: () => (chance(0.5) ? hostileObject(depth + 1) : { next: () => junk() }) }),
    web: () => ({ getReader: () => (chance(0.5) ? { read: () => junk(), cancel: chance(0.5) ? () => junk() : undefined } : junk()) }),
    blob: () => ({ arrayBuffer: () => junk(), size: pick([3, 1e12, -1, NaN]), type: '', stream() {} }),
    response: () => ({ arrayBuffer: () => junk(), status: 200, headers: chance(0.5) ? { get: () => junk() } : {}, bodyUsed: false, ok: chance(0.8), body: chance(0.5) ? hostileObject(depth + 1) : null }),
    multer: () => ({ originalname: 'photo.jpg' }),
    none: () => ({}),
  }[pick(['node', 'web', 'blob', 'response', 'multer', 'none'])]()
  for (const key of Reflect.ownKeys(look)) set(key, look[key])
  return o
}

/** A real stream that misbehaves. */
function badStream() {
  const mode = pick(['stall', 'error', 'junk', 'endless', 'slow', 'good'])
  const chunks = []
  if (mode === 'good' || mode === 'slow') chunks.push(photo)
  if (chance(0.5)) {
    const web = new ReadableStream({
      async pull(c) {
        if (mode === 'stall') return never()
        if (mode === 'error') return c.error(boom())
        if (mode === 'junk') return c.enqueue(pick([42, 'text', {}, null]))
        if (mode === 'endless') return c.enqueue(new Uint8Array(65536))
        if (mode === 'slow') await new Promise((r) => setTimeout(r, 20))
        const next = chunks.shift()
        if (next) c.enqueue(next)
        else c.close()
      },
    })
    return web
  }
  return new Readable({
    read() {
      if (mode === 'stall') return
      if (mode === 'error') return this.destroy(boom())
      if (mode === 'junk') return this.push(pick(['text', Buffer.alloc(3)]))
      if (mode === 'endless') return this.push(Buffer.alloc(65536))
      const next = chunks.shift()
      if (mode === 'slow') setTimeout(() => this.push(next ?? null), 20)
      else this.push(next ?? null)
    },
  })
}

function input() {
  const r = random()
  if (r < 0.45) return hostileObject()
  if (r < 0.8) return badStream()
  if (r < 0.9) return pick([photo, new Blob([photo]), new Response(photo)])
  // The junk a method could return, as the input itself (a throw here is the caller's own).
  try {
    const j = junk()
    if (j instanceof Promise) j.catch(() => {}) // the caller's own rejected promise
    return j
  } catch {
    return undefined
  }
}

/** A short description of an input, for the report of a failing case. */
function shape(v) {
  if (v === null || typeof v !== 'object') return typeof v
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${v.byteLength})`
  try {
    return `${v.constructor?.name ?? 'Object'}{${Reflect.ownKeys(v).map(String).join(',')}}`
  } catch {
    return 'Proxy'
  }
}

/** Call options: consent, often a short timeout, sometimes an AbortSignal (real or fake). */
function options() {
  const o = { enduserConsent: true }
  if (chance(0.7)) o.timeoutMs = 30 + Math.floor(random() * 300)
  if (chance(0.3)) {
    const ac = new AbortController()
    setTimeout(() => ac.abort(), Math.floor(random() * 200))
    o.signal = ac.signal
  } else if (chance(0.1)) {
    o.signal = chance(0.5) ? hostileObject() : { aborted: false, addEventListener: () => junk(), removeEventListener: () => junk() }
  }
  return o
}

/** Each: [name, how many inputs, call]. */
const CALLS = [
  ['detect', 1, (c, [a], o) => c.detect(a, o)],
  ['compare', 2, (c, [a, b], o) => c.compare(a, b, o)],
  ['isSimilar', 2, (c, [a, b], o) => c.isSimilar(a, b, o)],
  ['quality', 1, (c, [a], o) => c.quality(a, o)],
  ['enroll', 1, (c, [a], o) => c.enroll(a, o)],
  ['enrollment.update', 1, (c, [a], o) => c.enrollment.update('usr_x', a, o)],
  ['prepareImage', 1, (c, [a]) => perse.prepareImage(a, { timeoutMs: 30 + Math.floor(random() * 300) })],
]

async function main() {
  const counts = { cases: 0, resolved: 0, perseErrors: 0, foreign: 0, hung: 0, uncaught: 0, unhandled: 0 }
  const foreign = []
  process.on('uncaughtException', (e) => (counts.uncaught++, foreign.push(`uncaught: ${e?.stack ?? e}`)))
  process.on('unhandledRejection', (e) => (counts.unhandled++, foreign.push(`unhandled: ${e?.stack ?? e}`)))
  const server = await startContractServer()
  const started = Date.now()
  while (Date.now() - started < SECONDS * 1000) {
    const client = new perse.PerseClient({ baseUrl: server.url, token: server.mintToken(), maxRetries: 0, timeoutMs: 2000 })
    const batch = Array.from({ length: 16 }, () => {
      counts.cases++
      const [name, n, fn] = pick(CALLS)
      const inputs = Array.from({ length: n }, () => (name === 'isSimilar' && chance(0.3) ? hostileObject() : input()))
      const what = `${name}(${inputs.map(shape).join(', ')})`
      if (process.env.FUZZ_TRACE) process.stderr.write(what + '\n')
      let call
      try {
        call = Promise.resolve(fn(client, inputs, options()))
      } catch (e) {
        call = Promise.reject(e) // a synchronous throw is as bad as a foreign rejection
      }
      let timer
      const deadline = new Promise((resolve) => (timer = setTimeout(() => resolve('hung'), 5000)))
      return Promise.race([call.then(() => 'resolved', (e) => (perse.isPerseError(e) ? 'perse' : e)), deadline]).then((out) => {
        clearTimeout(timer)
        if (out === 'resolved') counts.resolved++
        else if (out === 'perse') counts.perseErrors++
        else if (out === 'hung') (counts.hung++, foreign.push(`hung: ${what}`))
        else (counts.foreign++, foreign.push(`${what} rejected with ${out?.stack ?? out}`))
      })
    })
    if (chance(0.2)) setTimeout(() => client.close(), Math.floor(random() * 100))
    await Promise.all(batch)
    client.close()
  }
  await new Promise((r) => setTimeout(r, 300)) // late throws from abandoned objects
  await server.close()
  const secs = ((Date.now() - started) / 1000).toFixed(0)
  const bad = counts.foreign + counts.hung + counts.uncaught + counts.unhandled
  process.stdout.write(
    `${'hostile_input_objects (node)'.padEnd(48)} ${String(counts.cases).padStart(10)} cases  ${secs.padStart(4)} s  ` +
      `${bad === 0 ? '0 crashes, 0 non-PerseError rejections' : 'FAILED'} (seed ${SEED}; ${counts.resolved} resolved, ${counts.perseErrors} PerseErrors, ${counts.foreign} foreign, ${counts.hung} hung, ${counts.uncaught} uncaught, ${counts.unhandled} unhandled)\n`,
  )
  for (const f of foreign.slice(0, 5)) process.stdout.write(`  ${f}\n`)
  process.exitCode = bad === 0 ? 0 : 1
}

main().catch((e) => {
  process.stderr.write(`fuzz-inputs failed: ${e?.stack ?? e}\n`)
  process.exitCode = 2
})
