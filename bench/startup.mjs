// require('perse-node') time (median of 20 fresh processes) and the size of the stripped
// .node binary.   node bench/startup.mjs   (after `npm run build`)

import { execFileSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')
const RUNS = Number(process.env.RUNS ?? 20)
const probe = (what) =>
  `const t=process.hrtime.bigint();${what};process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

function time(code) {
  const xs = []
  for (let i = 0; i < RUNS; i++) xs.push(Number(execFileSync(process.execPath, ['-e', code], { cwd: root, encoding: 'utf8' })))
  return median(xs)
}

const req = time(probe(`require(${JSON.stringify(root)})`))
const firstClient = time(probe(`new (require(${JSON.stringify(root)}).PerseClient)().close()`))
const node = readdirSync(root).find((f) => /^perse-node\..*\.node$/.test(f))
const size = node ? statSync(path.join(root, node)).size : NaN
console.log(`require('perse-node'): ${req.toFixed(2)} ms median of ${RUNS} fresh processes (target < 20 ms)`)
console.log(`require + first client (loads the native binary): ${firstClient.toFixed(2)} ms`)
console.log(`${node}: ${(size / 2 ** 20).toFixed(2)} MB stripped, local server included (target < 8 MB)`)
