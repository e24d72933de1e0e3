#!/usr/bin/env node
'use strict'

// npm run test:docs — every JavaScript and TypeScript sample in the docs must work.
//
// Extracts each fenced block in js, mjs, cjs, javascript, ts or typescript from README.md,
// CONTRIBUTING.md, bench/README.md and docs/**/*.md, then:
//   1. typechecks all of them in one TypeScript program (`--strict`, `checkJs` for JS,
//      `module: nodenext`) against the package's own types, so a wrong API name, option or
//      result field fails even in a sample that cannot run;
//   2. runs each one with node, as its own file, against one local Perse server started here
//      (env PERSE_BASE_URL, PERSE_PRIVATE_KEY and a fresh PERSE_TOKEN), with a time limit,
//      except those marked as typecheck-only;
//   3. compares what each sample says it prints (`// → value` comments, `sample: output`
//      blocks, `# →` lines of `sample: cli` shell blocks) with what it printed, floats within a
//      stated tolerance (doc-samples/outputs.js), and fails on drift;
//   4. checks every relative link (file and #anchor) and that README's Contents lists every
//      section.
//
// The parts, in scripts/doc-samples/: extract.js finds the blocks and reads their markers
// (`<!-- sample: typecheck | skip | route | ava | continues | output | cli -->` right above the
// fence, each described there); typecheck.js; run.js stages target/doc-samples/ and runs the
// samples against the local server; outputs.js (stated outputs) with capture.js (preloaded
// into each sample); links.js; self-test.js.
//
//   node scripts/doc-samples.js [--verbose] [--only README.md:42] [--root DIR] [--work DIR]
//   node scripts/doc-samples.js --self-test   breaks samples and stated outputs in a copy and
//                                             checks each is caught

const fs = require('node:fs')
const path = require('node:path')
const { ROOT, log, indent } = require('./doc-samples/common')
const { LANGS, docFiles, parseBlocks, buildUnits } = require('./doc-samples/extract')
const { typecheck } = require('./doc-samples/typecheck')
const { prepareWork, runAll } = require('./doc-samples/run')
const { checkLinks } = require('./doc-samples/links')
const { selfTest } = require('./doc-samples/self-test')
const { FLOAT_TOLERANCE } = require('./doc-samples/outputs')

function parseArgs(argv) {
  const o = { root: ROOT, work: path.join(ROOT, 'target', 'doc-samples'), verbose: false, only: null, selfTest: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--root') o.root = path.resolve(argv[++i])
    else if (a === '--work') o.work = path.resolve(argv[++i])
    else if (a === '--only') o.only = argv[++i]
    else if (a === '--verbose' || a === '-v') o.verbose = true
    else if (a === '--self-test') o.selfTest = true
    else throw new Error(`unknown argument ${a}`)
  }
  return o
}

async function main(opts) {
  const started = Date.now()
  const ts = require(path.join(ROOT, 'node_modules', 'typescript'))
  const perse = require(ROOT)
  const files = docFiles(opts.root)
  const problems = []
  const blocks = files.flatMap((f) => parseBlocks(f, fs.readFileSync(path.join(opts.root, f), 'utf8')))
  const { units: all, skipped } = buildUnits(ts, blocks, problems)
  const units = opts.only ? all.filter((u) => u.where === opts.only || u.file === opts.only) : all
  const jsBlocks = blocks.filter((b) => LANGS.has(b.lang)).length
  log(`doc samples: ${jsBlocks} js/ts blocks in ${files.length} files (${files.join(', ')})`)

  prepareWork(opts.work)
  const tcStarted = Date.now()
  problems.push(...typecheck(ts, units, opts.work))
  const typed = units.filter((u) => !u.isCli).length
  log(`typechecked ${typed} samples in ${((Date.now() - tcStarted) / 1000).toFixed(1)} s`)

  const ran = await runAll(ts, perse, units, opts, problems)

  const links = checkLinks(opts.root, files)
  problems.push(...links.problems)

  const typecheckOnly = units.filter((u) => u.mode === 'typecheck').length
  const secs = ((Date.now() - started) / 1000).toFixed(1)
  log()
  for (const p of problems) log(`FAIL ${p.where} [${p.phase}]\n${indent(p.text)}\n`)
  const running = units.filter((u) => u.mode === 'run' || u.mode === 'route' || u.mode === 'cli')
  const statedCount = running.reduce((n, u) => n + (u.expectations?.length ?? 0) + (u.outputBlock ? 1 : 0) + (u.isCli ? 1 : 0), 0)
  const tolerance = `numbers with a decimal point within ±${FLOAT_TOLERANCE.lastDigitUnits} in their last digit or ±${FLOAT_TOLERANCE.relative * 100} %`
  log(`${ran} run against the local server (${units.filter((u) => u.isCli).length} of them shell blocks), ${typecheckOnly} typecheck-only, ${skipped} skipped; all ${typed} JS/TS samples typechecked; ${statedCount} stated outputs compared (${tolerance}); ${links.count} links checked; ${secs} s`)
  log(problems.length ? `${problems.length} problem(s)` : 'all doc samples pass')
  return problems.length ? 1 : 0
}

const opts = parseArgs(process.argv.slice(2))
;(opts.selfTest ? selfTest(__filename) : main(opts)).then(
  (code) => {
    process.exitCode = code
  },
  (e) => {
    process.stderr.write(`doc-samples: ${e.stack || e}\n`)
    process.exitCode = 2
  },
)
