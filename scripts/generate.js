'use strict'

// npm run generate [-- --check]: writes (or, with --check, verifies) the files generated from
// the Rust declarations (crates/perse-core/examples/generate.rs): lib/decode.generated.js and
// results.d.ts. `npm test` runs the check, so a generated file cannot go stale unnoticed.
// Same --target as napi build and test:cargo, so the three share compiled dependencies.

const { execFileSync, spawnSync } = require('node:child_process')
const path = require('node:path')

const host = /host: (\S+)/.exec(execFileSync('rustc', ['-vV'], { encoding: 'utf8' }))[1]
const args = ['run', '-q', '--target', host, '-p', 'perse-core', '--example', 'generate', '--', ...process.argv.slice(2)]
const r = spawnSync('cargo', args, { cwd: path.join(__dirname, '..'), stdio: 'inherit' })
process.exit(r.status ?? 1)
