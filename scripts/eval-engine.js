'use strict'

// npm run eval:engine
//
// Evaluates THE LOCAL SERVER'S face pipeline (perse_local::analysis: the server's detection
// settings, face-crop metrics, descriptor, similarity, MIN_FACE_PX and THRESHOLD_* policy) on
// the labelled photos in engine/eval and checks issue 18's targets on the held-out split.
// The weights are the server's own, committed in packages/local/weights. Fetches the photos
// first when some are missing, with engine/fetch_eval.py (venv at engine/.venv). Then runs
// `cargo run --release -p perse-local --example eval` (crates/perse-local/examples/eval), then
// the engine-output test (tests/engine_outputs.rs) that needs the same photos, and exits with
// 0 all targets pass, 1 a target or the output check fails, 2 an error. Extra arguments
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
  let status = r.error ? 2 : (r.status ?? 2)
  if (r.error) process.stderr.write(`eval:engine: could not run ${cmd}: ${r.error.message}\n`)
  if (status === 0) {
    // The engine's outputs on the same photos against the engine before issue 27, with every
    // kernel set this CPU runs (crates/perse-local/tests/engine_outputs.rs). In npm test it
    // skips when the photos have not been fetched yet; here they have, so it must run.
    const [tcmd, targs] = cargo(['test', '--release', '--target', host, '-p', 'perse-local', '--test', 'engine_outputs', '--', '--nocapture'])
    process.stdout.write(`eval:engine: $ ${[tcmd, ...targs].join(' ')}\n`)
    const t = spawnSync(tcmd, targs, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, PERSE_EVAL_PHOTOS_REQUIRED: '1' } })
    if (t.status !== 0) status = 1
  }
  const verdict = status === 0 ? 'all held-out targets pass, and the outputs match the engine before issue 27' : status === 1 ? 'a held-out target or the output check fails' : 'error'
  process.stdout.write(`eval:engine: ${verdict} (exit ${status}), ${((Date.now() - started) / 1000).toFixed(1)} s in all\n`)
  process.exit(status)
}

main()
