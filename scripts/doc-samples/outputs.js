'use strict'

// Stated outputs: what a sample says it prints must be what it prints.
//
// In a JavaScript or TypeScript sample that runs:
//   console.log(d.totalFaces, d.faces[0].boundingBox) // → 1 [ 181, 58, 89, 120 ]
// states what that line prints: every console call made from that line, or from a function
// called on it (the line is on the call's stack), joined with newlines. A comment block on
// lines of its own (consecutive `// →` lines are one block) states what the nearest line above
// it printed (a loop's console.log, say), each printed line in turn:
//   // → photo.jpg success
//   // → dark.jpg bad_image_quality
// and `//   ` (two or more spaces) continues the line above. Text after ` — ` (space, em
// dash, space) is a remark, not compared. A console call with a trailing comment that is not
// `// → …` is refused: a stated output must be checked.
//
// `<!-- sample: output -->` above a ```text block states the whole console output of the
// sample above it; `<!-- sample: cli -->` above a ```sh block runs it as a shell script
// (`npx perse-node` is this repository's bin/perse-node.js) and its `# → …` lines state the
// script's whole output, stdout and stderr, in order.
//
// Comparison, token by token (whitespace between tokens is ignored):
//   - `…` (or `...`) stands for any text, including none;
//   - a number written with a decimal point matches within one unit of its last written digit
//     or 1 % of it, whichever is larger (FLOAT_TOLERANCE): `0.006` matches 0.005 to 0.007,
//     `0.743` matches 0.736 to 0.750, `0.99` matches 0.98 to 1.0, so the digits written are
//     the precision checked; an integer must be exact;
//   - every other token must be equal.

const FLOAT_TOLERANCE = { lastDigitUnits: 1, relative: 0.01 }
const WILD = Symbol('…')
const ARROW = '→'
const REMARK = ' — '

/** Tokens of `s`: numbers, words, and single other characters; `…`/`...` are wildcards when `wild`. */
function tokenize(s, wild) {
  const out = []
  for (const m of s.matchAll(/(…|\.\.\.)|(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)|([A-Za-z_$][\w$]*)|(\S)/g)) {
    if (m[1]) {
      if (wild) out.push(WILD)
      else out.push(...m[1].split(''))
    } else if (m[2]) out.push({ num: m[2] })
    else out.push(m[3] ?? m[4])
  }
  return out
}

function tokenEqual(e, a) {
  if (typeof e === 'object' && typeof a === 'object') {
    const x = Number(e.num)
    const y = Number(a.num)
    if (!/[.e]/.test(e.num)) return x === y
    const decimals = /\.(\d+)/.exec(e.num)?.[1].length ?? 0
    const unit = FLOAT_TOLERANCE.lastDigitUnits * 10 ** -(decimals - Number(/e([+-]?\d+)/.exec(e.num)?.[1] ?? 0))
    return Math.abs(x - y) <= Math.max(unit, FLOAT_TOLERANCE.relative * Math.abs(x)) + 1e-12
  }
  return e === a
}

const show = (t) => (t === WILD ? '…' : typeof t === 'object' ? t.num : t)

/**
 * Whether `actual` matches the stated `expected`; on a mismatch, `where` shows the first
 * actual text no partial match got past.
 */
function matchOutput(expected, actual) {
  const e = tokenize(expected, true)
  const a = tokenize(actual, false)
  // reach[i][j]: e[0..i) matches a[0..j)
  let prev = new Array(a.length + 1).fill(false)
  prev[0] = true
  let furthest = 0
  for (let i = 1; i <= e.length; i++) {
    const cur = new Array(a.length + 1).fill(false)
    for (let j = 0; j <= a.length; j++) {
      if (e[i - 1] === WILD) cur[j] = prev[j] || (j > 0 && cur[j - 1])
      else cur[j] = j > 0 && prev[j - 1] && tokenEqual(e[i - 1], a[j - 1])
      if (cur[j] && e[i - 1] !== WILD) furthest = Math.max(furthest, j)
    }
    prev = cur
  }
  if (prev[a.length]) return { ok: true }
  const near = a.slice(Math.max(0, furthest - 3), furthest + 6).map(show).join(' ')
  return { ok: false, where: `differs after ${furthest} matching token(s), near: ${near || '(end of output)'}` }
}

