'use strict'

// npm run test:node-versions — the ava suite under each Node major that package.json's
// `engines` claims, besides the one running this script. The Node binaries come from the npm
// registry's `node-<os>-<cpu>` packages and are cached in .cross/ (git-ignored). The addon is
// Node-API, so the same build serves every version. NODE_VERSIONS=22,24 picks the majors.

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { runLogged } = require('./run-logged.js')

const ROOT = path.join(__dirname, '..')
const CACHE = path.join(ROOT, '.cross')
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const pkgName = `node-${process.platform}-${process.arch}`

/** The LTS majors `engines.node` admits (a `>= X.Y` floor), newest last. */
function claimedMajors() {
  const range = require('../package.json').engines.node
  const m = /^>=\s*(\d+)(?:\.(\d+))?/.exec(range)
  if (!m) throw new Error(`engines.node '${range}' is not a '>= X.Y' floor this script understands`)
  const floor = Number(m[1])
  return [20, 22, 24].filter((v) => v >= floor).map(String)
}

/** The newest published version of `major`, downloaded once: the path of its `node` binary. */
function nodeBinary(major) {
  const versions = JSON.parse(execFileSync(npm, ['view', `${pkgName}@${major}`, 'version', '--json'], { encoding: 'utf8' }))
  const version = [versions].flat().pop()
  const dir = path.join(CACHE, `node-${version}`)
  const bin = path.join(dir, 'bin', process.platform === 'win32' ? 'node.exe' : 'node')
  if (!fs.existsSync(bin)) {
    fs.mkdirSync(dir, { recursive: true })
    const tgz = execFileSync(npm, ['pack', `${pkgName}@${version}`, '--silent', '--pack-destination', CACHE], { encoding: 'utf8' }).trim().split('\n').pop()
    execFileSync('tar', ['xzf', path.join(CACHE, tgz), '-C', dir, '--strip-components=1'])
    fs.rmSync(path.join(CACHE, tgz))
  }
  return { version, bin }
}

const current = process.versions.node.split('.')[0]
const majors = (process.env.NODE_VERSIONS?.split(',') ?? claimedMajors()).filter((v) => v !== current)
const ava = path.join(ROOT, 'node_modules', 'ava', 'entrypoints', 'cli.mjs')
// The majors run side by side (NODE_VERSIONS_SERIAL=1: one after the other): the suite runs its
// files one at a time (ava's concurrency 1) and kept one of two cores busy (0.95 cores in
// npm test on a 2-core machine). Each run's output goes to a file and is printed whole when
// it ends. The specs' servers listen on port 0 and their files are in fresh temp folders.
const serial = process.env.NODE_VERSIONS_SERIAL === '1'

function runSuite(major) {
  const { version, bin } = nodeBinary(major)
  const log = path.join(CACHE, `suite-node-${version}.log`)
  const started = Date.now()
  // Child processes that tests spawn use process.execPath, so they run on this version too.
  const env = { ...process.env, PATH: `${path.dirname(bin)}${path.delimiter}${process.env.PATH}` }
  return runLogged([bin, ava], { cwd: ROOT, env }, log).then((r) => {
    process.stdout.write(`\n=== Node ${version}: npx ava\n${r.output}`)
    return { version, ok: r.status === 0, seconds: Math.round((Date.now() - started) / 1000) }
  })
}

async function main() {
  fs.mkdirSync(CACHE, { recursive: true })
  const results = []
  if (serial) for (const major of majors) results.push(await runSuite(major))
  else results.push(...(await Promise.all(majors.map(runSuite))))
  console.log(`\nNode ${process.versions.node} is this process (npm test ran the suite on it).`)
  for (const r of results) console.log(`Node ${r.version}: ${r.ok ? 'passed' : 'FAILED'} in ${r.seconds} s${serial ? '' : ' (side by side)'}`)
  process.exit(results.every((r) => r.ok) ? 0 : 1)
}

main()
