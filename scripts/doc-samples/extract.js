'use strict'

// Finding the samples: the Markdown files, their fenced blocks, the `sample:` markers above
// them, and the checkable units (a `continues` block joined to the one before it).
//
// Markers: an HTML comment on the line(s) right above the opening fence.
//   <!-- sample: typecheck (why it cannot run here) -->  needs a real account, a framework
//        that is not installed here, or your own service: typechecked only
//   <!-- sample: skip (why) -->     not checked at all; only for fragments that cannot stand alone
//   <!-- sample: route (photo=@photo.jpg consent=true) -->  a Next.js App Router style handler:
//        the module's `POST(request)` is called with a real Request carrying that FormData
//        (`name=@file` adds a File from the sample photos) and must answer 2xx
//   <!-- sample: ava -->            an ava test file, run with ava
//   <!-- sample: continues -->      runs after the previous sample of the same file, as one file
// On a block in another language (outputs.js says how they are compared):
//   <!-- sample: output -->         a ```text block: the whole console output of the sample above
//   <!-- sample: cli -->            a ```sh block run as a shell script; its `# → …` lines are
//                                   its whole output

const fs = require('node:fs')
const path = require('node:path')

const { expectations } = require('./outputs')

const LANGS = new Set(['js', 'mjs', 'cjs', 'javascript', 'ts', 'typescript'])
const MODES = new Set(['run', 'typecheck', 'skip', 'route', 'ava'])
const OTHER_MODES = { output: new Set(['text', '']), cli: new Set(['sh', 'bash', 'shell']) }

/** The Markdown files whose samples are checked, relative to `root`. */
function docFiles(root) {
  const files = ['README.md', 'CONTRIBUTING.md', 'bench/README.md'].filter((f) => fs.existsSync(path.join(root, f)))
  const walk = (dir) => {
    if (!fs.existsSync(path.join(root, dir))) return
    for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const rel = `${dir}/${e.name}`
      if (e.isDirectory()) walk(rel)
      else if (e.name.endsWith('.md')) files.push(rel)
    }
  }
  walk('docs')
  return files
}

/**
 * Every fenced block of `text`: `{ file, line, lang, code, markers, endLine }`. `line` is the
 * opening fence's line (1-based); `markers` the `sample:` comments right above it.
 */
