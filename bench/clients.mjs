// npm run bench:clients — what a client per call costs (issue 22): N `enrollment.list()`
// calls at concurrency C against a local server in another process, made (a) on one shared
// client and (b) each on a new PerseClient that is never closed, as a Next.js route handler
// that writes `new PerseClient()` inside the handler does. Rounds alternate the two. Prints,
// per mode: calls/s, p50/p99/max latency, the most descriptors the process had open, and how
// many times the clients logged in (each round starts with expired tokens); then the ratio
// per-call / shared.
//
//   N=10000 C=32 ROUNDS=3 node --expose-gc bench/clients.mjs     (after `npm run build`)

import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

const require = createRequire(import.meta.url)
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')
const { PerseClient, controlLocalServer } = require('..')

const N = Number(process.env.N ?? 10_000)
const C = Number(process.env.C ?? 32)
const ROUNDS = Number(process.env.ROUNDS ?? 3)

// The server in its own process: its sockets must not count as the client's descriptors.
// A listening server does not keep its process alive by itself: the interval does, until kill().
const server = spawn(process.execPath, ['-e', `setInterval(() => {}, 1000); require(${JSON.stringify(root)}).startLocalServer().then((s) => console.log(JSON.stringify({ url: s.url, key: s.privateKey })))`], {
  stdio: ['ignore', 'pipe', 'inherit'],
})
const { url, key } = await new Promise((resolve) => server.stdout.once('data', (d) => resolve(JSON.parse(String(d)))))
const control = controlLocalServer({ url, privateKey: key })
const opts = { baseUrl: url, privateKey: key }

const fds = () => readdirSync('/proc/self/fd').length

/** Logins in the server's log (it keeps the last 10,000 requests: read it before it wraps). */
const logins = async () => (await control.requests()).filter((r) => r.path.endsWith('/login')).length

async function run(mode) {
  // Every round starts with expired tokens, so each must log in again: once, if sessions are shared.
  await control.expireTokens()
  await control.reset()
  const shared = mode === 'shared' ? new PerseClient(opts) : null
  const latencies = new Float64Array(N)
  let next = 0
  let maxFds = fds()
  const sampler = setInterval(() => (maxFds = Math.max(maxFds, fds())), 10)
  const phase = (end) =>
    Promise.all(
      Array.from({ length: C }, async () => {
        while (next < end) {
          const i = next++
          const t0 = performance.now()
          await (shared ?? new PerseClient(opts)).enrollment.list()
          latencies[i] = performance.now() - t0
        }
      }),
    )
  const first = Math.min(N, 2000)
  let started = performance.now()
  await phase(first)
  let ms = performance.now() - started
  const loggedIn = await logins()
  started = performance.now()
  await phase(N)
  ms += performance.now() - started
  clearInterval(sampler)
  shared?.close()
  latencies.sort()
  const q = (p) => latencies[Math.min(N - 1, Math.floor(p * N))]
  globalThis.gc?.()
  return { mode, perSec: Math.round((N / ms) * 1000), p50: q(0.5), p99: q(0.99), max: latencies[N - 1], maxFds: Math.max(maxFds, fds()), logins: loggedIn }
}

const results = { shared: [], 'per-call': [] }
for (let r = 0; r < ROUNDS; r++) {
  for (const mode of r % 2 === 0 ? ['shared', 'per-call'] : ['per-call', 'shared']) {
    const x = await run(mode)
    results[mode].push(x)
    process.stdout.write(`round ${r + 1} ${mode.padEnd(8)} ${String(x.perSec).padStart(6)} calls/s  p50 ${x.p50.toFixed(1)} ms  p99 ${x.p99.toFixed(1)} ms  max ${x.max.toFixed(0)} ms  fds ${x.maxFds}  logins ${x.logins}\n`)
  }
}
const median = (xs, k) => xs.map((x) => x[k]).sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const worst = (xs, k) => Math.max(...xs.map((x) => x[k]))
process.stdout.write(`\nN=${N} C=${C}, ${ROUNDS} rounds (median calls/s and p99; worst max, fds and logins)\n`)
for (const mode of ['shared', 'per-call']) {
  const xs = results[mode]
  process.stdout.write(`${mode.padEnd(8)} ${String(median(xs, 'perSec')).padStart(6)} calls/s  p99 ${median(xs, 'p99').toFixed(1)} ms  max ${worst(xs, 'max').toFixed(0)} ms  fds ${worst(xs, 'maxFds')}  logins ${worst(xs, 'logins')}\n`)
}
process.stdout.write(`per-call / shared throughput: ${(median(results['per-call'], 'perSec') / median(results.shared, 'perSec')).toFixed(2)}\n`)
server.kill()
