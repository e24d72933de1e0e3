'use strict'

// Reliability round 2 (issue 22), part 1: the input objects a caller hands over (streams,
// readers, Blobs, Responses, objects with getters) treated as hostile. Every attack here
// failed on the code before the fix: the process crashed, or the call rejected with a
// foreign error, or close() left it waiting for its deadline. Attacks that crashed the
// process run in a child, so that a regression fails the test instead of killing the worker.

const test = require('ava')
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')
const { Readable } = require('node:stream')

const { PerseClient, isPerseError } = require('..')
const { startContractServer } = require('./helpers/contract-server')
const { runChild } = require('./helpers/child')
const { rejects } = require('./helpers/assert')

const astronaut = fs.readFileSync(path.join(__dirname, 'fixtures', 'astronaut.jpg'))
const CONSENT = { enduserConsent: true }

let server
let client
test.before(async () => {
  server = await startContractServer()
  client = new PerseClient({ baseUrl: server.url, token: server.mintToken(), maxRetries: 0 })
})
test.after.always(async () => {
  client?.close()
  await server?.close()
})

/** A stream that looks like a Node Readable (pipe, on, async iterator) and never yields; no destroy. */
const duckStream = () => ({
  pipe() {},
  on() {},
  [Symbol.asyncIterator]: () => ({ next: () => new Promise(() => {}) }),
})

/** A web stream whose reader never answers and has no cancel. */
const duckWeb = () => ({ getReader: () => ({ read: () => new Promise(() => {}) }) })

test.serial('a duck-typed stream without destroy() neither crashes the process on timeout nor on abort', async (t) => {
  const r = await runChild(`
    const duck = () => ({ pipe() {}, on() {}, [Symbol.asyncIterator]: () => ({ next: () => new Promise(() => {}) }) });
    const web = () => ({ getReader: () => ({ read: () => new Promise(() => {}) }) });
    const crashes = [];
    process.on('uncaughtException', (e) => crashes.push(String(e)));
    const c = new perse.PerseClient({ baseUrl: 'http://127.0.0.1:9/v0', token: 'a.b.c' });
    const out = [];
    for (const make of [duck, web]) {
      const t1 = await c.detect(make(), { enduserConsent: true, timeoutMs: 100 }).catch((e) => e);
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 30);
      const t2 = await c.detect(make(), { enduserConsent: true, signal: ac.signal }).catch((e) => e);
      out.push([t1.name, t1.code, t2.name, t2.code]);
    }
    await new Promise((r) => setTimeout(r, 50));
    c.close();
    report({ out, crashes });`)
  t.is(r.code, 0, r.stderr)
  t.deepEqual(r.report, {
    out: [
      ['PerseError', 'timeout', 'PerseError', 'aborted'],
      ['PerseError', 'timeout', 'PerseError', 'aborted'],
    ],
    crashes: [],
  })
})

test('a web stream whose source errors rejects with invalid_argument and the cause', async (t) => {
  const boom = new Error('disk on fire')
  const stream = new ReadableStream({
    start(c) {
      c.enqueue(new Uint8Array(10))
    },
    pull(c) {
      c.error(boom)
    },
  })
  const e = await rejects(t, client.detect(stream, CONSENT), 'invalid_argument')
  t.regex(e.message, /disk on fire/)
  t.is(e.cause, boom)
})

test("a fetch Response whose connection resets mid-body rejects with network_error ('terminated') and the cause", async (t) => {
  const origin = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(astronaut.length) })
    res.write(astronaut.subarray(0, 1000))
    setTimeout(() => res.socket.destroy(), 30)
  })
  await new Promise((r) => origin.listen(0, '127.0.0.1', r))
  t.teardown(() => origin.close())
  const before = server.requests.length
  const response = await fetch(`http://127.0.0.1:${origin.address().port}/photo.jpg`)
  const e = await rejects(t, client.detect(response, CONSENT), 'network_error')
  t.regex(e.message, /image.*terminated|terminated/)
  t.truthy(e.cause)
  t.false(e.retryable)
  t.is(server.requests.length, before, 'nothing was sent')
})

test('an fs.openAsBlob Blob whose file changed rejects with invalid_argument, not a DOMException', async (t) => {
  const file = path.join(os.tmpdir(), `perse-blob-${process.pid}-${Date.now()}.jpg`)
  fs.writeFileSync(file, astronaut)
  t.teardown(() => fs.rmSync(file, { force: true }))
  const blob = await fs.openAsBlob(file)
  fs.writeFileSync(file, astronaut.subarray(0, 500)) // the file changes behind the Blob
  const e = await rejects(t, client.detect(blob, CONSENT), 'invalid_argument')
  t.regex(e.message, /Blob/)
  t.truthy(e.cause)
})