function parseBlocks(file, text) {
  const lines = text.split('\n')
  const blocks = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)[^`]*$/.exec(lines[i])
    if (!open) continue
    const [, indent, fence, lang] = open
    const body = []
    let j = i + 1
    for (; j < lines.length; j++) {
      const close = new RegExp(`^\\s*${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`).exec(lines[j])
      if (close) break
      body.push(lines[j].startsWith(indent) ? lines[j].slice(indent.length) : lines[j].trimStart())
    }
    const markers = []
    for (let k = i - 1; k >= 0 && /^\s*<!--.*-->\s*$/.test(lines[k]); k--) {
      const m = /^\s*<!--\s*sample:\s*(.*?)\s*-->\s*$/.exec(lines[k])
      if (m) markers.unshift({ text: m[1], line: k + 1 })
    }
    blocks.push({ file, line: i + 1, lang: lang.toLowerCase(), code: `${body.join('\n')}\n`, markers, endLine: j + 1 })
    i = j
  }
  return blocks
}

/** `{ mode, continues, note, form }` from a block's markers; throws a message when one is wrong. */
function readMarkers(block) {
  const out = { mode: 'run', continues: false, note: '', form: null }
  for (const { text } of block.markers) {
    const m = /^([\w-]+)\s*(?:\((.*)\))?$/.exec(text)
    if (!m) throw new Error(`unreadable marker "sample: ${text}" (expected "sample: MODE (note)")`)
    const [, word, note = ''] = m
    if (word === 'continues') {
      out.continues = true
      continue
    }
    if (!MODES.has(word)) throw new Error(`unknown marker "sample: ${word}" (known: ${[...MODES, 'continues'].join(', ')})`)
    out.mode = word
    out.note = note.trim()
  }
  if (out.mode === 'skip' && !out.note) throw new Error('"sample: skip" needs its reason in parentheses, e.g. <!-- sample: skip (fragment of the block above) -->')
  if (out.mode === 'route') {
    out.form = (out.note || 'photo=@photo.jpg').split(/\s+/).filter(Boolean).map((pair) => {
      const eq = pair.indexOf('=')
      if (eq < 1) throw new Error(`route form field "${pair}" must be name=value or name=@photo`)
      return [pair.slice(0, eq), pair.slice(eq + 1)]
    })
  }
  return out
}

/**
 * What the source is, from its syntax tree: ESM (import/export or a top-level await) or
 * CommonJS, and whether it mixes `require` into ESM (then it runs as neither).
 */
function analyse(ts, code, isTs) {
  const sf = ts.createSourceFile(isTs ? 'sample.ts' : 'sample.js', code, ts.ScriptTarget.Latest, true, isTs ? ts.ScriptKind.TS : ts.ScriptKind.JS)
  let esm = false
  let topLevelAwait = false
  let requires = false
  let createRequire = false
  const visit = (node, inFunction) => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node) || ts.isExportAssignment(node)) esm = true
    if (ts.canHaveModifiers(node) && ts.getModifiers(node)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) esm = true
    if (!inFunction && (ts.isAwaitExpression(node) || (ts.isForOfStatement(node) && node.awaitModifier))) topLevelAwait = true
    if (ts.isCallExpression(node) && ts.isIdentifier(node.expression)) {
      if (node.expression.text === 'require') requires = true
      if (node.expression.text === 'createRequire') createRequire = true
    }
    const fn = inFunction || ts.isFunctionLike(node) || ts.isClassStaticBlockDeclaration(node)
    ts.forEachChild(node, (child) => visit(child, fn))
  }
  visit(sf, false)
  const syntax = sf.parseDiagnostics.map((d) => `${sf.getLineAndCharacterOfPosition(d.start).line}:${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`)
  return { esm: esm || topLevelAwait, mixed: requires && !createRequire && (esm || topLevelAwait), topLevelAwait, syntax }
}

/**
 * The checkable units: one per block that is not skipped. A `continues` block is appended to
 * the unit of the previous checked block in the same file. `lineMap[i]` is the Markdown line
 * of the unit's line i (0-based).
 */
function buildUnits(ts, blocks, problems) {
  const units = []
  let skipped = 0
  const lastByFile = new Map()
  for (const block of blocks) {
    if (!LANGS.has(block.lang)) {
      if (!block.markers.length) continue
      const where = `${block.file}:${block.line}`
      const word = block.markers.length === 1 && /^(\w+)$/.exec(block.markers[0].text)?.[1]
      if (!OTHER_MODES[word]?.has(block.lang)) {
        problems.push({ where, phase: 'markers', text: `a "sample:" marker on a \`\`\`${block.lang || '(no language)'} block, which is never run (only "sample: output" on a \`\`\`text block and "sample: cli" on a \`\`\`sh block are)` })
      } else if (word === 'output') {
        const prev = lastByFile.get(block.file)
        if (!prev || (prev.mode !== 'run' && prev.mode !== 'route')) problems.push({ where, phase: 'markers', text: '"sample: output" but the sample above it in this file does not run' })
        else if (prev.outputBlock) problems.push({ where, phase: 'markers', text: `"sample: output" but ${prev.where} already has its output block` })
        else prev.outputBlock = { where, line: block.line, text: block.code }
      } else {
        units.push({ file: block.file, line: block.line, where, lang: block.lang, isCli: true, mode: 'cli', code: block.code, lineMap: block.code.split('\n').map((_, i) => block.line + 1 + i), id: units.length })
      }
      continue
    }
    let m
    try {
      m = readMarkers(block)
    } catch (e) {
      problems.push({ where: `${block.file}:${block.line}`, phase: 'markers', text: e.message })
      continue
    }
    if (m.mode === 'skip') {
      skipped++
      continue
    }
    const isTs = block.lang === 'ts' || block.lang === 'typescript'
    const ownLines = block.code.split('\n').map((_, i) => block.line + 1 + i)
    let code = block.code
    let lineMap = ownLines
    let mode = m.mode
    let continuesFrom = null
    if (m.continues) {
      const prev = lastByFile.get(block.file)
      if (!prev) {
        problems.push({ where: `${block.file}:${block.line}`, phase: 'markers', text: '"sample: continues" but no earlier sample in this file to continue' })
        continue
      }
      code = `${prev.code}${block.code}`
      lineMap = [...prev.lineMap.slice(0, prev.code.split('\n').length - 1), ...ownLines]
      if (block.markers.every((x) => /^continues/.test(x.text))) mode = prev.mode
      continuesFrom = `${prev.file}:${prev.line}`
    }
    const info = analyse(ts, code, isTs)
    const where = `${block.file}:${block.line}`
    if (info.syntax.length) problems.push({ where, phase: 'syntax', text: info.syntax.map((s) => `line ${lineMap[Number(s.split(':')[0])] ?? '?'}: ${s.slice(s.indexOf(':') + 1)}`).join('\n') })
    if (info.mixed) problems.push({ where, phase: 'module', text: 'mixes require() with import/export or top-level await: such a file runs neither as CommonJS nor as ESM. Use import (ESM) or wrap the awaits in an async function (CommonJS).' })
    if (block.lang === 'mjs' && !info.esm) info.esm = true
    if (block.lang === 'cjs' && info.esm) problems.push({ where, phase: 'module', text: '```cjs block uses import/export or top-level await' })
    const stated = expectations(ts, code, isTs)
    const runs = mode === 'run' || mode === 'route'
    for (const p of runs ? stated.problems : []) problems.push({ where, phase: 'output', text: `${block.file}:${lineMap[p.line - 1]}: ${p.text}` })
    if (!runs && stated.expectations.length) problems.push({ where, phase: 'output', text: `${block.file}:${lineMap[stated.expectations[0].line - 1]}: a stated output ("// → …") in a sample that does not run (${mode}): nothing would check it` })
    const unit = { file: block.file, line: block.line, where, lang: block.lang, isTs, esm: info.esm, mode, form: m.form, code, lineMap, continuesFrom, id: units.length, expectations: stated.expectations }
    units.push(unit)
    lastByFile.set(block.file, unit)
  }
  return { units, skipped }
}

module.exports = { LANGS, docFiles, parseBlocks, readMarkers, buildUnits }
