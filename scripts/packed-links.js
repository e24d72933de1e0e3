'use strict'

// The links in a packed package's Markdown files (README.md, and docs/ and CHANGELOG.md where
// they ship), as a user meets them in node_modules or on the registry's page: every relative
// link must resolve to a file or folder inside the tarball, and every link into this
// repository (https://github.com/getperse/perse-node/{blob,tree,raw}/main/<path>) must name a
// path that git tracks. Used by pack:check (scripts/pack-check.js) on both packages.
//
//   node scripts/packed-links.js <package.tgz>...   checks tarballs by hand
//   node scripts/packed-links.js                    packs both packages (npm pack, a few seconds) and
//                                                   checks them: npm test's early check, so a doc link
//                                                   that only works in the repository fails in minutes,
//                                                   not at CI's pack:check an hour later

const { execFileSync } = require('node:child_process')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')
const REPO = 'https://github.com/getperse/perse-node'

/** Every Markdown link and image target in `text`, with its line number (code spans and blocks left out). */
function linksIn(text) {
  const links = []
  let fenced = false
  text.split('\n').forEach((line, i) => {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced
    if (fenced) return
    const prose = line.replace(/`[^`]*`/g, '')
    for (const m of prose.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) links.push({ target: m[1], line: i + 1 })
    for (const m of prose.matchAll(/<(?:img|a)\s[^>]*(?:src|href)="([^"]+)"/g)) links.push({ target: m[1], line: i + 1 })
  })
  return links
}

/** Problems with the links of every .md file in `tgz` (a path to an npm pack tarball). */
function checkPackedLinks(tgz) {
  const files = execFileSync('tar', ['-tzf', tgz], { encoding: 'utf8' }).split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''))
  const inside = new Set(files)
  const dirs = new Set(files.flatMap((f) => f.split('/').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('/'))))
  const tracked = new Set(execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean))
  const trackedDirs = new Set([...tracked].flatMap((f) => f.split('/').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('/'))))
  const problems = []
  let checked = 0
  for (const md of files.filter((f) => f.endsWith('.md'))) {
    const text = execFileSync('tar', ['-xzOf', tgz, `package/${md}`], { encoding: 'utf8' })
    for (const { target, line } of linksIn(text)) {
      const where = `${path.basename(tgz)}: ${md}:${line}: ${target}`
      const [ref] = target.split('#')
      if (!ref) continue // an anchor in the same file
      checked++
      if (ref.startsWith(`${REPO}/`)) {
        const m = /^\/(?:blob|tree|raw)\/main\/(.+?)\/?$/.exec(ref.slice(REPO.length))
        if (m && !tracked.has(m[1]) && !trackedDirs.has(m[1])) problems.push(`${where}: no ${m[1]} in the repository`)
        continue
      }
      if (/^[a-z][a-z0-9+.-]*:/i.test(ref)) continue // another site, mailto:
      const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(md), ref)).replace(/\/$/, '')
      if (resolved.startsWith('..') || (!inside.has(resolved) && !dirs.has(resolved))) {
        problems.push(`${where}: ${resolved} is not in the package (link to ${REPO}/blob/main/... instead, or ship it)`)
      }
    }
  }
  return { problems, checked, markdown: files.filter((f) => f.endsWith('.md')).length }
}

/** Packs the root package and packages/local into a temporary folder; returns the tarballs. */
function packBoth() {
  const fs = require('node:fs')
  const os = require('node:os')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'perse-links-'))
  for (const pkg of [ROOT, path.join(ROOT, 'packages', 'local')]) {
    execFileSync('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', dir], { cwd: pkg, stdio: ['ignore', 'ignore', 'inherit'] })
  }
  return fs.readdirSync(dir).filter((f) => f.endsWith('.tgz')).map((f) => path.join(dir, f))
}

if (require.main === module) {
  let failed = false
  const tarballs = process.argv.length > 2 ? process.argv.slice(2) : packBoth()
  if (tarballs.length === 0) throw new Error('npm pack wrote no tarball')
  for (const tgz of tarballs) {
    const r = checkPackedLinks(path.resolve(tgz))
    for (const p of r.problems) process.stderr.write(`${p}\n`)
    process.stdout.write(`${tgz}: ${r.checked} links in ${r.markdown} Markdown files, ${r.problems.length} broken\n`)
    failed ||= r.problems.length > 0
  }
  process.exit(failed ? 1 : 0)
}

module.exports = { checkPackedLinks, linksIn }