test('a Response whose body getter throws rejects with invalid_argument', async (t) => {
  const response = new Response(astronaut)
  Object.defineProperty(response, 'body', {
    get() {
      throw new Error('body getter')
    },
  })
  const e = await rejects(t, client.detect(response, CONSENT), 'invalid_argument')
  t.regex(e.message, /body getter/)
})

test('a throwing getter on one side of compare or isSimilar, the other being a stream, Blob or Response, rejects with invalid_argument and reads nothing', async (t) => {
  const throwing = [
    ['a throwing userToken', () => ({ get userToken() {
      throw new Error('userToken getter')
    } })],
    ['a multer file whose .buffer throws', () => ({ originalname: 'x.jpg', get buffer() {
      throw new Error('buffer getter')
    } })],
  ]
  const readers = [
    ['stream', () => {
      const s = Readable.from([astronaut])
      return [s, () => s.readableDidRead]
    }],
    ['Blob', () => {
      let read = false
      const b = new Blob([astronaut])
      const arrayBuffer = b.arrayBuffer.bind(b)
      b.arrayBuffer = () => ((read = true), arrayBuffer())
      return [b, () => read]
    }],
    ['Response', () => {
      const r = new Response(astronaut)
      return [r, () => r.bodyUsed]
    }],
  ]
  const before = server.requests.length
  for (const [what, bad] of throwing) {
    for (const [kind, make] of readers) {
      for (const method of ['compare', 'isSimilar']) {
        for (const order of ['ab', 'ba']) {
          const [input, wasRead] = make()
          const args = order === 'ab' ? [bad(), input] : [input, bad()]
          const e = await client[method](...args, CONSENT).catch((x) => x)
          t.true(isPerseError(e), `${method} with ${what} and a ${kind} (${order}): ${e}`)
          t.is(e.code, 'invalid_argument', `${method} with ${what} and a ${kind} (${order})`)
          t.false(wasRead(), `${method} with ${what} read the ${kind}`)
        }
      }
    }
  }
  t.is(server.requests.length, before, 'nothing was sent')
})

test('close() settles a call reading a slow stream at once, with client_closed, and cancels the source', async (t) => {
  const c = new PerseClient({ baseUrl: server.url, token: server.mintToken(), timeoutMs: 10_000 })
  const node = new Readable({ read() {} })
  let cancelled = false
  const web = new ReadableStream({
    pull: () => new Promise(() => {}),
    cancel: () => {
      cancelled = true
    },
  })
  const calls = [c.detect(node, CONSENT), c.detect(web, CONSENT), c.compare(duckStream(), duckWeb(), CONSENT), c.isSimilar(astronaut, new Readable({ read() {} }), CONSENT)]
  await new Promise((r) => setTimeout(r, 50))
  const started = Date.now()
  c.close()
  const settled = await Promise.allSettled(calls)
  const took = Date.now() - started
  t.deepEqual(
    settled.map((s) => [s.status, s.reason?.code]),
    calls.map(() => ['rejected', 'client_closed']),
  )
  t.true(took < 1000, `settled after ${took} ms`)
  t.true(node.destroyed, 'the Node stream was destroyed')
  t.true(cancelled, 'the web stream was cancelled')
})

test('in a compare of two streams, one failing cancels the read of the other', async (t) => {
  const slow = new Readable({ read() {} })
  const failing = new ReadableStream({
    pull(c) {
      c.error(new Error('gone'))
    },
  })
  const e = await rejects(t, client.compare(slow, failing, { ...CONSENT, timeoutMs: 10_000 }), 'invalid_argument')
  t.regex(e.message, /gone/)
  t.true(slow.destroyed, 'the other stream was destroyed, not left to the deadline')
})

test('an AbortSignal look-alike whose getter or methods throw is an invalid argument, for bytes and for streams', async (t) => {
  const signals = [
    { get aborted() {
      throw new Error('aborted getter')
    }, addEventListener() {} },
    { aborted: false, addEventListener() {
      throw new Error('addEventListener')
    } },
  ]
  for (const signal of signals) {
    for (const image of [astronaut, () => Readable.from([astronaut])]) {
      const e = await client.detect(typeof image === 'function' ? image() : image, { ...CONSENT, signal }).catch((x) => x)
      t.true(isPerseError(e), String(e))
      t.is(e.code, 'invalid_argument')
    }
  }
})

