'use strict'

// node scripts/targets/missing-platform.js — what a user sees when npm did not install the
// platform package, offline, in a temp dir:
//
//   1. `npm pack` of the repo; the packed package.json gets the optionalDependencies that
//      `napi prepublish` adds at release time (perse-node-<platform> for every napi target),
//      here pointing at local tarballs of the platform packages WITHOUT binaries (the
//      "empty" platform set: package.json from `napi create-npm-dirs`, os/cpu/libc intact).
//   2. Scenario "omit": `npm install --offline --omit=optional perse-node.tgz`.
//      Scenario "other-os": `npm install --offline --os=darwin --cpu=arm64 perse-node.tgz`,
//      i.e. a node_modules (or lockfile) resolved for another OS: npm installs
//      perse-node-darwin-arm64 and skips this platform's package.
//   3. In each: `require('perse-node')` must succeed (the binary loads lazily), then
//      `new PerseClient()` must throw ERR_PERSE_NATIVE_BINDING naming the missing package
//      (perse-node-<this platform>) and the exact command that fixes it:
//      `npm install perse-node-<platform>@<version>`. Then, if a binary for this platform was
//      built (the repo root's host build, or target/cross/artifacts/ with --from-git), that fix
//      is applied, offline, from a local tarball, and `new PerseClient()` must work.
// Options: --from-git <rev> or --root <dir> (pack another checkout), --keep (keep the temp dir).
// Exits 1, listing what the message lacks, if any assertion fails.

const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { ROOT, ARTIFACTS, BINARY_NAME, exportRev } = require('./targets.js')

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const KEEP = process.argv.includes('--keep')
// --root <dir>: pack that checkout instead of this one (e.g. a clean export with a patch applied);
// --from-git <rev>: pack a clean export of that commit (scripts/targets/targets.js exportRev).
const argValue = (name) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : null)
const PACK_ROOT = argValue('--root') ? path.resolve(argValue('--root')) : argValue('--from-git') ? exportRev(argValue('--from-git')).dir : ROOT

function run(cmd, args, opts = {}) {
  process.stdout.write(`$ ${cmd} ${args.join(' ')}${opts.cwd ? `   (in ${path.basename(opts.cwd)}/)` : ''}\n`)
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', ...opts })
}

/** This machine's napi platform name, the way lib/native.js and binding.js compute it. */
function hostPlatform() {
  let abi = ''
  if (process.platform === 'linux') abi = process.report.getReport().header.glibcVersionRuntime ? '-gnu' : '-musl'
  else if (process.platform === 'win32') abi = '-msvc'
  return `${process.platform}-${process.arch}${abi}`
}

