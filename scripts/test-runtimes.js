'use strict'

// npm run test:runtimes — the public API under Bun and Deno (and Node, for reference), on the
// packages as npm delivers them: perse-node and perse-node-local packed with their
// linux-x64-gnu platform packages (scripts/pack.js) and installed into a fresh project. The
// runtimes come from the npm registry (@oven/bun-linux-x64, @deno/linux-x64-glibc; pinned
// below) and are cached in .cross/. Each runs scripts/runtimes/spec.mjs (local server; detect
// with a path, a Buffer and a File; compare, enroll, list, delete; a PerseError; the token
// callback; 50 concurrent calls) and must then exit by itself. Deno is run with the
// permissions docs/frameworks.md documents (--allow-ffi --allow-read --allow-env), and once
// without --allow-ffi, where both packages must say which flag is missing.
//
//   RUNTIMES=bun,deno   picks some (default node,bun,deno)
//   PACK_CHECK_SKIP_BUILD=1   packs the binaries already built in the tree (as pack:check)

const { spawn, execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { packTarballs, run, ROOT, npm } = require('./pack.js')

const BUN_VERSION = '1.4.4'
const DENO_VERSION = '2.9.6'
const CACHE = path.join(ROOT, '.cross')
// The spec must end within this long after its closing line, with nothing left open.
const EXIT_GRACE_MS = 10_000
const SPEC_TIMEOUT_MS = 180_000

/** An npm package holding a runtime binary, unpacked once into .cross/<dir>: the binary's path. */
function registryBinary(pkg, version, dir, bin) {
  const home = path.join(CACHE, dir)
  const file = path.join(home, bin)
  if (!fs.existsSync(file)) {
    fs.mkdirSync(home, { recursive: true })
    const tgz = execFileSync(npm, ['pack', `${pkg}@${version}`, '--silent', '--pack-destination', CACHE], { encoding: 'utf8' }).trim().split('\n').pop()
    execFileSync('tar', ['xzf', path.join(CACHE, tgz), '-C', home, '--strip-components=1'])
    fs.rmSync(path.join(CACHE, tgz))
    fs.chmodSync(file, 0o755)
  }
  return file
}

function runtimes() {
  // Bun's default x64 build needs AVX2; the registry has a baseline build for older CPUs.
  const avx2 = fs.existsSync('/proc/cpuinfo') && /\bavx2\b/.test(fs.readFileSync('/proc/cpuinfo', 'utf8'))
  const bunPkg = `@oven/bun-linux-x64${avx2 ? '' : '-baseline'}`
  return {
    node: () => ({ label: `node ${process.versions.node}`, argv: [process.execPath] }),
    bun: () => ({ label: `bun ${BUN_VERSION} (${bunPkg})`, argv: [registryBinary(bunPkg, BUN_VERSION, `bun-${BUN_VERSION}${avx2 ? '' : '-baseline'}`, 'bin/bun')] }),
    deno: () => ({ label: `deno ${DENO_VERSION}`, argv: [registryBinary('@deno/linux-x64-glibc', DENO_VERSION, `deno-${DENO_VERSION}`, 'deno'), 'run', '--allow-ffi', '--allow-read', '--allow-env'] }),
  }
}

/** Runs `argv` in `cwd`; resolves with its output, exit code and how long it took to exit after its last line. */
function runSpec(argv, cwd) {
  return new Promise((resolve) => {
    const t0 = Date.now()
    const child = spawn(argv[0], argv.slice(1), { cwd, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let lastLineAt = null
    let killed = null
    const onData = (d) => {
      out += d
      process.stdout.write(d)
      if (/\d+ passed, \d+ failed\s*$/.test(out)) lastLineAt = lastLineAt || Date.now()
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    const timer = setInterval(() => {
      if (lastLineAt && Date.now() - lastLineAt > EXIT_GRACE_MS) killed = `still running ${EXIT_GRACE_MS / 1000} s after the spec finished (a handle left open)`
      else if (Date.now() - t0 > SPEC_TIMEOUT_MS) killed = `no result within ${SPEC_TIMEOUT_MS / 1000} s`
      if (killed) child.kill('SIGKILL')
    }, 250)
    child.on('close', (code, signal) => {
      clearInterval(timer)
      resolve({ out, code, signal, killed, seconds: (Date.now() - t0) / 1000, exitAfterMs: lastLineAt ? Date.now() - lastLineAt : null })
    })
  })
}

async function main() {
  const wanted = process.env.RUNTIMES ? process.env.RUNTIMES.split(',') : ['node', 'bun', 'deno']
  const all = runtimes()
  for (const r of wanted) if (!all[r]) throw new Error(`RUNTIMES: unknown runtime ${r}; known: ${Object.keys(all).join(', ')}`)
  const tarballs = packTarballs('perse-runtimes-')
  const results = []
  try {
    const app = path.join(tarballs.work, 'app')
    fs.mkdirSync(app)
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'runtimes-app', private: true, version: '1.0.0' }))
    run(npm, ['install', '--offline', '--no-audit', '--no-fund', tarballs.mainTgz, tarballs.platformTgz, tarballs.local.mainTgz, tarballs.local.platformTgz], { cwd: app })
    fs.copyFileSync(path.join(__dirname, 'runtimes', 'spec.mjs'), path.join(app, 'spec.mjs'))
    const photos = path.join(ROOT, '__test__', 'fixtures')

    for (const name of wanted) {
      const rt = all[name]()
      process.stdout.write(`\n=== ${rt.label}: spec.mjs ===\n`)
      const r = await runSpec([...rt.argv, 'spec.mjs', photos], app)
      const m = /(\d+) passed, (\d+) failed\s*$/.exec(r.out)
      const problems = []
      if (!m) problems.push('no closing "N passed, N failed" line')
      else if (Number(m[2]) > 0) problems.push(`${m[2]} check(s) failed`)
      if (r.killed) problems.push(r.killed)
      else if (r.code !== 0) problems.push(`exit ${r.code ?? r.signal}`)
      results.push({ name: rt.label, passed: m ? Number(m[1]) : 0, failed: m ? Number(m[2]) : 0, seconds: r.seconds, exitAfterMs: r.exitAfterMs, problems })
    }

    if (wanted.includes('deno')) {
      // Without --allow-ffi, both packages must name the flag instead of the loader's own
      // "Cannot find native binding" (after its wasm32-wasi fallback).
      process.stdout.write(`\n=== deno ${DENO_VERSION} without --allow-ffi ===\n`)
      fs.writeFileSync(
        path.join(app, 'no-ffi.mjs'),
        `import { PerseClient, startLocalServer } from 'perse-node'
let client = 'no error'
try { new PerseClient() } catch (e) { client = e.code + ': ' + e.message }
const local = await startLocalServer().then(() => 'no error', (e) => e.code + ': ' + e.message)
console.log(JSON.stringify({ client, local }))
`,
      )
      const deno = all.deno().argv[0]
      const r = await runSpec([deno, 'run', '--allow-read', '--allow-env', 'no-ffi.mjs'], app)
      const problems = []
      let seen
      try {
        seen = JSON.parse(r.out.trim().split('\n').pop())
      } catch {
        problems.push(`no result: ${r.out}`)
      }
      if (seen) {
        if (!/^ERR_PERSE_NATIVE_BINDING: .*--allow-ffi/.test(seen.client)) problems.push(`new PerseClient() without --allow-ffi: ${seen.client}`)
        if (!/^local_server_unavailable: .*--allow-ffi/.test(seen.local)) problems.push(`startLocalServer() without --allow-ffi: ${seen.local}`)
      }
      results.push({ name: `deno ${DENO_VERSION} without --allow-ffi: both errors name the flag`, passed: problems.length ? 0 : 2, failed: problems.length, seconds: r.seconds, problems })
    }
  } finally {
    fs.rmSync(tarballs.work, { recursive: true, force: true })
  }
  process.stdout.write('\ntest:runtimes summary\n')
  for (const r of results) {
    process.stdout.write(`  ${r.problems.length ? 'FAIL' : 'ok  '} ${r.name}: ${r.passed} passed, ${r.failed} failed in ${r.seconds.toFixed(1)} s${r.exitAfterMs !== null && r.exitAfterMs !== undefined ? `, exited ${r.exitAfterMs} ms after its last line` : ''}${r.problems.length ? ` (${r.problems.join('; ')})` : ''}\n`)
  }
  const passed = results.reduce((n, r) => n + r.passed, 0)
  const failed = results.reduce((n, r) => n + r.failed + (r.problems.length && !r.failed ? 1 : 0), 0)
  process.stdout.write(`test:runtimes: ${passed} passed, ${failed} failed\n`)
  if (results.some((r) => r.problems.length)) process.exitCode = 1
}

main().catch((e) => {
  process.stderr.write(`test:runtimes: ${e.stack || e}\n`)
  process.exit(1)
})
