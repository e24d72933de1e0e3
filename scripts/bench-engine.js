'use strict'

// npm run bench:engine [-- --only kernels|e2e]
//
// How fast the local server's face engine is, measured against its anchors in one run on one
// machine (issue 27). A benchmark that prints figures, not a test: it exits 0 whatever the
// ratios are (2 on an error).
//
// kernels: the engine's networks (crates/perse-engine, through examples/bench_worker.rs)
//   against onnxruntime (PyPI, engine/bench_ort.py) on the same inputs, with the same
//   thread count, alternated call by call:
//   - CenterFace's forward pass on every evaluation photo that is not a 150 px chip, at a
//     longer side of 800 (as the server detects), against the original centerface.onnx;
//   - the descriptor on the chip of each photo's largest face, against the same network
//     exported to ONNX (engine/export_onnx.py, from the server's weights).
//   Also checks that both compute the same thing (largest output difference), and puts both
//   against the machine: each network's multiply-adds over its time, as a share of the FMA
//   peak measured on as many threads, and the share a ratio of 0.8 would take.
// e2e: detect and compare through the local server, this tree's against the baseline's
//   ("today's code": BASELINE, by default the parent of the commit that started issue 27's
//   engine work, built once into target/bench-engine/baseline), both in this process,
//   called with this tree's perse-node client one call at a time, alternating:
//   - detect on every evaluation photo the server decodes;
//   - compare (this tree's server with its analysis cache off) on pairs of those photos
//     with a face wide enough to compare;
//   - a repeated-photo compare: this tree's server with its cache on (the default), each
//     pair compared again, against the baseline's compare of the same pair;
//   - where this tree's detect spends its time, by stage: the client's prepare step
//     (prepareImage), the server's stages from its Server-Timing header, and the rest of a
//     raw HTTP detect's wall time (upload, HTTP, reply handling).
//   Detect is reported over all photos and over the full-size ones (most are 150 px chips).
//
// Knobs (environment): ROUNDS (3), THREADS ("1,2"), E2E_ROUNDS (2), BASELINE (a git ref),
// ORT_SPIN=1 (onnxruntime's idle threads spin-wait, its default; see engine/bench_ort.py),
// PERSE_HEAVY_LOCK (cargo and napi builds under flock).

const { spawn, execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const readline = require('node:readline')
const data = require('./engine-data.js')

const TAG = 'bench:engine'
const OUT = path.join(data.ROOT, 'target', 'bench-engine')
const ROUNDS = Number(process.env.ROUNDS || 3)
const THREADS = (process.env.THREADS || '1,2').split(',').map(Number)

const median = (v) => {
  const s = [...v].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const fmt = (v, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : '-')

/** A worker process answering one JSON line per JSON command line. */
class Worker {
  constructor(name, cmd, args) {
    this.name = name
    this.proc = spawn(cmd, args, { cwd: data.ROOT, stdio: ['pipe', 'pipe', 'inherit'] })
    this.waiting = []
    this.proc.on('exit', (code) => {
      for (const w of this.waiting.splice(0)) w.reject(new Error(`${name} exited (${code})`))
    })
    readline.createInterface({ input: this.proc.stdout }).on('line', (line) => {
      const w = this.waiting.shift()
      if (!w) return
      let v
      try {
        v = JSON.parse(line)
      } catch {
        return w.reject(new Error(`${name}: not JSON: ${line}`))
      }
      if (v && v.error) w.reject(new Error(`${name}: ${v.error}`))
      else w.resolve(v)
    })
  }

  call(cmd) {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject })
      this.proc.stdin.write(JSON.stringify(cmd) + '\n')
    })
  }

  close() {
    this.proc.stdin.end()
  }
}

function host() {
  return /host: (\S+)/.exec(execFileSync('rustc', ['-vV'], { encoding: 'utf8' }))[1]
}

function buildWorker() {
  const [cmd, args] = data.cargo(['build', '--release', '--target', host(), '-p', 'perse-engine', '--example', 'bench_worker'])
  data.step(TAG, 'building the engine worker (release)', cmd, args)
  return path.join(data.ROOT, 'target', host(), 'release', 'examples', process.platform === 'win32' ? 'bench_worker.exe' : 'bench_worker')
}