function main() {
  const rootPkg = JSON.parse(fs.readFileSync(path.join(PACK_ROOT, 'package.json'), 'utf8'))
  const version = rootPkg.version
  const platform = hostPlatform()
  const missing = `${BINARY_NAME}-${platform}`
  const fixCommand = `npm install ${missing}@${version}`
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'perse-missing-'))
  const failures = []
  // A real binary for this platform, if one was built, to show the fix working. It must match
  // the JS being packed: for the working tree, the host build (npm run build / npm test) in the
  // repo root; for --from-git / --root, build:targets' artifact (build.js --from-git <same rev>).
  const rootBinary = path.join(ROOT, `${BINARY_NAME}.${platform}.node`)
  const artifact = path.join(ARTIFACTS, platform, `${BINARY_NAME}.${platform}.node`)
  const withBinary = (PACK_ROOT === ROOT ? [rootBinary, artifact] : [artifact]).find((f) => fs.existsSync(f))
  try {
    // The platform packages, without binaries.
    fs.copyFileSync(path.join(PACK_ROOT, 'package.json'), path.join(work, 'package.json'))
    run(path.join(ROOT, 'node_modules', '.bin', 'napi'), ['create-npm-dirs', '--cwd', work])
    const tarballs = path.join(work, 'tarballs')
    fs.mkdirSync(tarballs)
    const optional = {}
    for (const dir of fs.readdirSync(path.join(work, 'npm'))) {
      const out = run(npm, ['pack', '--silent', '--ignore-scripts', '--pack-destination', tarballs], { cwd: path.join(work, 'npm', dir) }).trim().split('\n').pop()
      const name = JSON.parse(fs.readFileSync(path.join(work, 'npm', dir, 'package.json'), 'utf8')).name
      optional[name] = `file:${path.join(tarballs, out)}`
    }
    if (!optional[missing]) throw new Error(`napi create-npm-dirs made no ${missing} package: is ${platform} in package.json napi.targets?`)

    // The main package as published: npm pack, plus the optionalDependencies napi prepublish adds.
    const packed = run(npm, ['pack', '--silent', '--ignore-scripts', '--pack-destination', work], { cwd: PACK_ROOT }).trim().split('\n').pop()
    const main = path.join(work, 'main')
    fs.mkdirSync(main)
    run('tar', ['-xzf', path.join(work, packed), '-C', main, '--strip-components=1'])
    if (fs.readdirSync(main, { recursive: true }).some((f) => String(f).endsWith('.node'))) throw new Error('the packed main package contains a .node file')
    const pj = JSON.parse(fs.readFileSync(path.join(main, 'package.json'), 'utf8'))
    pj.optionalDependencies = { ...(pj.optionalDependencies || {}), ...optional }
    fs.writeFileSync(path.join(main, 'package.json'), JSON.stringify(pj, null, 2))
    const mainTgz = path.join(tarballs, run(npm, ['pack', '--silent', '--ignore-scripts', '--pack-destination', tarballs], { cwd: main }).trim().split('\n').pop())

    const scenarios = [
      { name: 'omit', flags: ['--omit=optional'] },
      { name: 'other-os', flags: ['--os=darwin', '--cpu=arm64', '--libc='] },
    ]
    for (const s of scenarios) {
      process.stdout.write(`\n== scenario ${s.name}: npm install ${s.flags.join(' ')}\n`)
      const app = path.join(work, `app-${s.name}`)
      fs.mkdirSync(app)
      fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: `missing-${s.name}`, private: true, version: '1.0.0' }))
      run(npm, ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', ...s.flags, mainTgz], { cwd: app })
      const installed = fs.readdirSync(path.join(app, 'node_modules')).filter((n) => n.startsWith(`${BINARY_NAME}`))
      process.stdout.write(`installed: ${installed.join(', ')}\n`)
      if (installed.includes(missing)) {
        failures.push(`${s.name}: npm installed ${missing} anyway; the scenario does not reproduce a missing package`)
        continue
      }
      const probe = `
        let required = false
        try {
          const perse = require('perse-node'); required = true
          new perse.PerseClient()
          console.log(JSON.stringify({ required, threw: false }))
        } catch (e) {
          console.log(JSON.stringify({ required, threw: true, code: e.code, message: e.message }))
        }`
      const r = spawnSync(process.execPath, ['-e', probe], { cwd: app, encoding: 'utf8', env: { ...process.env, NAPI_RS_NATIVE_LIBRARY_PATH: '' } })
      const out = JSON.parse(r.stdout.trim().split('\n').pop())
      process.stdout.write(`error: ${out.code}: ${out.message}\n`)
      const expect = (ok, what) => {
        process.stdout.write(`  ${ok ? 'ok  ' : 'FAIL'} ${what}\n`)
        if (!ok) failures.push(`${s.name}: ${what}`)
      }
      expect(out.required, "require('perse-node') succeeds without the binary (it loads lazily)")
      expect(out.threw, 'new PerseClient() throws')
      if (!out.threw) continue
      expect(out.code === 'ERR_PERSE_NATIVE_BINDING', `the error code is ERR_PERSE_NATIVE_BINDING (got ${out.code})`)
      expect(out.message.includes(missing), `the message names the missing package ${missing}`)
      expect(out.message.includes(fixCommand), `the message gives the exact fix command: ${fixCommand}`)

      // The fix, applied: the platform package (with its binary, from a local tarball since
      // nothing is published) installed into the same app makes the same code work.
      if (s.name === 'omit' && withBinary) {
        const pkgDir = path.join(work, 'fixed', platform)
        fs.cpSync(path.join(work, 'npm', platform), pkgDir, { recursive: true })
        fs.copyFileSync(withBinary, path.join(pkgDir, `${BINARY_NAME}.${platform}.node`))
        const tgz = path.join(work, 'fixed', run(npm, ['pack', '--silent', '--ignore-scripts', '--pack-destination', path.join(work, 'fixed')], { cwd: pkgDir }).trim().split('\n').pop())
        // Still with --omit=optional (as with `omit=optional` in an .npmrc): an explicit dependency
        // is installed regardless. (Without it, npm would also nest this test's binary-less stub
        // from the main package's file: optionalDependencies, a test artifact.)
        run(npm, ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', '--omit=optional', tgz], { cwd: app })
        const again = JSON.parse(spawnSync(process.execPath, ['-e', probe], { cwd: app, encoding: 'utf8', env: { ...process.env, NAPI_RS_NATIVE_LIBRARY_PATH: '' } }).stdout.trim().split('\n').pop())
        expect(!again.threw, `after installing ${missing} (${path.relative(ROOT, withBinary)}), new PerseClient() works${again.threw ? `: ${again.message}` : ''}`)
      }
    }
  } finally {
    if (KEEP) process.stdout.write(`kept ${work}\n`)
    else fs.rmSync(work, { recursive: true, force: true })
  }
  if (failures.length) {
    process.stderr.write(`\nmissing-platform: FAILED\n${failures.map((f) => `  ${f}`).join('\n')}\n`)
    process.exit(1)
  }
  process.stdout.write('\nmissing-platform: passed\n')
}

try {
  main()
} catch (e) {
  process.stderr.write(`missing-platform: ${e.stack || e.message}${e.stderr ? `\n${e.stderr}` : ''}\n`)
  process.exit(1)
}
