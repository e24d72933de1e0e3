'use strict'

// The JS hot path (lib/client.js → lib/args.js and lib/images.js → lib/transport.js →
// lib/pending.js → the native call → lib/decode.js) must keep its
// optimized code across full GCs. V8 holds the shapes and objects that optimized code embeds
// only weakly, and throws the code away when one of them dies. A shape that dies at every
// full GC (an object per batch reached through transitions, a property added after the
// literal) made every full GC deoptimize the path, and TurboFan then recompiled it on a
// helper thread for ~50 ms of CPU, competing with the JS thread (bench/http.mjs's event-loop
// delay). This runs traffic in a child with V8's tracing on, forces full GCs and checks that
// none of our functions is deoptimized after the warm-up.

const test = require('ava')
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { ms } = require('./helpers/time')

const ROOT = JSON.stringify(path.join(__dirname, '..'))
const PHOTO = JSON.stringify(path.join(__dirname, 'fixtures', 'astronaut.jpg'))

/**
 * Functions of the hot path, as V8 names them: each definition marked `// @hot` in lib/ (the
 * marker sits above the definition and its comments), so a rename cannot drop coverage.
 */
function hotFunctions() {
  const dir = path.join(__dirname, '..', 'lib')
  const names = []
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.js'))) {
    const lines = fs.readFileSync(path.join(dir, file), 'utf8').split('\n')
    lines.forEach((line, i) => {
      if (!/^\s*\/\/ @hot\b/.test(line)) return
      const def = lines.slice(i + 1).find((l) => !/^\s*(\/\/|\/\*\*|\*)/.test(l))
      const m = /^\s*(?:class\s+([\w$]+)|(?:async\s+)?function\s+([\w$]+)|(?:const\s+)?(#?[\w$]+)\s*(?:=\s*(?:\(|async)|\())/.exec(def)
      if (!m) throw new Error(`lib/${file}:${i + 1}: '// @hot' is not followed by a function definition`)
      names.push(m[1] ?? m[2] ?? m[3])
    })
  }
  return names
}
const OURS = hotFunctions()

const script = `
  const http = require('node:http')
  const { PerseClient } = require(${ROOT})
  // Every optional-field variant of a detect answer, so each shape is made during warm-up.
  const metric = (extra) => ({ underexposure: 0.1, overexposure: 0.2, sharpness: 0.3, ...extra })
  const landmarks = { right_eye: [1, 2], left_eye: [3, 4], nose: [5, 6], mouth_right: [7, 8], mouth_left: [9, 10] }
  const variants = [{}, { color: 0.5 }, { rotation: 90 }, { color: 0.5, rotation: 0 }].map((extra, i) => JSON.stringify({
    total_faces: 1,
    faces: [{ bounding_box: [1, 2, 3, 4], face_metrics: metric(extra), liveness_score: 0.9, ...(i % 2 ? { landmarks } : {}) }],
    image_metrics: metric(extra),
    time_taken: 0.01,
    default_thresholds: { underexposure: 0.5, overexposure: 0.5, sharpness: 0.15, liveness: 0.5 },
  }))
  let n = 0
  const srv = http.createServer({ keepAlive: true }, (req, res) => {
    req.resume()
    req.on('end', () => {
      const body = req.url.endsWith('/list') ? '{"user_tokens":["a","b"],"total_users":2,"time_taken":0.01}' : variants[n++ % 4]
      res.writeHead(200, { 'content-type': 'application/json' }).end(body)
    })
  })
  srv.listen(0, '127.0.0.1', async () => {
    const c = new PerseClient({ baseUrl: 'http://127.0.0.1:' + srv.address().port + '/v0', token: 'a.b.c', maxRetries: 0 })
    const photo = require('node:fs').readFileSync(${PHOTO})
    const phase = async (calls) => {
      let next = 0
      await Promise.all(Array.from({ length: 16 }, async () => {
        while (next++ < calls) {
          const r = next % 10 === 0 ? await c.enrollment.list() : await c.detect(photo, { enduserConsent: true })
          if (!r.status) throw new Error('bad result')
        }
      }))
    }
    await phase(4000)
    console.log('MARK warm')
    for (let i = 0; i < 3; i++) {
      global.gc()
      await phase(1000)
    }
    console.log('MARK done')
    c.close()
    srv.close()
  })`

test('the hot path is marked in the source', (t) => {
  for (const name of ['Cursor', 'num', 'detect', 'settle', '#start', '#flush', '#call', 'callOptions', 'imageArg', 'rearm']) t.true(OURS.includes(name), name)
})

test('no full GC deoptimizes the hot path', (t) => {
  const r = spawnSync(process.execPath, ['--expose-gc', '--trace-opt', '--trace-deopt', '-e', script], { encoding: 'utf8', timeout: ms(90000), maxBuffer: 64 * 1024 * 1024 })
  t.is(r.status, 0, r.stderr)
  const [warm, after] = r.stdout.split('MARK warm')
  t.true(after !== undefined && after.includes('MARK done'), r.stderr)
  // Only up to 'MARK done': once the client is closed, its code may go (and V8 may run a
  // memory-reducing GC before the process exits).
  const rest = after.slice(0, after.indexOf('MARK done'))
  // Not vacuous: the warm-up got the path optimized.
  // 'completed optimizing' (Node 20/22) or 'completed compiling ... (target TURBOFAN|MAGLEV)' (Node 24).
  const optimized = new Set([...warm.matchAll(/completed (?:optimizing|compiling) \S+ <JSFunction ([^ >]+)/g)].map((m) => m[1]))
  // (Newer V8s inline the smallest functions instead of optimizing them on their own.)
  const hot = OURS.filter((name) => optimized.has(name))
  // Both halves of the path: the call side (detect, #start) and the completion side (settle,
  // or the batch cursor's num where V8 12+ inlines settle into the completion closure, as
  // Node 22 and 24 do with this code).
  const completion = optimized.has('settle') || optimized.has('num')
  const call = optimized.has('detect') || optimized.has('#start')
  t.true(hot.length >= 4 && completion && call, `only ${hot.join(', ')} were optimized during warm-up`)
  // After it, through three forced full GCs, nothing of ours is thrown away.
  const deopts = [
    ...[...rest.matchAll(/<SharedFunctionInfo ([^>]*)>\)? .*for deoptimization, reason: ([^\]]*)/g)].map((m) => `${m[1]} (${m[2]})`),
    ...[...rest.matchAll(/bailout \(kind: [^,]*, reason: ([^)]*)\): begin\. deoptimizing \S+ <JSFunction ([^ >]+)/g)].map((m) => `${m[2]} (${m[1]})`),
  ]
  const ours = deopts.filter((d) => OURS.includes(d.slice(0, d.indexOf(' ('))))
  t.deepEqual(ours, [], `deoptimized after warm-up: ${ours.join(', ')}`)
})