/** Times `cmd` on both workers for every input, alternating which goes first; per-input medians. */
async function alternate(ours, ort, inputs, cmd, threads) {
  const times = { ours: inputs.map(() => []), ort: inputs.map(() => []) }
  // One untimed call each first (allocations, onnxruntime's session, caches).
  for (const x of inputs) {
    await ours.call({ ...cmd(x), threads, runs: 1 })
    await ort.call({ ...cmd(x), threads, runs: 1 })
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, x] of inputs.entries()) {
      const pair = r % 2 ? [['ort', ort], ['ours', ours]] : [['ours', ours], ['ort', ort]]
      for (const [k, w] of pair) times[k][i].push(...(await w.call({ ...cmd(x), threads, runs: 1 })).ms)
    }
  }
  const per = (k) => times[k].map(median)
  const [o, a] = [per('ours'), per('ort')]
  return { ours: median(o), ort: median(a), ratio: median(o.map((v, i) => v / a[i])), perOurs: o, perOrt: a }
}

/**
 * Where the times stand against the machine (the roofline): each network's multiply-adds per
 * input over its time is a rate, put against the FMA peak the engine worker measures on as
 * many threads. Also the rate a ratio of 0.8 would take: what the kernel targets ask of the
 * hardware.
 */
async function roofline(ours, rows, inputs) {
  const peaks = {}
  for (const t of new Set(rows.map(([, t]) => t))) peaks[t] = (await ours.call({ cmd: 'peak', threads: t })).gmacs
  const macs = {}
  for (const [net, list] of Object.entries(inputs)) {
    macs[net] = []
    for (const p of list) macs[net].push((await ours.call({ cmd: 'macs', net, ...p[net] })).macs)
  }
  const pct = (rate, t) => `${fmt(rate)} (${fmt((100 * rate) / peaks[t], 0)} %)`
  process.stdout.write(
    `\n  Against the machine: multiply-adds per input over the time (GMAC/s), and the share of the FMA peak\n` +
      `  measured on as many threads (${Object.entries(peaks)
        .map(([t, g]) => `${t} thread${t > 1 ? 's' : ''}: ${fmt(g)} GMAC/s`)
        .join(', ')}). A ratio of 0.8 needs the rate in the last column.\n` +
      '\n  | network | threads | M multiply-adds (median) | engine GMAC/s | onnxruntime GMAC/s | needed for 0.8 |\n  |---|---|---|---|---|---|\n',
  )
  for (const [what, t, r] of rows) {
    const net = what.startsWith('CenterFace') ? 'centerface' : 'descriptor'
    const m = macs[net]
    // ms per input (the descriptor's: per chip, t chips at once on t threads), so the rate
    // is the t threads' together.
    const rate = (ms) => median(ms.map((v, i) => m[i] / (v * 1e6)))
    const [o, a] = [rate(r.perOurs), rate(r.perOrt)]
    process.stdout.write(`  | ${what} | ${t} | ${fmt(median(m) / 1e6, 0)} | ${pct(o, t)} | ${pct(a, t)} | ${pct(a / 0.8, t)} |\n`)
  }
}

