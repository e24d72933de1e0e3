'use strict'

// Running: stages the samples' directory and runs each unit with node, as its own file,
// against one local Perse server (env PERSE_BASE_URL, PERSE_PRIVATE_KEY and a fresh
// PERSE_TOKEN), with a time limit, except those marked as typecheck-only.
//
// Samples run in target/doc-samples/, whose node_modules/perse-node links to this repository,
// with the photos below in the current directory. A block with `import`/`export` or a
// top-level `await` runs as ESM (.mjs), any other as CommonJS (.cjs); TypeScript is
// transpiled first. Remote hosts are unreachable for samples (a dead proxy is set; loopback
// bypasses it), so no sample can reach the real API by accident.

const { spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { ROOT, unitBase, log, indent } = require('./common')
const { checkExpectations, matchOutput, cliExpectation } = require('./outputs')

const FIXTURES = path.join(ROOT, '__test__', 'fixtures')
const TIMEOUT_MS = 30_000

/** The photos samples may refer to, by name in the samples' directory → bundled fixture. */
const PHOTOS = {
  'photo.jpg': 'astronaut.jpg', // one frontal face, 512x512
  'selfie.jpg': 'astronaut-crop.jpg', // the same person, framed and lit differently
  'id-photo.jpg': 'astronaut.jpg',
  'a.jpg': 'astronaut.jpg',
  'b.jpg': 'astronaut-crop.jpg',
  'other-person.jpg': 'obama.jpg', // someone else, a 190 px face
  'blurred.jpg': 'astronaut-blurred.jpg',
  'dark.jpg': 'astronaut-underexposed.jpg',
  'no-face.jpg': 'rocket.jpg',
  'sideways.jpg': 'hopper-exif-orientation-6.jpg', // stored rotated, EXIF orientation 6
  'photo.webp': 'hopper.webp',
  'large.png': 'astronaut-2048.png', // 3.4 MB
  'large.jpg': 'astronaut-3000-q97.jpg', // 1.6 MB
}

/** The samples' directory: package.json, node_modules links, the photos. */
function prepareWork(work) {
  fs.rmSync(work, { recursive: true, force: true })
  fs.mkdirSync(path.join(work, 'node_modules'), { recursive: true })
  fs.writeFileSync(path.join(work, 'package.json'), `${JSON.stringify({ name: 'perse-node-doc-samples', private: true }, null, 2)}\n`)
  const type = process.platform === 'win32' ? 'junction' : 'dir' // junctions need no privilege on Windows
  fs.symlinkSync(ROOT, path.join(work, 'node_modules', 'perse-node'), type)
  fs.symlinkSync(path.join(ROOT, 'node_modules', 'ava'), path.join(work, 'node_modules', 'ava'), type)
  // `npx perse-node` in a cli block: this repository's command, found on PATH.
  fs.mkdirSync(path.join(work, 'node_modules', '.bin'))
  fs.symlinkSync(path.join(ROOT, 'bin', 'perse-node.js'), path.join(work, 'node_modules', '.bin', 'perse-node'))
  for (const [name, fixture] of Object.entries(PHOTOS)) fs.copyFileSync(path.join(FIXTURES, fixture), path.join(work, name))
}

/**
 * JavaScript for a unit: TypeScript transpiled, as ESM or CommonJS, with an inline source map
 * (run with --enable-source-maps, stack lines are the TypeScript's).
 */
function javascript(ts, u, base) {
  if (!u.isTs) return u.code
  return ts.transpileModule(u.code, {
    fileName: `${base}.ts`,
    compilerOptions: { module: u.esm ? ts.ModuleKind.ESNext : ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false, inlineSourceMap: true, inlineSources: true },
  }).outputText
}

/** A harness that imports a route module and calls its POST with the unit's form. */
function routeHarness(routeFile, form) {
  const fields = form
    .map(([name, value]) =>
      value.startsWith('@')
        ? `form.append(${JSON.stringify(name)}, new File([readFileSync(${JSON.stringify(value.slice(1))})], ${JSON.stringify(value.slice(1))}, { type: ${JSON.stringify(value.endsWith('.png') ? 'image/png' : value.endsWith('.webp') ? 'image/webp' : 'image/jpeg')} }))`
        : `form.append(${JSON.stringify(name)}, ${JSON.stringify(value)})`,
    )
    .join('\n')
  return `import { readFileSync } from 'node:fs'
const route = await import(${JSON.stringify(`./${routeFile}`)})
if (typeof route.POST !== 'function') throw new Error('the route module exports no POST(request) handler')
const form = new FormData()
${fields}
const response = await route.POST(new Request('http://localhost:3000/api/sample', { method: 'POST', body: form }))
const body = await response.text()
console.log(response.status, body)
if (!response.ok) {
  console.error('the route answered HTTP ' + response.status)
  process.exitCode = 1
}
`
}

function runNode(args, opts) {
  return runProcess(process.execPath, args, opts)
}

function runProcess(command, args, { cwd, env }) {
  return new Promise((resolve) => {
    const started = Date.now()
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, TIMEOUT_MS)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, timedOut, out, ms: Date.now() - started })
    })
  })
}

/** The console calls a sample made (capture.js): `{ lines, text }` each. */
function readCapture(file) {
  if (!fs.existsSync(file)) return []
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
}