test('objects that lie (iterators and readers giving junk, Blobs resolving junk) are refused with invalid_argument', async (t) => {
  const liars = [
    { pipe() {}, on() {}, [Symbol.asyncIterator]: () => null },
    { pipe() {}, on() {}, [Symbol.asyncIterator]: () => ({ next: () => 42 }) },
    { pipe() {}, on() {}, [Symbol.asyncIterator]: () => ({ next: () => ({ done: false, value: { length: 3 } }) }) },
    { pipe() {}, on() {}, [Symbol.asyncIterator]: () => ({ next() {
      throw new Error('next threw')
    } }) },
    { getReader: () => 'a string' },
    { getReader() {
      throw new Error('getReader threw')
    } },
    { getReader: () => ({ read: () => ({ then() {
      throw new Error('then threw')
    } }) }) },
    { arrayBuffer: async () => 'no', size: 3, type: '', stream() {} },
    { arrayBuffer: () => Promise.reject(new Error('nope')), size: 3, type: '', stream() {} },
    { arrayBuffer() {}, get size() {
      throw new Error('size getter')
    }, type: '', stream() {} },
  ]
  for (const [i, liar] of liars.entries()) {
    const e = await client.detect(liar, CONSENT).catch((x) => x)
    t.true(isPerseError(e), `liar ${i}: ${e}`)
    t.is(e.code, 'invalid_argument', `liar ${i}: ${e.message}`)
  }
})

test("a stream over the budget says 'more than N bytes', with the space", async (t) => {
  const c = new PerseClient({ baseUrl: server.url, token: server.mintToken(), maxUploadBytes: 1000 })
  t.teardown(() => c.close())
  const e = await rejects(t, c.detect(Readable.from([Buffer.alloc(2000)]), { ...CONSENT, prepare: 'validate' }), 'file_too_large')
  t.regex(e.message, /is more than 1000 bytes, over the 1000-byte limit/)
})

test.serial('a short run of the hostile-input fuzz target (npm run fuzz runs it for 60 s) finds no crash and no foreign rejection', async (t) => {
  const r = await runChild(
    `const { spawnSync } = require('node:child_process');
    const out = spawnSync(process.execPath, [require('node:path').join(${JSON.stringify(path.join(__dirname, '..', 'scripts'))}, 'fuzz-inputs.js'), '6'], { env: { ...process.env, FUZZ_SEED: '22' }, encoding: 'utf8' });
    report({ status: out.status, out: out.stdout + out.stderr });`,
    { timeoutMs: 120_000 },
  )
  t.is(r.code, 0, r.stderr)
  t.is(r.report.status, 0, r.report.out)
  t.regex(r.report.out, /0 crashes, 0 non-PerseError rejections/)
  t.log(r.report.out.trim())
})

test('thenables handed over as inputs or returned by their methods neither hang the call nor leave an unhandled rejection', async (t) => {
  const r = await runChild(`
    const { Readable } = require('node:stream');
    const unhandled = [];
    process.on('unhandledRejection', (e) => unhandled.push(String(e)));
    const c = new perse.PerseClient({ baseUrl: 'http://127.0.0.1:9/v0', token: 'a.b.c', maxRetries: 0 });
    const bad = () => Promise.reject(new Error('returned by then'));
    const out = [];
    // The other side of a compare is a thenable that never calls back.
    out.push(await c.compare(Readable.from([Buffer.alloc(10)]), { userToken: 'usr_x', then() {} }, { enduserConsent: true, timeoutMs: 500 }).then(() => 'resolved', (e) => e.code));
    // A reader whose read() returns a thenable whose then() returns a rejected promise, then settles.
    const web = { getReader: () => ({ read: () => ({ then: (ok) => (ok({ done: true }), bad()) }) }) };
    out.push(await c.detect(web, { enduserConsent: true, timeoutMs: 500 }).then(() => 'resolved', (e) => e.code));
    // A thenable that resolves to itself forever.
    const loop = { then: (ok) => ok(loop) };
    out.push(await c.detect({ getReader: () => ({ read: () => loop }) }, { enduserConsent: true, timeoutMs: 500 }).then(() => 'resolved', (e) => e.code));
    await new Promise((r) => setTimeout(r, 100));
    c.close();
    report({ out, unhandled });`)
  t.is(r.code, 0, r.stderr)
  t.deepEqual(r.report, { out: ['invalid_file_type', 'empty_file', 'invalid_argument'], unhandled: [] })
})
