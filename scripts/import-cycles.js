#!/usr/bin/env node
'use strict'

// npm run test:imports — no import circles, in Rust or in JS. A circle means two files that
// can only be understood (and changed) together; each concept should have one home that the
// others import.
//
// Rust: for each crate root (`src/lib.rs`, `src/main.rs`, `src/bin/*.rs` of every package of
// the workspace), the module tree is read from its `mod` lines (`#[path]` included), and each
// file's dependencies from its `use` lines and the `crate::`/`super::`/`self::` paths (or
// paths through a child module or a `use`d module) in its code. A path names the deepest
// module file it reaches; items of a parent module (`mod.rs`, `lib.rs`) used by a child count
// as the child depending on its parent, but a parent naming its own children (`mod x;`,
// `pub use x::Item`) is the folder's front door, not a dependency.
// JS: the relative `require` calls of index.js and lib/*.js.
//
//   node scripts/import-cycles.js              exit 1 and print each circle found
//   node scripts/import-cycles.js --graph      also print every file's dependencies
//   node scripts/import-cycles.js --self-test  adds a circle to a scratch copy of one Rust
//                                              crate and of lib/, and checks both are caught

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')

// ---------------------------------------------------------------------------------------------
// Rust

/** Rust source as tokens: identifiers, string literals (`{ str }`) and punctuation, no comments. */
function tokenize(src) {
  const out = []
  let i = 0
  const n = src.length
  while (i < n) {
    const c = src[i]
    if (/\s/.test(c)) i++
    else if (src.startsWith('//', i)) i = src.indexOf('\n', i) === -1 ? n : src.indexOf('\n', i)
    else if (src.startsWith('/*', i)) {
      let depth = 0
      do {
        if (src.startsWith('/*', i)) (depth++, (i += 2))
        else if (src.startsWith('*/', i)) (depth--, (i += 2))
        else i++
      } while (depth > 0 && i < n)
    } else if (/[rb]/.test(c) && /^(b?r#*")/.test(src.slice(i, i + 70))) {
      const [open] = /^b?r(#*)"/.exec(src.slice(i, i + 70))
      const hashes = open.length - open.indexOf('"') - 1 - (open.startsWith('b') ? 1 : 0)
      const close = '"' + '#'.repeat(Math.max(0, open.length - (open.startsWith('b') ? 3 : 2)))
      void hashes
      const end = src.indexOf(close, i + open.length)
      out.push({ str: src.slice(i + open.length, end) })
      i = end + close.length
    } else if (c === '"' || (c === 'b' && src[i + 1] === '"')) {
      let j = c === 'b' ? i + 2 : i + 1
      while (j < n && src[j] !== '"') j += src[j] === '\\' ? 2 : 1
      out.push({ str: src.slice(c === 'b' ? i + 2 : i + 1, j) })
      i = j + 1
    } else if (c === "'" || (c === 'b' && src[i + 1] === "'")) {
      // A char literal ('a', '\n', '\u{1F600}') or a lifetime ('a, 'static).
      const j = c === 'b' ? i + 1 : i
      const m = /^'(?:\\(?:u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)|[^\\'])'/su.exec(src.slice(j, j + 12))
      if (m) i = j + m[0].length
      else {
        const l = /^'[A-Za-z_]\w*/.exec(src.slice(j))
        i = j + (l ? l[0].length : 1)
      }
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^(?:r#)?[A-Za-z_]\w*/.exec(src.slice(i, i + 200))
      out.push(m[0].replace(/^r#/, ''))
      i += m[0].length
    } else if (src.startsWith('::', i)) (out.push('::'), (i += 2))
    else (out.push(c), i++)
  }
  return out
}

const isIdent = (t) => typeof t === 'string' && /^[A-Za-z_]\w*$/.test(t)

/** The paths of a `use` tree starting at `toks[i]`: `[[seg, ...], ...]` and the index after it. */
function useTree(toks, i, prefix, out) {
  const segs = [...prefix]
  if (toks[i] === '::') i++ // `use ::std::x`
  for (;;) {
    const t = toks[i]
    if (t === '{') {
      i++
      while (toks[i] !== '}' && i < toks.length) {
        i = useTree(toks, i, segs, out)
        if (toks[i] === ',') i++
      }
      return i + 1
    }
    if (t === '*') {
      out.push({ segs, glob: true })
      return i + 1
    }
    if (!isIdent(t)) return i
    if (t === 'self' && segs.length > 0) {
      out.push({ segs, alias: toks[i + 1] === 'as' ? toks[i + 2] : segs[segs.length - 1] })
      return toks[i + 1] === 'as' ? i + 3 : i + 1
    }
    segs.push(t)
    i++
    if (toks[i] === '::') {
      i++
      continue
    }
    const alias = toks[i] === 'as' ? toks[i + 1] : t
    out.push({ segs, alias })
    return toks[i] === 'as' ? i + 2 : i
  }
}

/**
 * The file-level dependency graph of one crate, from its root file. Modules are keyed by
 * their path (`crate::a::b`); inline modules belong to their file, and `#[cfg(test)]` ones
 * (with everything in them) are left out: a test reaching into a sibling is no design circle.
 */
function rustCrate(rootFile, crateName) {
  const modules = new Map() // 'crate::a::b' → { path, file, dir, test, children: Set, imports: Map }
  const uses = [] // { from: module key, segs, alias, isUse, glob }
  const key = (p) => p.join('::')

  function loadFile(modPath, file, dir, test) {
    const toks = tokenize(fs.readFileSync(file, 'utf8'))
    const stack = [{ path: modPath, depth: 0, test }]
    let depth = 0
    let pathAttr = null
    let cfgTest = false
    const add = (p, dirOf, isTest) => {
      const k = key(p)
      if (!modules.has(k)) modules.set(k, { path: p, file, dir: dirOf, test: isTest, children: new Set(), imports: new Map() })
      if (p.length > 1) modules.get(key(p.slice(0, -1)))?.children.add(p[p.length - 1])
    }
    add(modPath, dir, test)
    const pending = [] // file modules declared here: loaded after this file
    for (let i = 0; i < toks.length; i++) {
      const t = toks[i]
      const cur = stack[stack.length - 1]
      if (t === '{') depth++
      else if (t === '}') {
        depth--
        if (stack.length > 1 && depth < cur.depth) stack.pop()
      } else if (t === '#' && toks[i + 1] === '[') {
        // An attribute: `#[path = "..."]` and `#[cfg(test)]` apply to the next `mod`.
        if (toks[i + 2] === 'path' && toks[i + 3] === '=' && toks[i + 4]?.str !== undefined) pathAttr = toks[i + 4].str
        if (toks[i + 2] === 'cfg' && toks[i + 3] === '(' && toks[i + 4] === 'test' && toks[i + 5] === ')') cfgTest = true
        let d = 0
        let j = i + 1
        do d += toks[j] === '[' ? 1 : toks[j] === ']' ? -1 : 0
        while (d > 0 && ++j < toks.length)
        i = j
        continue
      } else if (t === 'mod' && isIdent(toks[i + 1]) && (toks[i + 2] === ';' || toks[i + 2] === '{')) {
        const name = toks[i + 1]
        const p = [...cur.path, name]
        const modDir = modules.get(key(cur.path)).dir
        const isTest = cur.test || cfgTest
        if (toks[i + 2] === '{') {
          add(p, path.join(modDir, name), isTest)
          depth++
          stack.push({ path: p, depth, test: isTest })
        } else {
          let f = pathAttr !== null ? path.resolve(path.dirname(file), pathAttr) : path.join(modDir, `${name}.rs`)
          if (pathAttr === null && !fs.existsSync(f)) f = path.join(modDir, name, 'mod.rs')
          const d = path.basename(f) === 'mod.rs' ? path.dirname(f) : path.join(path.dirname(f), name)
          pending.push([p, f, d, isTest])
        }
        i += 2
      } else if (cur.test) {
        // test code: not read
      } else if (t === 'use' && toks[i - 1] !== '.') {
        const found = []
        i = useTree(toks, i + 1, [], found) - 1
        for (const u of found) uses.push({ from: key(cur.path), ...u, isUse: true })
      } else if (isIdent(t) && toks[i + 1] === '::' && toks[i - 1] !== '::' && toks[i - 1] !== '.') {
        const segs = [t]
        let j = i + 1
        while (toks[j] === '::' && isIdent(toks[j + 1])) (segs.push(toks[j + 1]), (j += 2))
        uses.push({ from: key(cur.path), segs })
        i = j - 1
      }
      if (t !== '#') (pathAttr = null), (cfgTest = false)
    }
    for (const [p, f, d, isTest] of pending) if (fs.existsSync(f)) loadFile(p, f, d, isTest)
  }
  loadFile(['crate'], rootFile, path.dirname(rootFile), false)

  /** The absolute path a path names, from module `from`; null when it leaves the crate. */
  function absolute(from, segs) {
    const m = modules.get(from)
    let base = m.path
    const rest = [...segs]
    if (rest[0] === 'crate') (base = ['crate']), rest.shift()
    else if (rest[0] === 'self') rest.shift()
    else if (rest[0] === 'super') {
      while (rest[0] === 'super') (base = base.slice(0, -1)), rest.shift()
    } else if (m.children.has(rest[0])) {
      // a child module: 2018 paths are relative to the current module
    } else if (m.imports.has(rest[0])) (base = m.imports.get(rest[0])), rest.shift()
    else return null
    return [...base, ...rest]
  }

  /** The module file a path reaches: the deepest module along it, through re-exports. */
  function target(abs, hops = 0) {
    for (let l = abs.length; l > 0; l--) {
      const m = modules.get(key(abs.slice(0, l)))
      if (!m) continue
      const next = abs[l]
      if (next !== undefined && m.imports.has(next) && hops < 8) return target([...m.imports.get(next), ...abs.slice(l + 1)], hops + 1)
      return m
    }
    return null
  }

  // What each `use` brings into its module's scope, for paths and re-exports through it.
  for (let pass = 0; pass < 2; pass++) {
    for (const u of uses) {
      if (!u.isUse || u.glob) continue
      const abs = absolute(u.from, u.segs)
      if (abs) modules.get(u.from).imports.set(u.alias, abs)
    }
  }
  const fileModule = (file) => [...modules.values()].filter((m) => m.file === file).sort((a, b) => a.path.length - b.path.length)[0]
  const edges = new Map() // file → Set of files
  for (const m of modules.values()) if (!m.test && !edges.has(m.file)) edges.set(m.file, new Set())
  for (const u of uses) {
    const from = modules.get(u.from)
    const abs = absolute(u.from, u.segs)
    const to = abs && target(abs)
    if (!to || to.file === from.file || to.test) continue
    // A parent naming its own descendants is the folder's front door, not a dependency.
    if (key(to.path).startsWith(`${key(fileModule(from.file).path)}::`)) continue
    edges.get(from.file).add(to.file)
  }
  return { name: crateName, edges }
}

/** Every crate root of the workspace under `root`. */
function crateRoots(root) {
  const dirs = [root, ...['crates', 'packages'].flatMap((d) => (fs.existsSync(path.join(root, d)) ? fs.readdirSync(path.join(root, d)).map((x) => path.join(root, d, x)) : []))]
  const roots = []
  for (const dir of dirs) {
    if (!fs.existsSync(path.join(dir, 'Cargo.toml'))) continue
    const src = path.join(dir, 'src')
    for (const f of ['lib.rs', 'main.rs']) if (fs.existsSync(path.join(src, f))) roots.push(path.join(src, f))
    const bin = path.join(src, 'bin')
    if (fs.existsSync(bin)) for (const f of fs.readdirSync(bin)) if (f.endsWith('.rs')) roots.push(path.join(bin, f))
  }
  return roots
}

// ---------------------------------------------------------------------------------------------
// JS

function jsGraph(root) {
  const files = [path.join(root, 'index.js'), ...fs.readdirSync(path.join(root, 'lib')).filter((f) => f.endsWith('.js')).map((f) => path.join(root, 'lib', f))]
  const edges = new Map()
  for (const file of files) {
    const src = fs.readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1')
    const deps = new Set()
    for (const [, spec] of src.matchAll(/\brequire\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g)) {
      let to = path.resolve(path.dirname(file), spec)
      if (!to.endsWith('.js') && fs.existsSync(`${to}.js`)) to = `${to}.js`
      if (files.includes(to)) deps.add(to)
    }
    edges.set(file, deps)
  }
  return { name: 'JS (index.js, lib/)', edges }
}

// ---------------------------------------------------------------------------------------------

/** The circles of a graph (Map of node → Set of nodes): one per strongly connected component. */
function circles(edges) {
  let index = 0
  const idx = new Map()
  const low = new Map()
  const stack = []
  const on = new Set()
  const out = []
  const visit = (v) => {
    idx.set(v, index)
    low.set(v, index++)
    stack.push(v)
    on.add(v)
    for (const w of edges.get(v) ?? []) {
      if (!idx.has(w)) (visit(w), low.set(v, Math.min(low.get(v), low.get(w))))
      else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)))
    }
    if (low.get(v) === idx.get(v)) {
      const comp = []
      let w
      do (w = stack.pop()), on.delete(w), comp.push(w)
      while (w !== v)
      if (comp.length > 1) out.push(comp.sort())
    }
  }
  for (const v of edges.keys()) if (!idx.has(v)) visit(v)
  return out
}

