'use strict'

// Runs the Rust tests with the same `--target` that `napi build` uses, so both share one set
// of compiled dependencies instead of building everything twice (target/<triple>/ vs debug/),
// over the selection `generate` builds its generator in (cargo-scope.js).

const { spawnSync } = require('node:child_process')
const { host, workspace } = require('./cargo-scope.js')

const extra = process.argv.slice(2)
const args = ['test', ...(extra.includes('-p') ? ['--target', host] : workspace), ...extra]
const r = spawnSync('cargo', args, { stdio: 'inherit' })
process.exit(r.status ?? 1)
