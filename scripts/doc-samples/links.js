'use strict'

// Links: every relative link (file and #anchor) in the docs must resolve, and README's
// Contents must list every section.

const fs = require('node:fs')
const path = require('node:path')
const { ROOT } = require('./common')

/** GitHub's anchors for the headings of a Markdown text. */
function anchors(text) {
  const seen = new Map()
  const out = new Set()
  let inFence = false
  for (const line of text.split('\n')) {
    if (/^\s*(`{3,}|~{3,})/.test(line)) inFence = !inFence
    const h = !inFence && /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (!h) continue
    const slug = h[1]
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/<[^>]+>/g, '')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-')
    const n = seen.get(slug) ?? 0
    seen.set(slug, n + 1)
    out.add(n === 0 ? slug : `${slug}-${n}`)
  }
  return out
}

/** Broken relative links, and README sections missing from its Contents. */
function checkLinks(root, files) {
  const problems = []
  let count = 0
  const cache = new Map()
  const anchorsOf = (abs) => {
    if (!cache.has(abs)) cache.set(abs, anchors(fs.readFileSync(abs, 'utf8')))
    return cache.get(abs)
  }
  for (const file of files) {
    const text = fs.readFileSync(path.join(root, file), 'utf8')
    const lines = text.split('\n')
    let inFence = false
    lines.forEach((line, i) => {
      if (/^\s*(`{3,}|~{3,})/.test(line)) inFence = !inFence
      if (inFence) return
      for (const m of line.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        const target = m[1]
        if (/^[a-z]+:/i.test(target)) continue
        count++
        const [p, anchor] = target.split('#')
        let abs = p ? path.resolve(path.dirname(path.join(root, file)), p) : path.join(root, file)
        if (!fs.existsSync(abs) && p) abs = path.resolve(path.dirname(path.join(ROOT, file)), p) // code outside the docs
        const where = `${file}:${i + 1}`
        if (!fs.existsSync(abs)) problems.push({ where, phase: 'links', text: `${target}: no such file` })
        else if (anchor && abs.endsWith('.md') && !anchorsOf(abs).has(anchor)) problems.push({ where, phase: 'links', text: `${target}: no heading with the anchor #${anchor}` })
      }
    })
  }
  // README's Contents must list every section (## heading).
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')
  const contents = /^## Contents\n([\s\S]*?)\n## /m.exec(readme)
  if (contents) {
    const listed = new Set([...contents[1].matchAll(/\(#([^)]+)\)/g)].map((m) => m[1]))
    const sections = readme.split('\n').filter((l) => /^## /.test(l) && l !== '## Contents')
    for (const s of sections) {
      const slug = [...anchors(s)][0]
      if (!listed.has(slug)) problems.push({ where: 'README.md', phase: 'contents', text: `the Contents list leaves out "${s.slice(3)}" (#${slug})` })
    }
  }
  return { problems, count }
}

module.exports = { checkLinks }