async function kernels() {
  data.ensureVenv(TAG, true)
  const worker = buildWorker()
  fs.mkdirSync(OUT, { recursive: true })
  const dsOnnx = path.join(OUT, 'dlib_resnet_v1.f16.onnx')
  data.step(TAG, 'exporting the descriptor to ONNX', data.PYTHON, [
    path.join(data.ENGINE, 'export_onnx.py'),
    path.join(data.WEIGHTS, 'dlib_resnet_v1.f16.safetensors'),
    dsOnnx,
    '--check',
  ])
  const ours = new Worker('engine worker', worker, [data.WEIGHTS])
  const ort = new Worker('onnxruntime worker', data.PYTHON, [path.join(data.ENGINE, 'bench_ort.py'), dsOnnx])
  try {
    const info = { ...(await ours.call({ cmd: 'info' })), ...(await ort.call({ cmd: 'info' })) }
    const photos = Object.keys(data.labels())
      .sort()
      .map((n) => path.join(data.IMAGES, n))
    const prepared = await ours.call({ cmd: 'prepare', images: photos, dir: path.join(OUT, 'inputs'), max_side: 800 })
    for (const p of prepared.filter((p) => p.skipped)) process.stdout.write(`  skipped ${path.basename(p.image)}: ${p.skipped}\n`)
    const big = prepared.filter((p) => !p.skipped && Math.max(...p.size) > 300)
    const chips = prepared.filter((p) => !p.skipped && p.descriptor)
    process.stdout.write(
      `\n${TAG}: kernels: engine (${info.isa} kernels) vs onnxruntime ${info.onnxruntime}, ` +
        `${ROUNDS} alternating rounds, per-input medians, then the median over inputs\n` +
        `  CenterFace forward: ${big.length} photos at a longer side of 800; descriptor: ${chips.length} chips (largest face of each photo)\n`,
    )
    // Same numbers from both (largest output difference, on the first photos).
    for (const p of big.slice(0, 2)) {
      const out = path.join(OUT, 'ours.f32')
      await ours.call({ cmd: 'outputs', net: 'centerface', ...p.centerface, out })
      const c = await ort.call({ cmd: 'compare', net: 'centerface', ...p.centerface, ours: out })
      process.stdout.write(`  check: CenterFace outputs on ${path.basename(p.image)}: largest difference ${c.max_abs.toExponential(1)} (largest value ${fmt(c.max_ref, 2)})\n`)
    }
    for (const p of chips.slice(0, 2)) {
      const out = path.join(OUT, 'ours.f32')
      await ours.call({ cmd: 'outputs', net: 'descriptor', ...p.descriptor, out })
      const c = await ort.call({ cmd: 'compare', net: 'descriptor', ...p.descriptor, ours: out })
      process.stdout.write(`  check: descriptor of ${path.basename(p.image)}: largest difference ${c.max_abs.toExponential(1)} (largest value ${fmt(c.max_ref, 2)})\n`)
    }
    const rows = []
    for (const t of THREADS) {
      const cf = await alternate(ours, ort, big, (p) => ({ cmd: 'centerface', ...p.centerface }), t)
      rows.push(['CenterFace forward', t, cf])
      const ds = await alternate(ours, ort, chips, (p) => ({ cmd: 'descriptor', ...p.descriptor }), t)
      rows.push(['descriptor', t, ds])
    }
    process.stdout.write(
      '\n  Descriptor with 2 threads: per chip, 2 chips at a time (the engine describes one chip per thread;\n' +
        '  onnxruntime runs them one after the other on 2 intra-op threads).\n' +
        '\n  | network | threads | engine ms | onnxruntime ms | ratio (target <= 0.8) |\n  |---|---|---|---|---|\n',
    )
    for (const [what, t, r] of rows) {
      const verdict = r.ratio <= 0.8 ? 'met' : 'missed'
      process.stdout.write(`  | ${what} | ${t} | ${fmt(r.ours)} | ${fmt(r.ort)} | ${fmt(r.ratio, 2)} (${verdict}) |\n`)
    }
    await roofline(ours, rows, { centerface: big, descriptor: chips })
    return rows
  } finally {
    ours.close()
    ort.close()
  }
}

/** The commit "today's code" is measured at: BASELINE, else the parent of the first commit
 * that added crates/perse-engine/src/ops/simd.rs (issue 27's first engine change). */
function baselineCommit() {
  const git = (...a) => execFileSync('git', a, { cwd: data.ROOT, encoding: 'utf8' }).trim()
  if (process.env.BASELINE) return git('rev-parse', '--verify', `${process.env.BASELINE}^{commit}`)
  const first = git('log', '--format=%H', '--diff-filter=A', '--', 'crates/perse-engine/src/ops/simd.rs').split('\n').pop()
  if (!first) throw new Error('cannot find the baseline commit: set BASELINE to a git ref')
  return git('rev-parse', `${first}^`)
}

/** Builds perse-node-local at `commit` (release) in its own worktree; returns its package folder. */
function buildBaseline(commit) {
  const dir = path.join(OUT, 'baseline')
  const pkg = path.join(dir, 'packages', 'local')
  const stamp = path.join(OUT, 'baseline.commit')
  const built = () => fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === commit && fs.readdirSync(pkg).some((f) => f.endsWith('.node'))
  if (fs.existsSync(dir) && built()) return pkg
  if (fs.existsSync(dir)) execFileSync('git', ['worktree', 'remove', '--force', dir], { cwd: data.ROOT })
  execFileSync('git', ['worktree', 'prune'], { cwd: data.ROOT })
  data.step(TAG, `checking out the baseline ${commit.slice(0, 10)}`, 'git', ['worktree', 'add', '--detach', dir, commit])
  const napi = path.join(data.ROOT, 'node_modules', '.bin', 'napi')
  const args = ['build', '--platform', '--release', '--js', 'binding.js', '--dts', 'binding.d.ts', '--cwd', pkg]
  // Its own target folder: in this tree's, the baseline's workspace crates (same names and
  // versions) overwrote this tree's release artifacts, and cargo, going by file times, then
  // took them for this tree's (this tree's release build failed on the old perse-options).
  process.env.CARGO_TARGET_DIR = path.join(OUT, 'baseline-target')
  const lock = process.env.PERSE_HEAVY_LOCK
  data.step(TAG, 'building the baseline perse-node-local (release)', ...(lock ? ['flock', [lock, napi, ...args]] : [napi, args]))
  delete process.env.CARGO_TARGET_DIR
  fs.writeFileSync(stamp, commit)
  return pkg
}

