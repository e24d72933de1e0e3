'use strict'

// npm run test:publish — the publish half of the release, for real, against a throwaway npm
// registry on loopback (Verdaccio, from the npm registry, pinned below; no uplinks, so nothing
// can come from anywhere else):
//   1. the binaries of all seven targets (npm run build:targets) travel as the workflow's
//      artifacts do: one folder per target (scripts/release/artifacts.js upload), nested one
//      level down as actions/download-artifact leaves them, then laid out again by name
//      (artifacts.js download) in a separate folder;
//   2. scripts/release/publish.js, the script the workflow's publish job runs, publishes
//      perse-node-local, perse-node and their fourteen platform packages to it;
//   3. in a fresh project, by name only: `npm install perse-node` and `npm install -D
//      perse-node-local`; npm must pick the linux-x64-gnu packages by itself, and a detect
//      against the local server must work on the binaries that came from the registry;
//   4. `npm install --omit=optional` gives the documented ERR_PERSE_NATIVE_BINDING error naming
//      the package and the command that fixes it, and that command fixes it;
//   5. resolved for macOS arm64 and for Windows x64 (npm --os/--cpu), npm picks those platform
//      packages, holding a Mach-O arm64 and a PE x64 binary.
// Leaves nothing behind (temp folders; Verdaccio is stopped). About a minute after build:targets.

const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { ROOT, TARGETS } = require('../targets/targets.js')
const { parseMachO } = require('../targets/macho.js')
const { parsePe } = require('../targets/pe.js')

const VERDACCIO_VERSION = '6.8.0' // the newest whose engines admit Node 20
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const version = require(path.join(ROOT, 'package.json')).version

function run(cmd, args, opts = {}) {
  process.stdout.write(`$ ${path.basename(cmd)} ${args.join(' ')}${opts.cwd ? `   (in ${path.basename(opts.cwd)}/)` : ''}\n`)
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts })
  if (r.status !== 0) throw new Error(`${path.basename(cmd)} ${args.join(' ')} failed (exit ${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`)
  return r.stdout
}

/** Verdaccio from the npm registry, installed once into .cross/. */
function verdaccioBin() {
  const dir = path.join(ROOT, '.cross', `verdaccio-${VERDACCIO_VERSION}`)
  const bin = path.join(dir, 'node_modules', 'verdaccio', 'bin', 'verdaccio')
  if (!fs.existsSync(bin)) {
    fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'verdaccio-host', private: true }))
    run(npm, ['install', '--no-audit', '--no-fund', '--ignore-scripts', `verdaccio@${VERDACCIO_VERSION}`], { cwd: dir })
  }
  return bin
}

async function freePort() {
  const s = net.createServer()
  await new Promise((r) => s.listen(0, '127.0.0.1', r))
  const { port } = s.address()
  await new Promise((r) => s.close(r))
  return port
}

/** Starts Verdaccio on loopback with storage in `work`; resolves with { url, token, stop }. */
async function startRegistry(work) {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}/`
  const config = path.join(work, 'verdaccio.yaml')
  fs.writeFileSync(
    config,
    `storage: ${path.join(work, 'storage')}
auth:
  htpasswd:
    file: ${path.join(work, 'htpasswd')}
uplinks: {}
packages:
  '**':
    access: $all
    publish: $authenticated
max_body_size: 200mb
log: { type: stdout, format: pretty, level: warn }
`,
  )
  const log = fs.openSync(path.join(work, 'verdaccio.log'), 'w')
  const child = spawn(process.execPath, [verdaccioBin(), '--config', config, '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', log, log] })
  fs.closeSync(log)
  const stop = () => new Promise((resolve) => (child.exitCode !== null ? resolve() : (child.once('exit', resolve), child.kill('SIGTERM'))))
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Verdaccio exited (${child.exitCode}):\n${fs.readFileSync(path.join(work, 'verdaccio.log'), 'utf8')}`)
    try {
      if ((await fetch(`${url}-/ping`)).ok) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`Verdaccio did not answer on ${url} within 60 s`)
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  // A publisher account (htpasswd), as `npm adduser` would make it.
  const res = await fetch(`${url}-/user/org.couchdb.user:release`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'release', password: 'release-password' }) })
  const body = await res.json()
  if (!body.token) throw new Error(`Verdaccio gave no token: ${res.status} ${JSON.stringify(body)}`)
  process.stdout.write(`Verdaccio ${VERDACCIO_VERSION} on ${url} (no uplinks)\n`)
  return { url, token: body.token, stop }
}

