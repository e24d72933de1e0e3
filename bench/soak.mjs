// Soak: N detect calls (default 100,000) through the SDK against the in-process local
// server, at concurrency C, printing RSS as it goes and the growth after warm-up.
// Not part of CI:  npm run build && node bench/soak.mjs   (N=... C=... to change)

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

const require = createRequire(import.meta.url)
const { startLocalServer } = require('..')
const here = path.dirname(fileURLToPath(import.meta.url))

const N = Number(process.env.N ?? 100_000)
const C = Number(process.env.C ?? 32)
const WARMUP = Math.min(10_000, Math.floor(N / 10))
const image = readFileSync(path.join(here, '..', '__test__', 'fixtures', 'hopper.jpg'))
const mb = (b) => (b / 2 ** 20).toFixed(1)

const server = await startLocalServer()
const client = server.client()
let done = 0
let failed = 0
let started_ = 0
let baseline = 0
let peak = 0
const started = Date.now()

async function worker() {
  while (started_ < N) {
    const i = started_++
    try {
      const r = await client.detect(image, { enduserConsent: true })
      if (r.totalFaces !== 1) throw new Error('unexpected face count')
      done++
    } catch {
      failed++
    }
    if (i === WARMUP) {
      global.gc?.()
      baseline = process.memoryUsage().rss
    }
    if (i > 0 && i % 10_000 === 0) {
      const m = process.memoryUsage()
      peak = Math.max(peak, m.rss)
      process.stdout.write(`${String(i).padStart(7)} calls  rss ${mb(m.rss)} MB (JS heap ${mb(m.heapTotal)}, external ${mb(m.external)})  ${((Date.now() - started) / 1000).toFixed(0)} s\n`)
    }
  }
}

await Promise.all(Array.from({ length: C }, worker))
global.gc?.()
const end = process.memoryUsage().rss
const secs = (Date.now() - started) / 1000
console.log(`\n${done} ok, ${failed} failed in ${secs.toFixed(0)} s (${(done / secs).toFixed(0)}/s), concurrency ${C}`)
console.log(`RSS after warm-up (${WARMUP} calls): ${mb(baseline)} MB; at the end: ${mb(end)} MB; growth ${mb(end - baseline)} MB (target < 20 MB); peak seen ${mb(peak)} MB`)
client.close()
await server.close()
process.exitCode = failed === 0 && end - baseline < 20 * 2 ** 20 ? 0 : 1