/** The stated value of a `→` comment's text: after the arrow, without the remark. */
function stated(text) {
  const v = text.slice(text.indexOf(ARROW) + 1)
  const r = v.indexOf(REMARK)
  return (r === -1 ? v : v.slice(0, r)).trim()
}

/**
 * The stated outputs of a JS/TS unit: `{ expectations: [{ line, block, text }], problems }`,
 * lines 1-based in the unit's code. Comments are found through TypeScript's scanner, so `//`
 * inside strings is not one.
 */
function expectations(ts, code, isTs) {
  const sf = ts.createSourceFile(isTs ? 'sample.ts' : 'sample.js', code, ts.ScriptTarget.Latest, true, isTs ? ts.ScriptKind.TS : ts.ScriptKind.JS)
  const lineOf = (pos) => sf.getLineAndCharacterOfPosition(pos).line + 1
  const lines = code.split('\n')
  const comments = new Map()
  const consoleLines = new Set()
  const visit = (node) => {
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && ts.isIdentifier(node.expression.expression) && node.expression.expression.text === 'console') {
      consoleLines.add(lineOf(node.getStart(sf)))
    }
    const kids = node.getChildren(sf)
    if (!kids.length || node.kind === ts.SyntaxKind.EndOfFileToken) {
      for (const r of [...(ts.getLeadingCommentRanges(code, node.pos) ?? []), ...(ts.getTrailingCommentRanges(code, node.end) ?? [])]) {
        if (r.kind === ts.SyntaxKind.SingleLineCommentTrivia) comments.set(r.pos, { pos: r.pos, text: code.slice(r.pos, r.end) })
      }
    }
    kids.forEach(visit)
  }
  visit(sf)
  const out = []
  const problems = []
  let block = null
  for (const c of [...comments.values()].sort((x, y) => x.pos - y.pos)) {
    const line = lineOf(c.pos)
    const alone = /^\s*$/.test(lines[line - 1].slice(0, c.pos - sf.getPositionOfLineAndCharacter(line - 1, 0)))
    const arrow = c.text.replace(/^\/\/\s*/, '').startsWith(ARROW)
    if (!alone) {
      block = null
      if (arrow) out.push({ line, block: false, text: stated(c.text) })
      else if (consoleLines.has(line)) problems.push({ line, text: `a console call with a comment that is not a stated output: write "// ${ARROW} what it prints" (a remark may follow after "${REMARK}"), or put the remark on its own line` })
      continue
    }
    if (arrow && block && block.end === line - 1) {
      block.text += `\n${stated(c.text)}`
    } else if (arrow) {
      block = { line, block: true, text: stated(c.text) }
      out.push(block)
    } else if (block && block.end === line - 1 && /^\/\/\s{2,}/.test(c.text)) {
      block.text += `\n${c.text.replace(/^\/\//, '').split(REMARK)[0].trim()}`
    } else {
      block = null
      continue
    }
    block.end = line
  }
  return { expectations: out, problems }
}

/**
 * Compares a unit's stated outputs with what it printed: `records` are `{ lines, text }`, one
 * per console call, `lines` the unit's lines on its stack. Returns problem texts.
 */
function checkExpectations(list, records) {
  const problems = []
  const printedLines = new Set(records.flatMap((r) => r.lines))
  for (const x of list) {
    let at = x.line
    if (x.block) {
      at = 0
      for (let l = x.line - 1; l > 0; l--) {
        if (printedLines.has(l)) {
          at = l
          break
        }
      }
    }
    const printed = records.filter((r) => r.lines.includes(at))
    if (!at || !printed.length) {
      problems.push({ line: x.line, text: `states "${x.text}", but nothing was printed from ${x.block ? 'the lines above it' : 'this line'}` })
      continue
    }
    const actual = printed.map((r) => r.text.replace(/\n$/, '')).join('\n')
    const m = matchOutput(x.text, actual)
    if (!m.ok) problems.push({ line: x.line, text: `states:  ${x.text.replace(/\n/g, '\n         ')}\nprinted: ${actual.replace(/\n/g, '\n         ')}\n(${m.where})` })
  }
  return problems
}

/** The stated output of a `cli` block: its `# → …` lines, joined. */
function cliExpectation(code) {
  return code
    .split('\n')
    .filter((l) => new RegExp(`^\\s*#\\s*${ARROW}`).test(l))
    .map((l) => stated(l))
    .join('\n')
}

module.exports = { FLOAT_TOLERANCE, tokenize, matchOutput, expectations, checkExpectations, cliExpectation, stated }
