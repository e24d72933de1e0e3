'use strict'

// Packs the main package and the linux-x64-gnu platform package as npm would publish them
// (the binary built in release mode), for pack:check and test:examples.

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')
const TARGET = 'x86_64-unknown-linux-gnu'
const PLATFORM = 'linux-x64-gnu'
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

function run(cmd, args, opts = {}) {
  process.stdout.write(`$ ${cmd} ${args.join(' ')}\n`)
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', ...opts })
}

function packTarballs(prefix) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  if (!process.env.PACK_CHECK_SKIP_BUILD) {
    const napi = path.join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'napi.cmd' : 'napi')
    run(napi, ['build', '--platform', '--release', '--target', TARGET, '--js', 'binding.js', '--dts', 'binding.d.ts'], { cwd: ROOT, stdio: 'inherit' })
  }
  const binary = path.join(ROOT, `perse-node.${PLATFORM}.node`)
  if (!fs.existsSync(binary)) throw new Error(`no ${binary}: build it first`)
  // npm/ is generated from package.json's napi targets (napi create-npm-dirs), never committed.
  const napiCli = path.join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'napi.cmd' : 'napi')
  if (!fs.existsSync(path.join(ROOT, 'npm', PLATFORM, 'package.json'))) run(napiCli, ['create-npm-dirs'], { cwd: ROOT, stdio: 'inherit' })
  const platformDir = path.join(work, 'platform')
  fs.mkdirSync(platformDir)
  fs.copyFileSync(path.join(ROOT, 'npm', PLATFORM, 'package.json'), path.join(platformDir, 'package.json'))
  fs.copyFileSync(binary, path.join(platformDir, path.basename(binary)))
  const pack = (cwd) => path.join(work, run(npm, ['pack', '--silent', '--pack-destination', work], { cwd }).trim().split('\n').pop())
  return { work, root: ROOT, npm, run, platformTgz: pack(platformDir), mainTgz: pack(ROOT) }
}

module.exports = { packTarballs, run, ROOT, npm }