function buildCurrent() {
  const lock = process.env.PERSE_HEAVY_LOCK
  const build = [process.execPath, [path.join(data.ROOT, 'scripts', 'build.js'), '--release']]
  data.step(TAG, 'building perse-node and perse-node-local (release)', ...(lock ? ['flock', [lock, ...build.flat()]] : build))
}

/** A started server: `{ url, privateKey, close() }`. */
async function startBaseline(pkgDir) {
  const pkg = require(pkgDir)
  const r = await pkg.native().startLocalServer(pkg.weightsDir, {})
  if (r.status === false) throw new Error(`the baseline server did not start: ${r.message}`)
  return r
}

const ms = (t) => Number(process.hrtime.bigint() - t) / 1e6
const now = () => process.hrtime.bigint()

/** The Server-Timing stages of a raw detect of `file` (the SDK does not expose headers). */
async function serverStages(server, token, file) {
  const form = new FormData()
  form.append('image_file', new Blob([fs.readFileSync(file)]), path.basename(file))
  form.append('client_declaration_enduser_consent', 'true')
  const res = await fetch(`${server.url}/face/detect`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form })
  await res.arrayBuffer()
  const stages = {}
  for (const part of (res.headers.get('server-timing') || '').split(',')) {
    const m = /^\s*(\w+);dur=([\d.]+)/.exec(part)
    if (m) stages[m[1]] = Number(m[2])
  }
  return stages
}

