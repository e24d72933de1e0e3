'use strict'

// Without a binary for this platform the package fails with a message that names the
// platform, the files and packages that were tried, and the fix.

const test = require('ava')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { pathToFileURL } = require('node:url')
const { spawnSync } = require('node:child_process')

test('a missing binary gives an actionable error, not a bare loader failure', (t) => {
  const root = path.join(__dirname, '..')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'perse-nobin-'))
  for (const f of ['index.js', 'binding.js', 'package.json']) fs.copyFileSync(path.join(root, f), path.join(dir, f))
  fs.cpSync(path.join(root, 'lib'), path.join(dir, 'lib'), { recursive: true })
  const script = `try { new (require('./index.js').PerseClient)() } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })) }`
  const r = spawnSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8' })
  const { code, message } = JSON.parse(r.stdout)
  t.is(code, 'ERR_PERSE_NATIVE_BINDING')
  t.regex(message, new RegExp(`for ${process.platform}-${process.arch}`))
  t.regex(message, /Tried: .*perse-node-linux-x64-gnu|Tried: .*perse-node-/)
  t.regex(message, /Fix: /)
  fs.rmSync(dir, { recursive: true, force: true })
})

test('require() is cheap: it does not load the binary', (t) => {
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(path.join(__dirname, '..'))}); console.log(Object.keys(require.cache).some((k) => k.endsWith('binding.js')))`], { encoding: 'utf8' })
  t.is(r.stdout.trim(), 'false')
})

test('every export is a named ESM import', (t) => {
  const root = path.join(__dirname, '..')
  const names = Object.keys(require('..'))
  // A file: URL, not a path: on Windows an absolute path is no valid ESM specifier.
  const script = `import * as m from ${JSON.stringify(pathToFileURL(path.join(root, 'index.js')).href)}; console.log(JSON.stringify(Object.keys(m).filter((k) => k !== 'default' && k !== 'module.exports')))`
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })
  t.deepEqual(JSON.parse(r.stdout).sort(), names.sort(), r.stderr)
})