/** Runs a `cli` unit as a shell script (stdout and stderr as one stream) and compares its `# →` lines. */
async function runCli(u, work, env) {
  const base = unitBase(u)
  const script = `npx() { "$@"; }\nexec 2>&1\n${u.code}`
  fs.writeFileSync(path.join(work, `${base}.sh`), script)
  const r = await runProcess('sh', [`${base}.sh`], { cwd: work, env: { ...env, PATH: `${path.join(work, 'node_modules', '.bin')}${path.delimiter}${env.PATH}` } })
  const stated = cliExpectation(u.code)
  const failed = r.timedOut
  const outputProblems = []
  if (!failed) {
    const m = matchOutput(stated, r.out.replace(/\n$/, ''))
    if (!m.ok) outputProblems.push(`${u.where}: its "# →" lines state:\n${stated.replace(/^/gm, '    ')}\nthe commands printed:\n${r.out.replace(/\n$/, '').replace(/^/gm, '    ')}\n(${m.where})`)
  }
  return { failed, why: failed ? `did not finish within ${TIMEOUT_MS / 1000} s` : '', out: r.out, ms: r.ms, file: path.join(path.relative(ROOT, work), `${base}.sh`), outputProblems }
}

async function runUnit(ts, u, work, env) {
  if (u.isCli) return runCli(u, work, env)
  const base = unitBase(u)
  const js = javascript(ts, u, base)
  const ext = u.esm ? '.mjs' : '.cjs'
  const capture = path.join(work, `${base}.capture.jsonl`)
  let args
  if (u.mode === 'route') {
    fs.writeFileSync(path.join(work, `${base}.route${ext}`), js)
    fs.writeFileSync(path.join(work, `${base}.harness.mjs`), routeHarness(`${base}.route${ext}`, u.form))
    args = [`${base}.harness.mjs`]
  } else if (u.mode === 'ava') {
    fs.writeFileSync(path.join(work, `${base}.test${ext}`), js)
    args = [path.join(ROOT, 'node_modules', 'ava', 'entrypoints', 'cli.mjs'), `${base}.test${ext}`]
  } else {
    fs.writeFileSync(path.join(work, `${base}${ext}`), js)
    args = [`${base}${ext}`]
  }
  if (u.mode !== 'ava') args.unshift('--require', path.join(__dirname, 'capture.js'), ...(u.isTs ? ['--enable-source-maps'] : []))
  const r = await runNode(args, { cwd: work, env: { ...env, PERSE_DOC_CAPTURE: capture, PERSE_DOC_SAMPLE: base } })
  if (!u.isTs) {
    // Point the sample's own line numbers (stack traces, syntax errors) back at the Markdown.
    const own = new RegExp(`${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:\\.test)?\\${ext}:(\\d+)(?::\\d+)?`, 'g')
    r.out = r.out.replace(own, (m, n) => `${m} [${u.file}:${u.lineMap[Number(n) - 1] ?? '?'}]`)
  }
  const failed = r.timedOut || r.code !== 0
  const why = r.timedOut ? `did not finish within ${TIMEOUT_MS / 1000} s` : r.code !== 0 ? `exited with ${r.code ?? r.signal}` : ''
  const outputProblems = []
  if (!failed && u.mode !== 'ava') {
    // What the sample says it prints, against what it printed (a failed run is reported as such).
    const records = readCapture(capture)
    for (const p of checkExpectations(u.expectations ?? [], records)) outputProblems.push(`${u.file}:${u.lineMap[p.line - 1]}: ${p.text}`)
    if (u.outputBlock) {
      const printed = records.map((x) => x.text.replace(/\n$/, '')).join('\n')
      const m = matchOutput(u.outputBlock.text, printed)
      if (!m.ok) outputProblems.push(`${u.outputBlock.where}: the output block states:\n${u.outputBlock.text.replace(/\n$/, '').replace(/^/gm, '    ')}\nthe sample printed:\n${printed.replace(/^/gm, '    ')}\n(${m.where})`)
    }
  }
  return { failed, why, out: r.out, ms: r.ms, file: path.join(path.relative(ROOT, work), args[args.length - 1]), outputProblems }
}

/**
 * Runs every unit that is not typecheck-only against one local server, each after a reset;
 * adds a `run` problem for each failure and returns how many ran.
 */
async function runAll(ts, perse, units, opts, problems) {
  const server = await perse.startLocalServer({ tokenTtlSeconds: 3600 })
  const admin = server.client()
  let ran = 0
  try {
    for (const u of units) {
      if (u.mode === 'typecheck') continue
      server.reset() // no sample sees another's enrollments, faults or requests
      const env = {
        ...process.env,
        PERSE_BASE_URL: server.url,
        PERSE_PRIVATE_KEY: server.privateKey,
        PERSE_TOKEN: await admin.login(server.privateKey),
        HTTPS_PROXY: 'http://127.0.0.1:9', // remote hosts are unreachable; loopback bypasses proxies
        HTTP_PROXY: 'http://127.0.0.1:9',
        NO_PROXY: '',
        NODE_OPTIONS: '',
      }
      delete env.PERSE_ALLOW_INSECURE_HTTP
      const r = await runUnit(ts, u, opts.work, env)
      ran++
      const label = `${u.where}${u.continuesFrom ? ` (continuing ${u.continuesFrom})` : ''} [${u.mode}${u.isCli ? '' : `, ${u.esm ? 'ESM' : 'CommonJS'}`}]`
      if (r.failed) {
        problems.push({ where: u.where, phase: 'run', text: `${label} ${r.why} (${r.file})\n${indent(r.out || '(no output)')}` })
        log(`  FAIL ${label} ${r.ms} ms`)
      } else if (r.outputProblems.length) {
        for (const text of r.outputProblems) problems.push({ where: u.where, phase: 'output', text })
        log(`  FAIL ${label} ${r.ms} ms: ${r.outputProblems.length} stated output(s) differ from what it printed`)
      } else {
        log(`  ok   ${label} ${r.ms} ms`)
        if (opts.verbose && r.out.trim()) log(indent(r.out))
      }
    }
  } finally {
    admin.close()
    await server.close()
  }
  return ran
}

module.exports = { prepareWork, runAll }