async function e2e() {
  const { PerseClient, prepareImage, startLocalServer } = require(data.ROOT)
  const commit = baselineCommit()
  const basePkg = buildBaseline(commit)
  buildCurrent()
  const rounds = Number(process.env.E2E_ROUNDS || 2)
  const photos = Object.keys(data.labels())
    .filter((n) => !n.endsWith('.ppm'))
    .sort()
    .map((n) => path.join(data.IMAGES, n))
  const base = await startBaseline(basePkg)
  const fresh = await startLocalServer({ analysisCacheEntries: 0 })
  const cached = await startLocalServer()
  const client = (s) => new PerseClient({ baseUrl: s.url, privateKey: s.privateKey })
  const [cb, cf, cc] = [client(base), client(fresh), client(cached)]
  const consent = { enduserConsent: true }
  try {
    process.stdout.write(`\n${TAG}: e2e: this tree against the baseline ${commit.slice(0, 10)}, ${photos.length} photos, ${rounds} alternating rounds, one call at a time\n`)
    // Warm-up: every server's engine loaded and its first allocations made.
    for (const c of [cb, cf, cc]) await c.detect(photos[0], consent)
    const detect = { base: photos.map(() => []), ours: photos.map(() => []) }
    const comparable = new Set()
    for (let r = 0; r < rounds; r++) {
      for (const [i, p] of photos.entries()) {
        const order = (r + i) % 2 ? [['ours', cf], ['base', cb]] : [['base', cb], ['ours', cf]]
        for (const [k, c] of order) {
          const t = now()
          const d = await c.detect(p, consent)
          detect[k][i].push(ms(t))
          if (k === 'ours' && d.faces.some((f) => f.boundingBox[2] >= 64)) comparable.add(p)
        }
      }
    }
    const list = [...comparable].sort()
    const pairs = list.slice(0, 24).map((p, i, a) => [p, a[(i + 1) % a.length]])
    const compare = { base: pairs.map(() => []), ours: pairs.map(() => []) }
    for (let r = 0; r < rounds; r++) {
      for (const [i, [a, b]] of pairs.entries()) {
        const order = (r + i) % 2 ? [['ours', cf], ['base', cb]] : [['base', cb], ['ours', cf]]
        for (const [k, c] of order) {
          const t = now()
          await c.compare(a, b, consent)
          compare[k][i].push(ms(t))
        }
      }
    }
    // Repeated photos: the cached server saw each pair once before (its first compare warms).
    const repeat = { base: [], ours: [] }
    for (const [a, b] of pairs) await cc.compare(a, b, consent)
    for (let r = 0; r < Math.max(rounds, 2); r++) {
      for (const [a, b] of pairs) {
        let t = now()
        await cc.compare(a, b, consent)
        repeat.ours.push(ms(t))
        t = now()
        await cb.compare(a, b, consent)
        repeat.base.push(ms(t))
      }
    }
    // Stages of this tree's detect, per photo.
    const token = (await (await fetch(`${fresh.url}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ privateKey: fresh.privateKey }) })).json()).token
    const stages = []
    for (const [i, p] of photos.entries()) {
      let t = now()
      await prepareImage(p)
      const prepare = ms(t)
      t = now()
      const s = await serverStages(fresh, token, p)
      stages.push({ i, prepare, ...s, http: ms(t) - (s.total ?? 0) })
    }
    const perPhoto = (v) => median(v.map(median))
    const row = (what, b, o, target) => {
      const ratio = o / b
      return `  | ${what} | ${fmt(b)} | ${fmt(o)} | ${fmt(ratio, 2)} | <= ${target} ${ratio <= target ? 'met' : 'missed'} |\n`
    }
    process.stdout.write(`  ${pairs.length} compare pairs (photos with a face at least 64 px wide)\n`)
    process.stdout.write('\n  | call | baseline ms | this tree ms | ratio | target |\n  |---|---|---|---|---|\n')
    process.stdout.write(row(`detect (median over ${photos.length} photos)`, perPhoto(detect.base), perPhoto(detect.ours), 0.6))
    // Most evaluation photos are 150 px chips: the same over the full-size ones alone.
    const kinds = data.labels()
    const full = photos.map((p, i) => [p, i]).filter(([p]) => kinds[path.basename(p)]?.kind !== 'chip')
    const pick = (v) => full.map(([, i]) => v[i])
    process.stdout.write(row(`detect (median over the ${full.length} portraits and group photos)`, perPhoto(pick(detect.base)), perPhoto(pick(detect.ours)), 0.6))
    process.stdout.write(row(`compare, cache off (median over ${pairs.length} pairs)`, perPhoto(compare.base), perPhoto(compare.ours), 0.4))
    process.stdout.write(row('compare of photos seen before, cache on', median(repeat.base), median(repeat.ours), 0.05))
    const names = ['queue', 'cache', 'decode', 'detect', 'reply', 'total']
    const breakdown = (what, list) => {
      const med = (k) => median(list.map((s) => s[k] ?? 0))
      process.stdout.write(
        `  ${what}: client prepare ${fmt(med('prepare'))}, upload + HTTP + reply handling ${fmt(med('http'))}, server: ` +
          names.map((n) => `${n} ${fmt(med(n), 2)}`).join(', ') +
          '\n',
      )
    }
    const fullSet = new Set(full.map(([, i]) => i))
    process.stdout.write("\n  This tree's detect by stage (one more call per photo, medians, ms):\n")
    breakdown(`all ${photos.length} photos`, stages)
    breakdown(`the ${full.length} portraits and group photos`, stages.filter((s) => fullSet.has(s.i)))
    // The same for the compares of this tree (cache off): align and describe.
    const cstages = []
    for (const [a, b] of pairs.slice(0, 8)) {
      const form = new FormData()
      form.append('image_file1', new Blob([fs.readFileSync(a)]), path.basename(a))
      form.append('image_file2', new Blob([fs.readFileSync(b)]), path.basename(b))
      form.append('client_declaration_enduser_consent', 'true')
      const res = await fetch(`${fresh.url}/face/compare`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form })
      await res.arrayBuffer()
      const st = {}
      for (const part of (res.headers.get('server-timing') || '').split(',')) {
        const m = /^\s*(\w+);dur=([\d.]+)/.exec(part)
        if (m) st[m[1]] = Number(m[2])
      }
      cstages.push(st)
    }
    const cm = (k) => median(cstages.map((s) => s[k] ?? 0))
    process.stdout.write(
      `  This tree's compare by stage (both images, summed; the two run at once, so they exceed the total): ` +
        ['queue', 'decode', 'detect', 'align', 'describe', 'reply', 'total'].map((n) => `${n} ${fmt(cm(n), 2)}`).join(', ') +
        '\n',
    )
  } finally {
    for (const c of [cb, cf, cc]) await c.close?.()
    await Promise.all([base.close(), fresh.close(), cached.close()])
  }
}

async function main() {
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : null
  const started = Date.now()
  data.ensureData(TAG)
  if (!only || only === 'kernels') await kernels()
  if (!only || only === 'e2e') await e2e()
  process.stdout.write(`\n${TAG}: done in ${((Date.now() - started) / 1000).toFixed(0)} s\n`)
}

main().catch((e) => {
  process.stderr.write(`${TAG}: ${e.stack || e}\n`)
  process.exit(2)
})
