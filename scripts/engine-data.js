'use strict'

// What the face-engine scripts (eval-engine.js, bench-engine.js) share: where the engine's
// weights and evaluation photos live, the Python venv in engine/.venv, fetching the photos
// with engine/fetch_eval.py when some are missing, and running a command as a named step.

const { spawnSync } = require('node:child_process')
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

/** Runs a command from the repository root with inherited output; exits 2 when it fails. */
function step(tag, what, cmd, args) {
  process.stdout.write(`${tag}: ${what}\n  $ ${[cmd, ...args].map((a) => (path.isAbsolute(a) ? rel(a) : a)).join(' ')}\n`)
  const t = Date.now()
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit' })
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : r.signal ? `signal ${r.signal}` : `exit status ${r.status}`
    process.stderr.write(`${tag}: ${what} failed (${why})\n`)
    process.exit(2)
  }
  process.stdout.write(`  done in ${((Date.now() - t) / 1000).toFixed(1)} s\n`)
}

/** `cargo ARGS`, under `flock $PERSE_HEAVY_LOCK` when that is set (shared machines). */
function cargo(args) {
  const lock = process.env.PERSE_HEAVY_LOCK
  return lock ? ['flock', [lock, 'cargo', ...args]] : ['cargo', args]
}

// The server's weight files (crates/perse-local/src/analysis/detect.rs), tracked in git.
function missingWeights() {
  return ['centerface.safetensors', 'dlib_resnet_v1.f16.safetensors'].filter((f) => !exists(path.join(WEIGHTS, f)))
}

/** The labelled evaluation photos (engine/eval/labels.json), by file name. */
function labels() {
  return JSON.parse(fs.readFileSync(path.join(ENGINE, 'eval', 'labels.json'), 'utf8')).images
}

function missingImages() {
  return Object.keys(labels()).filter((name) => !exists(path.join(IMAGES, name)))
}

// fetch_eval.py needs only the standard library and pip; `pip download` of sdists without
// build isolation needs setuptools and wheel. With `all`, every package of
// engine/requirements.txt (numpy, onnx, onnxruntime, ... for the research scripts and the
// onnxruntime anchor of bench:engine); otherwise only the setuptools and wheel pins.
function ensureVenv(tag, all = false) {
  const reqs = path.join(ENGINE, 'requirements.txt')
  const marker = path.join(VENV, '.perse-requirements-installed')
  if (exists(PYTHON) && (!all || (exists(marker) && fs.readFileSync(marker, 'utf8') === fs.readFileSync(reqs, 'utf8')))) return
  if (!exists(PYTHON)) step(tag, `creating the Python venv ${rel(VENV)}`, 'python3', ['-m', 'venv', VENV])
  if (all) {
    step(tag, `installing ${rel(reqs)}`, path.join(VENV_BIN, 'pip'), ['install', '-q', '-r', reqs])
    fs.writeFileSync(marker, fs.readFileSync(reqs, 'utf8'))
  } else {
    const pins = fs.readFileSync(reqs, 'utf8').split('\n').filter((l) => /^(setuptools|wheel)==/.test(l))
    step(tag, `installing ${pins.join(' ')}`, path.join(VENV_BIN, 'pip'), ['install', '-q', ...pins])
  }
}

/** Checks the weights and fetches missing photos; exits 2 when that fails. */
function ensureData(tag) {
  const weights = missingWeights()
  if (weights.length) {
    process.stderr.write(`${tag}: ${rel(WEIGHTS)} lacks ${weights.join(', ')} (they are tracked in git: git checkout -- ${rel(WEIGHTS)})\n`)
    process.exit(2)
  }
  const images = missingImages()
  if (images.length) {
    const shown = images.length > 8 ? [...images.slice(0, 8), '...'] : images
    process.stdout.write(`${tag}: ${rel(IMAGES)} lacks ${images.length} photo(s): ${shown.join(', ')}\n`)
    ensureVenv(tag)
    step(tag, 'fetching the evaluation photos', PYTHON, [path.join(ENGINE, 'fetch_eval.py')])
  }
  const still = missingImages()
  if (still.length) {
    process.stderr.write(`${tag}: still missing after the fetch: ${still.join(', ')}\n`)
    process.exit(2)
  }
  process.stdout.write(`${tag}: weights in ${rel(WEIGHTS)} and photos in ${rel(IMAGES)} are present\n`)
}

module.exports = { ROOT, ENGINE, WEIGHTS, IMAGES, PYTHON, rel, step, cargo, labels, ensureVenv, ensureData }
