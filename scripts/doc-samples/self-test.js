'use strict'

// Self-test: the runner must fail, and name the block, when a sample is broken. Breaks two
// samples in a copy of the docs, runs the runner (`entry`) on the copy and checks what it
// reports.

const { spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { ROOT, log } = require('./common')
const { LANGS, docFiles, parseBlocks, readMarkers } = require('./extract')

/**
 * In the copy at `root`, replaces the first `from` in the first sample (of `files`, in order)
 * that `pick` accepts and that contains it; returns the block's `file:line`.
 */
function breakSample(root, files, pick, from, to) {
  for (const file of files) {
    const abs = path.join(root, file)
    const text = fs.readFileSync(abs, 'utf8')
    const block = parseBlocks(file, text).find((b) => LANGS.has(b.lang) && pick(b) && b.code.includes(from))
    if (!block) continue
    const lines = text.split('\n')
    const i = lines.findIndex((l, n) => n >= block.line && n < block.endLine && l.includes(from))
    lines[i] = lines[i].replace(from, to)
    fs.writeFileSync(abs, lines.join('\n'))
    return `${file}:${block.line}`
  }
  throw new Error(`self-test: no sample to break with ${from} → ${to}`)
}

/** Runs the self-test against the runner script `entry`; resolves to the exit code. */
async function selfTest(entry) {
  const started = Date.now()
  const base = path.join(ROOT, 'target', 'doc-samples-self-test')
  const copy = path.join(base, 'docs')
  fs.rmSync(base, { recursive: true, force: true })
  const files = docFiles(ROOT)
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(copy, f)), { recursive: true })
    fs.copyFileSync(path.join(ROOT, f), path.join(copy, f))
  }
  const isMode = (mode) => (b) => {
    try {
      return readMarkers(b).mode === mode && !readMarkers(b).continues
    } catch {
      return false
    }
  }
  // 1. The README quick start (run for real) calls a method that does not exist.
  const run = breakSample(copy, ['README.md'], isMode('run'), '.detect(', '.detectFaces(')
  // 2. A typecheck-only sample (a framework route) misspells an option.
  const checked = breakSample(copy, files, isMode('typecheck'), 'enduserConsent', 'endUserConsent')
  log(`self-test: broke ${run} (.detect → .detectFaces, a sample that runs) and ${checked} (enduserConsent → endUserConsent, a typecheck-only sample)\n`)

  const child = spawn(process.execPath, [entry, '--root', copy, '--work', path.join(base, 'work')], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d) => {
    out += d
    process.stdout.write(d)
  })
  const code = await new Promise((resolve) => child.on('close', resolve))
  const failures = [...out.matchAll(/^FAIL (\S+) \[(\w+)\]/gm)].map((m) => `${m[1]} ${m[2]}`)
  const expected = [`${run} typecheck`, `${run} run`, `${checked} typecheck`]
  const checks = [
    [code === 1, `the runner exits with 1 (got ${code})`],
    ...expected.map((e) => [failures.includes(e), `it reports ${e.replace(' ', ' failing in ')}`]),
    [failures.every((f) => expected.includes(f)), `nothing else fails (reported: ${failures.join(', ') || 'none'})`],
    [/detectFaces is not a function/.test(out), "the run failure shows the sample's own error (detectFaces is not a function)"],
  ]
  log('\nself-test:')
  for (const [ok, what] of checks) log(`  ${ok ? 'ok  ' : 'FAIL'} ${what}`)
  const passed = checks.every(([ok]) => ok)
  log(`self-test ${passed ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  return passed ? 0 : 1
}

module.exports = { selfTest }
