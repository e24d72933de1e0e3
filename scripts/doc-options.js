'use strict'

// npm run test:doc-options — the option tables in the docs say what the Rust declarations say.
//
// Each options object is declared once, in a `js_options!` (src/options.rs,
// packages/local/src/server.rs): its keys, each number's range (`#[integer(0 ..= 20)]`) and a
// doc line with its default. napi writes those doc lines, the ranges filled in, into
// binding.d.ts and packages/local/binding.d.ts. The docs' tables are prose a reader needs next
// to the examples, so they stay hand-written, and this check holds them to the declarations:
//   - every key of the options object has a row (or, for prose, a mention);
//   - where the declaration gives a range, the row states the same one (`1 to 86,400,000`);
//   - where it gives a numeric or quoted default, the row's Default column (or the row) has it.
// Thousands separators are ignored; the docs write 86,400,000, the declarations 86400000.
//
//   node scripts/doc-options.js              the check
//   node scripts/doc-options.js --self-test  breaks a range, a default and a row in copies of
//                                            the docs and checks that each is caught

const fs = require('node:fs')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')

/** Which doc text documents which options object. `table`: the heading (or line) the table follows. */
const DOCUMENTED = [
  { doc: 'docs/api.md', after: '## Client options', types: 'binding.d.ts', iface: 'ClientOptions' },
  { doc: 'docs/api.md', after: '## Per-call options', types: 'binding.d.ts', iface: 'CallOptions' },
  { doc: 'docs/local-server.md', after: 'Options of `startLocalServer(options)`', types: 'packages/local/binding.d.ts', iface: 'LocalServerOptions' },
  { doc: 'docs/image-preparation.md', after: 'Options: `prepare`', prose: true, types: 'binding.d.ts', iface: 'PrepareOptions' },
]

/** The fields of `export interface <name>` in a .d.ts text, each with its doc comment. */
function fieldsOf(text, name) {
  const start = text.indexOf(`export interface ${name} {`)
  if (start < 0) throw new Error(`no interface ${name}`)
  const body = text.slice(start, text.indexOf('\n}', start))
  const fields = new Map()
  for (const m of body.matchAll(/\/\*\*([\s\S]*?)\*\/\s*(\w+)\??:/g)) {
    fields.set(m[2], m[1].replace(/^\s*\*\s?/gm, ' ').replace(/\s+/g, ' ').trim())
  }
  return fields
}