/** A fresh project whose npm talks only to the loopback registry (its own .npmrc and cache). */
function project(work, name, registry) {
  const dir = path.join(work, name)
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, private: true, version: '1.0.0' }, null, 2))
  fs.writeFileSync(path.join(dir, '.npmrc'), `registry=${registry.url}\n`)
  const env = { ...process.env, NPM_CONFIG_USERCONFIG: path.join(work, 'no-user-npmrc'), NPM_CONFIG_CACHE: path.join(work, `cache-${name}`), NPM_CONFIG_REGISTRY: registry.url, NPM_CONFIG_AUDIT: 'false', NPM_CONFIG_FUND: 'false', NPM_CONFIG_UPDATE_NOTIFIER: 'false' }
  return { dir, env, npm: (...args) => run(npm, args, { cwd: dir, env }) }
}

const installed = (dir) => fs.readdirSync(path.join(dir, 'node_modules')).filter((n) => n.startsWith('perse-node')).sort()

async function main() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'perse-publish-test-'))
  const checks = []
  const ok = (what) => {
    checks.push(what)
    process.stdout.write(`  ok  ${what}\n`)
  }
  let registry = null
  const t0 = Date.now()
  try {
    // 1. The workflow's artifact transport: upload per target, download nested, lay out by name.
    const dl = path.join(work, 'dl')
    for (const t of TARGETS) run(process.execPath, [path.join(__dirname, 'artifacts.js'), 'upload', path.join(dl, `bindings-${t.triple}`), '--only', t.triple])
    const cross = path.join(work, 'cross')
    const env = { ...process.env, CARGO_TARGET_DIR_CROSS: cross }
    run(process.execPath, [path.join(__dirname, 'artifacts.js'), 'download', dl, '--expect', 'all'], { env })
    ok(`the ${TARGETS.length * 2} binaries went through the workflow's artifact layout (one folder per target, nested) and back`)

    // 2. The publish job's script, against the loopback registry.
    registry = await startRegistry(work)
    const npmrc = path.join(work, 'publisher.npmrc')
    fs.writeFileSync(npmrc, `//${new URL(registry.url).host}/:_authToken=${registry.token}\n`)
    const publishEnv = { ...env, NPM_CONFIG_USERCONFIG: npmrc, NPM_CONFIG_CACHE: path.join(work, 'cache-publish') }
    const pub = spawnSync(process.execPath, [path.join(__dirname, 'publish.js'), '--tag', `v${version}`, '--registry', registry.url], { env: publishEnv, stdio: 'inherit' })
    if (pub.status !== 0) throw new Error(`scripts/release/publish.js failed (exit ${pub.status})`)
    ok(`publish.js published perse-node-local, perse-node and ${TARGETS.length * 2} platform packages to ${registry.url}`)

    // 3. A user's project, by name only.
    const app = project(work, 'app', registry)
    app.npm('install', 'perse-node')
    app.npm('install', '--save-dev', 'perse-node-local')
    const got = installed(app.dir)
    const want = ['perse-node', 'perse-node-linux-x64-gnu', 'perse-node-local', 'perse-node-local-linux-x64-gnu']
    if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`npm install by name gave ${got.join(', ')}, want exactly ${want.join(', ')}`)
    const manifest = JSON.parse(fs.readFileSync(path.join(app.dir, 'package.json'), 'utf8'))
    if (manifest.dependencies['perse-node'] !== `^${version}` || manifest.devDependencies['perse-node-local'] !== `^${version}`) throw new Error(`unexpected package.json: ${JSON.stringify(manifest)}`)
    ok(`npm install perse-node && npm install -D perse-node-local: npm picked ${got.filter((n) => n.endsWith('-gnu')).join(' and ')} by itself`)
    const photo = path.join(ROOT, '__test__', 'fixtures', 'astronaut.jpg')
    fs.writeFileSync(
      path.join(app.dir, 'detect.mjs'),
      `import { startLocalServer } from 'perse-node'
const server = await startLocalServer()
const perse = server.client()
const r = await perse.detect(${JSON.stringify(photo)}, { enduserConsent: true })
perse.close()
await server.close()
const addons = process.report.getReport().sharedObjects.filter((f) => f.endsWith('.node'))
console.log(JSON.stringify({ faces: r.totalFaces, box: r.faces[0].boundingBox, addons }))
`,
    )
    const seen = JSON.parse(run(process.execPath, ['detect.mjs'], { cwd: app.dir }).trim().split('\n').pop())
    if (seen.faces !== 1) throw new Error(`detect found ${seen.faces} faces`)
    for (const pkg of ['perse-node-linux-x64-gnu', 'perse-node-local-linux-x64-gnu']) {
      if (!seen.addons.some((f) => f.startsWith(path.join(fs.realpathSync(app.dir), 'node_modules', pkg) + path.sep))) throw new Error(`the loaded addons are not the registry's ${pkg}: ${seen.addons.join(', ')}`)
    }
    ok(`detect against the local server on the registry's binaries: 1 face at ${JSON.stringify(seen.box)}`)

    // 4. --omit=optional: the documented error, and its fix.
    const omit = project(work, 'omit', registry)
    omit.npm('install', '--omit=optional', 'perse-node')
    if (installed(omit.dir).join() !== 'perse-node') throw new Error(`--omit=optional installed ${installed(omit.dir).join(', ')}`)
    const probe = "try { new (require('perse-node').PerseClient)(); console.log('no error') } catch (e) { console.log(e.code + ': ' + e.message) }"
    const error = run(process.execPath, ['-e', probe], { cwd: omit.dir }).trim()
    const fix = `npm install perse-node-linux-x64-gnu@${version}`
    if (!error.startsWith('ERR_PERSE_NATIVE_BINDING: perse-node: no native binary could be loaded for linux-x64-gnu') || !error.includes(`Fix: ${fix}`)) throw new Error(`--omit=optional: unexpected error: ${error}`)
    ok(`--omit=optional: ${error.slice(0, 110)}… Fix: ${fix}`)
    omit.npm(...fix.split(' ').slice(1))
    const fixed = run(process.execPath, ['-e', probe], { cwd: omit.dir }).trim()
    if (fixed !== 'no error') throw new Error(`after ${fix}: ${fixed}`)
    ok(`${fix} fixes it`)

    // 5. Other platforms resolve to their own packages, holding the right binaries.
    for (const [osName, cpu, platform, read] of [
      ['darwin', 'arm64', 'darwin-arm64', (f) => `Mach-O ${parseMachO(f).arch}`],
      ['win32', 'x64', 'win32-x64-msvc', (f) => `PE ${parsePe(f).machineName}`],
    ]) {
      const other = project(work, `app-${platform}`, registry)
      other.npm('install', '--ignore-scripts', `--os=${osName}`, `--cpu=${cpu}`, 'perse-node', 'perse-node-local')
      const names = installed(other.dir)
      const expect = ['perse-node', `perse-node-${platform}`, 'perse-node-local', `perse-node-local-${platform}`].sort()
      if (JSON.stringify(names) !== JSON.stringify(expect)) throw new Error(`--os=${osName} --cpu=${cpu} gave ${names.join(', ')}, want ${expect.join(', ')}`)
      const kinds = [`perse-node.${platform}.node`, `perse-node-local.${platform}.node`].map((f) => read(path.join(other.dir, 'node_modules', f.replace(/\.(.*)\.node$/, '-$1'), f)))
      const wantKind = platform.startsWith('darwin') ? 'Mach-O arm64' : 'PE AMD64'
      if (kinds.some((k) => k !== wantKind)) throw new Error(`${platform} packages hold ${kinds.join(', ')}`)
      ok(`resolved for ${osName}-${cpu}: ${names.slice(1).filter((n) => n.includes(platform)).join(' and ')}, each with a ${wantKind} binary`)
    }
  } finally {
    if (registry) await registry.stop()
    fs.rmSync(work, { recursive: true, force: true })
  }
  process.stdout.write(`\ntest:publish: ${checks.length} passed, 0 failed (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`)
}

main().catch((e) => {
  process.stderr.write(`\ntest:publish: ${e.message}\n`)
  process.exit(1)
})
