'use strict'

// Packs perse-node and perse-node-local (packages/local), each with its linux-x64-gnu platform
// package, as npm would publish them (binaries built in release mode), for pack:check and
// test:examples.

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')
const { ADDONS, artifactOf } = require('./targets/targets.js')
const TARGET = 'x86_64-unknown-linux-gnu'
const PLATFORM = 'linux-x64-gnu'
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

function run(cmd, args, opts = {}) {
  process.stdout.write(`$ ${cmd} ${args.join(' ')}\n`)
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', ...opts })
}

const napiCli = path.join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'napi.cmd' : 'napi')

/**
 * Builds (unless PACK_CHECK_SKIP_BUILD or PACK_FROM_ARTIFACTS) and packs the package in `dir` and
 * its platform package. PACK_FROM_ARTIFACTS=1 packs build:targets' linux-x64-gnu binary (the one
 * that ships, built with zig) instead of building a host release binary: .ci/run sets it after
 * build:targets, which saves a second release build of both addons.
 */
function packOne(work, dir, binaryName) {
  const fromArtifacts = process.env.PACK_FROM_ARTIFACTS === '1'
  if (!process.env.PACK_CHECK_SKIP_BUILD && !fromArtifacts) {
    run(napiCli, ['build', '--platform', '--release', '--target', TARGET, '--js', 'binding.js', '--dts', 'binding.d.ts'], { cwd: dir, stdio: 'inherit' })
  }
  const binary = fromArtifacts ? artifactOf(ADDONS.find((a) => a.binaryName === binaryName), PLATFORM) : path.join(dir, `${binaryName}.${PLATFORM}.node`)
  if (!fs.existsSync(binary)) throw new Error(`no ${binary}: build it first${fromArtifacts ? ' (npm run build:targets -- --only x86_64-unknown-linux-gnu)' : ''}`)
  // npm/ is generated from package.json's napi targets (napi create-npm-dirs), never committed.
  if (!fs.existsSync(path.join(dir, 'npm', PLATFORM, 'package.json'))) run(napiCli, ['create-npm-dirs'], { cwd: dir, stdio: 'inherit' })
  const platformDir = path.join(work, `${binaryName}-platform`)
  fs.mkdirSync(platformDir)
  fs.copyFileSync(path.join(dir, 'npm', PLATFORM, 'package.json'), path.join(platformDir, 'package.json'))
  fs.copyFileSync(binary, path.join(platformDir, path.basename(binary)))
  const pack = (cwd) => path.join(work, run(npm, ['pack', '--silent', '--pack-destination', work], { cwd }).trim().split('\n').pop())
  return { platformTgz: pack(platformDir), mainTgz: pack(dir), binarySize: fs.statSync(binary).size }
}

function packTarballs(prefix) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  const main = packOne(work, ROOT, 'perse-node')
  const local = packOne(work, path.join(ROOT, 'packages', 'local'), 'perse-node-local')
  return { work, root: ROOT, npm, run, ...main, local }
}

module.exports = { packTarballs, run, ROOT, npm }
