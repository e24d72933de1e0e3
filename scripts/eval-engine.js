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
const { ROOT, cargo, ensureData } = require('./engine-data.js')

function main() {
  const started = Date.now()
  ensureData('eval:engine')

  const host = /host: (\S+)/.exec(execFileSync('rustc', ['-vV'], { encoding: 'utf8' }))[1]
  const [cmd, args] = cargo(['run', '--release', '--target', host, '-p', 'perse-local', '--example', 'eval', '--', ...process.argv.slice(2)])
  process.stdout.write(`eval:engine: $ ${[cmd, ...args].join(' ')}\n`)
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit' })
  const status = r.error ? 2 : (r.status ?? 2)
  if (r.error) process.stderr.write(`eval:engine: could not run ${cmd}: ${r.error.message}\n`)
  const verdict = status === 0 ? 'all held-out targets pass' : status === 1 ? 'a held-out target fails' : 'error'
  process.stdout.write(`eval:engine: ${verdict} (exit ${status}), ${((Date.now() - started) / 1000).toFixed(1)} s in all\n`)
  process.exit(status)
}

main()