/**
 * Circles tolerated for now, each with the reason. Only exactly these files: a circle that
 * grows, or any other, fails.
 */
const KNOWN = []

const knownEntry = (c) => KNOWN.find((k) => k.files.length === c.files.length && k.files.every((f) => c.files.includes(f)))

/** Every circle under `root`, as `{ graph, files }`, with the graphs read; `known` holds the tolerated ones. */
function check(root) {
  const graphs = [...crateRoots(root).map((f) => rustCrate(f, path.relative(root, f))), jsGraph(root)]
  const found = []
  const known = []
  for (const g of graphs) {
    for (const c of circles(g.edges)) {
      const circle = { graph: g.name, files: c.map((f) => path.relative(root, f)) }
      ;(knownEntry(circle) ? known : found).push(circle)
    }
  }
  return { graphs, found, known }
}

function report(found, prefix = '') {
  for (const c of found) process.stderr.write(`${prefix}import circle in ${c.graph}: ${c.files.join(' ↔ ')}\n`)
}

function selfTest() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'import-cycles-'))
  try {
    const copy = (rel) => fs.cpSync(path.join(ROOT, rel), path.join(tmp, rel), { recursive: true })
    for (const rel of ['Cargo.toml', 'crates/perse-local', 'index.js', 'lib', 'package.json']) copy(rel)
    fs.rmSync(path.join(tmp, 'crates/perse-local/tests'), { recursive: true, force: true })
    const before = check(tmp).found
    if (before.length > 0) throw new Error(`the copy has circles already: ${JSON.stringify(before)}`)
    // Rust: the store reaching up into the server, which owns it.
    const store = path.join(tmp, 'crates/perse-local/src/store.rs')
    fs.appendFileSync(store, '\n#[allow(unused_imports)]\nuse crate::server::LocalServer;\n')
    // JS: the errors module requiring the client, which requires it.
    const errors = path.join(tmp, 'lib/errors.js')
    fs.appendFileSync(errors, "\nrequire('./client.js')\n")
    const after = check(tmp).found
    report(after, '(introduced) ')
    const want = [
      (c) => c.graph.startsWith('crates/perse-local') && c.files.includes('crates/perse-local/src/store.rs') && c.files.includes('crates/perse-local/src/server.rs'),
      (c) => c.graph.startsWith('JS') && c.files.includes('lib/errors.js') && c.files.includes('lib/client.js'),
    ]
    const missed = want.filter((w) => !after.some(w))
    if (missed.length > 0 || after.length !== 2) {
      process.stderr.write(`self-test FAILED: expected exactly the two circles introduced, found ${after.length}\n`)
      process.exit(1)
    }
    process.stdout.write('self-test passed: both introduced circles were caught\n')
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

if (require.main === module) {
  if (process.argv.includes('--self-test')) selfTest()
  else {
    const { graphs, found, known } = check(ROOT)
    if (process.argv.includes('--graph')) {
      for (const g of graphs) {
        process.stdout.write(`${g.name}\n`)
        for (const [f, deps] of g.edges) if (deps.size) process.stdout.write(`  ${path.relative(ROOT, f)} → ${[...deps].map((d) => path.relative(ROOT, d)).join(', ')}\n`)
      }
    }
    for (const c of known) process.stdout.write(`known circle (${knownEntry(c).why}): ${c.files.join(' ↔ ')}\n`)
    report(found)
    if (found.length > 0) process.exit(1)
    const files = graphs.reduce((s, g) => s + g.edges.size, 0)
    process.stdout.write(`no ${known.length ? 'other ' : ''}import circles (${graphs.length} graphs, ${files} files)\n`)
  }
}

module.exports = { check, circles, tokenize }
