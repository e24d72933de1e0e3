'use strict'

// npm run generate [-- --check]: writes (or, with --check, verifies) the files generated from
// the Rust declarations (crates/perse-core/examples/generate.rs): lib/decode.generated.js and
// results.d.ts. `npm test` runs the check, so a generated file cannot go stale unnoticed.
// The generator is compiled in the selection test:cargo tests (cargo-scope.js: the workspace,
// napi build's --target and build:debug's features), so the three share compiled crates, then
// run from where cargo says it wrote it.

const { spawnSync } = require('node:child_process')
const path = require('node:path')
const { workspace } = require('./cargo-scope.js')

const ROOT = path.join(__dirname, '..')
const build = spawnSync('cargo', ['build', '-q', ...workspace, '--example', 'generate', '--message-format', 'json-render-diagnostics'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 2 ** 20 })
if (build.status !== 0) process.exit(build.status ?? 1)
const exe = build.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).find((m) => m.reason === 'compiler-artifact' && m.target.name === 'generate' && m.executable)
if (!exe) {
  process.stderr.write('generate: cargo built no executable named generate\n')
  process.exit(1)
}
const r = spawnSync(exe.executable, process.argv.slice(2), { cwd: ROOT, stdio: 'inherit' })
process.exit(r.status ?? 1)
