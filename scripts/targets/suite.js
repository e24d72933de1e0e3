'use strict'

// What the emulated suites share (test-arm64.js under QEMU, test-windows.js under Wine): a
// snapshot of the working tree's JS side with one platform's binaries where the generated
// loaders look first, and the counts from ava's TAP output.

const fs = require('node:fs')
const path = require('node:path')
const { ADDONS, binaryFile } = require('./targets.js')

const LOCAL = ADDONS.find((a) => a.name === 'perse-node-local')

/**
 * A snapshot of `from` (the working tree or a git export) in `dir`: the top-level files, the
 * folders the package publishes (package.json "files"), the folders holding the ava specs and scripts/,
 * with perse-node's `binary` as ./perse-node.<platform>.node and perse-node-local's
 * `localBinary` beside its own loader, exactly as the CI test jobs place downloaded binaries.
 * Never a .node file of another platform, never target/, the toolchains or the Rust sources.
 * node_modules is a folder of links to `nodeModules`, in which perse-node-local is this copy.
 */
function stageSuite({ dir, from, platform, binary, localBinary, nodeModules }) {
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  const pkg = JSON.parse(fs.readFileSync(path.join(from, 'package.json'), 'utf8'))
  const avaFiles = (pkg.ava && pkg.ava.files) || ['test/**', '__test__/**']
  // scripts/ too: some specs run a script of it (the hostile-input fuzz target).
  const dirs = new Set([...(pkg.files || []), ...avaFiles, 'scripts'].map((f) => f.replace(/^\.\//, '').split('/')[0]).filter((d) => d && !d.includes('*')))
  const skip = (name) => name.endsWith('.node') || name.endsWith('.tgz')
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    if (skip(e.name) || e.name === 'node_modules') continue
    if (e.isDirectory() && !dirs.has(e.name)) continue
    fs.cpSync(path.join(from, e.name), path.join(dir, e.name), { recursive: true, verbatimSymlinks: true, filter: (src) => !skip(src) })
  }
  fs.copyFileSync(binary, path.join(dir, binaryFile(platform)))
  const local = path.join(dir, LOCAL.dir)
  fs.cpSync(path.join(from, LOCAL.dir), local, { recursive: true, filter: (src) => !skip(src) && !/[/\\](src|npm)$|Cargo\.toml$|build\.rs$/.test(src) })
  fs.copyFileSync(localBinary, path.join(local, `${LOCAL.binaryName}.${platform}.node`))
  const modules = path.join(dir, 'node_modules')
  fs.mkdirSync(modules)
  for (const e of fs.readdirSync(nodeModules)) {
    if (e !== LOCAL.name) fs.symlinkSync(path.join(nodeModules, e), path.join(modules, e))
  }
  fs.symlinkSync(local, path.join(modules, LOCAL.name), 'dir')
}

/** Counts from ava's TAP output. */
function summarizeTap(tap) {
  const count = (re) => Number((tap.match(re) || [])[1] || 0)
  const failed = [...tap.matchAll(/^not ok \d+ - (.*)$/gm)].map((m) => m[1])
  return {
    tests: count(/^# tests (\d+)/m),
    pass: count(/^# pass (\d+)/m),
    fail: count(/^# fail (\d+)/m),
    skip: count(/^# skip (\d+)/m),
    todo: count(/^# todo (\d+)/m),
    failed,
    timeouts: [...tap.matchAll(/^# (Timed out.*)$/gm)].map((m) => m[1]),
  }
}

/**
 * Per spec file times from ava's TAP stream as it arrives (TAP carries no times). With the
 * repo's `concurrency: 1` ava runs one file at a time, so a file's time is from the previous
 * file's last result to its own last one (its worker's start-up included). `feed` takes the
 * stream's chunks; `report()` lists the files, slowest first, with their share of the suite.
 */
function tapFileTimer(start = Date.now()) {
  let partial = ''
  let last = start
  const files = new Map()
  return {
    feed(chunk) {
      const lines = (partial + chunk).split('\n')
      partial = lines.pop()
      for (const line of lines) {
        const m = /^(?:not )?ok \d+ - (.+?) › /.exec(line)
        if (!m) continue
        const now = Date.now()
        const f = files.get(m[1]) || { ms: 0, tests: 0 }
        f.ms += now - last
        f.tests++
        files.set(m[1], f)
        last = now
      }
    },
    report() {
      const total = [...files.values()].reduce((a, f) => a + f.ms, 0) || 1
      return [...files].sort((a, b) => b[1].ms - a[1].ms).map(([name, f]) => `  ${(f.ms / 1000).toFixed(1).padStart(7)} s ${String(Math.round((100 * f.ms) / total)).padStart(3)} %  ${String(f.tests).padStart(3)} tests  ${name}`).join('\n')
    },
  }
}

module.exports = { stageSuite, summarizeTap, tapFileTimer }
