'use strict'

// npm run build / build:debug: both addons with the same napi arguments (`npm run build --
// --target x86_64-apple-darwin` passes them to both), then perse-node's copy of the local
// server's types. perse-node: the repository root; perse-node-local: packages/local.
//
//   node scripts/build.js [--release] [napi build arguments...]

const { spawnSync } = require('node:child_process')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')
const napi = path.join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'napi.cmd' : 'napi')
const extra = process.argv.slice(2)

// A debug build of perse-node carries the layout round-trip samples (__test__/layout.spec.js);
// a release build never does.
const samples = extra.includes('--release') ? [] : ['--features', 'layout-samples']

for (const dir of [ROOT, path.join(ROOT, 'packages', 'local')]) {
  const args = ['build', '--platform', '--js', 'binding.js', '--dts', 'binding.d.ts', ...extra, ...(dir === ROOT ? samples : [])]
  process.stdout.write(`$ (${path.relative(ROOT, dir) || '.'}) napi ${args.join(' ')}\n`)
  const r = spawnSync(napi, args, { cwd: dir, stdio: 'inherit', shell: process.platform === 'win32' })
  if (r.status !== 0) process.exit(r.status ?? 1)
}
require('./local-types.js').write()