/** What a field's doc line promises: its range and its default, as the docs must state them. */
function factsOf(doc) {
  const range = /\((-?[\d.]+) to (-?[\d.]+)[;),]/.exec(doc)
  const dflt = /\b[Dd]efault:? (?:`([^`]+)`|(-?\d+(?:\.\d+)?))/.exec(doc)
  return { range: range && `${range[1]} to ${range[2]}`, dflt: dflt && (dflt[1] ?? dflt[2]) }
}

const plain = (s) => s.replace(/(\d),(?=\d{3}\b)/g, '$1').replace(/\s+/g, ' ')

/** The rows of the Markdown table after `after` in `text`: key → { cells, row }. */
function tableAfter(text, after) {
  const at = text.indexOf(after)
  if (at < 0) return null
  const lines = text.slice(at).split('\n')
  const first = lines.findIndex((l) => l.startsWith('|'))
  if (first < 0) return null
  const header = lines[first].split('|').slice(1, -1).map((c) => c.trim())
  const rows = new Map()
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break
    const cells = line.split('|').slice(1, -1).map((c) => c.trim())
    const key = /^`(\w+)`$/.exec(cells[0])
    if (key) rows.set(key[1], { row: plain(cells.slice(1).join(' | ')), dflt: header[1] === 'Default' ? plain(cells[1]) : null })
  }
  return rows
}

/** The paragraph after `after`, split at each backticked key: key → { row }. */
function proseAfter(text, after, keys) {
  const at = text.indexOf(after)
  if (at < 0) return null
  const para = plain(text.slice(at, text.indexOf('\n\n', at)))
  const marks = [...para.matchAll(/`(\w+)`/g)].filter((m) => keys.has(m[1]))
  const rows = new Map()
  marks.forEach((m, i) => rows.set(m[1], { row: para.slice(m.index, marks[i + 1]?.index ?? para.length), dflt: null }))
  return rows
}

/** Problems in the docs under `root` (the repository, or a copy of it for the self-test). */
function check(root) {
  const problems = []
  let rowsChecked = 0
  for (const d of DOCUMENTED) {
    const fields = fieldsOf(fs.readFileSync(path.join(ROOT, d.types), 'utf8'), d.iface)
    const text = fs.readFileSync(path.join(root, d.doc), 'utf8')
    const rows = d.prose ? proseAfter(text, d.after, fields) : tableAfter(text, d.after)
    if (!rows) {
      problems.push(`${d.doc}: no ${d.prose ? 'paragraph' : 'table'} after "${d.after}" (for ${d.iface})`)
      continue
    }
    for (const [key, doc] of fields) {
      const where = `${d.doc} (${d.iface}.${key})`
      const row = rows.get(key)
      if (!row) {
        problems.push(`${where}: no ${d.prose ? 'mention' : 'row'}; the declaration says: ${doc}`)
        continue
      }
      rowsChecked++
      const { range, dflt } = factsOf(doc)
      if (range && !row.row.includes(range)) problems.push(`${where}: the declared range is ${range}, the docs say: ${row.row}`)
      if (dflt && !(row.dflt ?? row.row).includes(dflt)) problems.push(`${where}: the declared default is ${dflt}, the docs say: ${row.dflt ?? row.row}`)
    }
  }
  return { problems, rowsChecked }
}

function selfTest() {
  const os = require('node:os')
  const breaks = [
    ['docs/api.md', '(integer, 0 to 20)', '(integer, 0 to 21)', 'range'],
    ['docs/local-server.md', '| `tokenTtlSeconds` | `900` |', '| `tokenTtlSeconds` | `600` |', 'default'],
    ['docs/image-preparation.md', '`quality` (1 to 100; default 85)', '`quality` (1 to 100; default 80)', 'default'],
  ]
  const rowGone = ['docs/api.md', /^\| `maxPixels` \|.*\n/m, '', 'no row']
  let failed = false
  for (const [file, from, to, what] of [...breaks, rowGone]) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'perse-doc-options-'))
    for (const d of new Set(DOCUMENTED.map((x) => x.doc))) {
      fs.mkdirSync(path.dirname(path.join(dir, d)), { recursive: true })
      fs.copyFileSync(path.join(ROOT, d), path.join(dir, d))
    }
    const target = path.join(dir, file)
    const before = fs.readFileSync(target, 'utf8')
    const after = before.replace(from, to)
    if (after === before) throw new Error(`self-test: ${file} no longer contains ${from}; update the self-test`)
    fs.writeFileSync(target, after)
    const { problems } = check(dir)
    const caught = problems.some((p) => p.includes(file) && p.includes(what === 'no row' ? 'no row' : `declared ${what}`))
    process.stdout.write(`${caught ? 'caught' : 'MISSED'}: ${file}, ${what} changed\n`)
    failed ||= !caught
    fs.rmSync(dir, { recursive: true, force: true })
  }
  process.exit(failed ? 1 : 0)
}

if (require.main === module) {
  if (process.argv.includes('--self-test')) selfTest()
  else {
    const { problems, rowsChecked } = check(ROOT)
    for (const p of problems) process.stderr.write(`${p}\n`)
    process.stdout.write(`doc-options: ${rowsChecked} documented options checked against ${DOCUMENTED.length} declarations, ${problems.length} problems\n`)
    process.exit(problems.length ? 1 : 0)
  }
}

module.exports = { check, fieldsOf, factsOf }
