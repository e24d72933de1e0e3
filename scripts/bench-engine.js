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
//   Also checks that both compute the same thing (largest output difference).
// e2e: see e2e() below.
//
// Knobs (environment): ROUNDS (3), THREADS ("1,2"), PERSE_HEAVY_LOCK (cargo under flock).

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
  return { ours: median(o), ort: median(a), ratio: median(o.map((v, i) => v / a[i])) }
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
    return rows
  } finally {
    ours.close()
    ort.close()
  }
}

async function main() {
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : null
  const started = Date.now()
  data.ensureData(TAG)
  if (!only || only === 'kernels') await kernels()
  process.stdout.write(`\n${TAG}: done in ${((Date.now() - started) / 1000).toFixed(0)} s\n`)
}

main().catch((e) => {
  process.stderr.write(`${TAG}: ${e.stack || e}\n`)
  process.exit(2)
})
