// Benchmark: prepareImage(..., { prepare: 'fit' }) against sharp doing the same job
// (rotate, resize to fit 1600x1600, JPEG quality 85), alternated in one run, medians and
// ratios printed; then the peak RSS one in-flight 12 MP image adds, in a fresh process.
//
//   npm run bench:prepare            (after a release build: npm run build)
//   ROUNDS=30 node bench/prepare.mjs

import { readFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'

const require = createRequire(import.meta.url)
const here = path.dirname(fileURLToPath(import.meta.url))
const { prepareImage } = require('..')
const sharp = require('sharp')

const ROUNDS = Number(process.env.ROUNDS ?? 15)
const inputs = [
  ['photo-12mp.jpg (4000x3000, 1.6 MB)', path.join(here, 'fixtures', 'photo-12mp.jpg'), 1.0],
  ['astronaut-2048.png (3.4 MB)', path.join(here, '..', '__test__', 'fixtures', 'astronaut-2048.png'), 1.2],
]

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

const ours = (buf) => prepareImage(buf, { prepare: 'fit' })
const theirs = (buf) => sharp(buf).rotate().resize(1600, 1600, { fit: 'inside' }).jpeg({ quality: 85 }).toBuffer({ resolveWithObject: true })

async function time(fn) {
  const t0 = process.hrtime.bigint()
  const out = await fn()
  return [Number(process.hrtime.bigint() - t0) / 1e6, out]
}

if (process.argv[2] === '--rss') {
  // Child mode: peak RSS added while `n` 12 MP images are in flight at once.
  const n = Number(process.argv[3])
  const buf = readFileSync(inputs[0][1])
  await ours(buf) // load the addon and warm the allocator
  global.gc?.()
  await new Promise((r) => setTimeout(r, 200))
  const base = process.memoryUsage().rss
  let peak = base
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 2)
  await Promise.all(Array.from({ length: n }, () => ours(buf)))
  peak = Math.max(peak, process.memoryUsage().rss)
  clearInterval(timer)
  process.stdout.write(JSON.stringify({ n, addedMb: (peak - base) / 2 ** 20 }))
  process.exit(0)
}

console.log(`prepare benchmark: ${ROUNDS} rounds, alternating; ${os.cpus()[0].model}, ${os.cpus().length} cores, Node ${process.version}`)
console.log(`sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}); sharp concurrency ${sharp.concurrency()}\n`)
const rows = []
for (const [label, file, target] of inputs) {
  const buf = readFileSync(file)
  for (let i = 0; i < 3; i++) {
    await ours(buf)
    await theirs(buf)
  }
  const a = []
  const b = []
  let outA
  let outB
  for (let i = 0; i < ROUNDS; i++) {
    const [ta, ra] = await time(() => ours(buf))
    const [tb, rb] = await time(() => theirs(buf))
    a.push(ta)
    b.push(tb)
    outA = ra
    outB = rb
  }
  const ratio = median(a) / median(b)
  rows.push({
    input: label,
    'perse-node ms': median(a).toFixed(1),
    'sharp ms': median(b).toFixed(1),
    'ratio ours/sharp': ratio.toFixed(2),
    target: `<= ${target}`,
    met: ratio <= target ? 'yes' : 'NO',
    'ours out': `${outA.width}x${outA.height} ${(outA.data.length / 1024).toFixed(0)} KB`,
    'sharp out': `${outB.info.width}x${outB.info.height} ${(outB.data.length / 1024).toFixed(0)} KB`,
  })
}
console.table(rows)

const rss = [1, 4].map((n) => JSON.parse(execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--rss', String(n)], { encoding: 'utf8' })))
for (const r of rss) {
  console.log(`peak RSS added with ${r.n} x 12 MP in flight: ${r.addedMb.toFixed(1)} MB (${(r.addedMb / r.n).toFixed(1)} MB per image; target < 100 MB)`)
}
