'use strict'

// Runs a script in a child Node process, for attacks that could crash or hang the process
// (a crash must fail the test, not kill the ava worker) and for per-process settings such as
// proxy variables or --expose-gc. The script is an async function body; it may `require`
// the package as `perse` and the test helpers as `helpers`, and reports with `report(value)`.

const { spawn } = require('node:child_process')
const path = require('node:path')

const ROOT = path.join(__dirname, '..', '..')

/**
 * Resolves with `{ code, signal, report, stdout, stderr, ms }`. `report` is the value the
 * script passed to `report()` (JSON), or undefined. A child still running after `timeoutMs`
 * is killed (SIGKILL) and resolves with `signal: 'SIGKILL'`.
 */
function runChild(body, { env = {}, args = [], timeoutMs = 60_000 } = {}) {
  const prelude = `
    const perse = require(${JSON.stringify(ROOT)});
    const helpers = { dir: ${JSON.stringify(__dirname)}, fixtures: ${JSON.stringify(path.join(ROOT, '__test__', 'fixtures'))} };
    const report = (v) => process.stdout.write('\\n@@REPORT@@' + JSON.stringify(v) + '\\n');
    const rssMb = () => Math.round(process.memoryUsage().rss / 1048576);
    const maxRssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);
    // Anonymous memory (heap, buffers), sampled every 5 ms while watchMemory is on: unlike the
    // RSS peak, it does not count pages of mapped files, which the kernel may fault in or
    // collapse into huge pages at any time (a debug .node is 200 MB).
    const anonMb = () => { try { return Math.round(Number(/RssAnon:\\s+(\\d+)/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1]) / 1024) } catch { return rssMb() } };
    const watchMemory = () => { const base = anonMb(); let peak = base; const timer = setInterval(() => { peak = Math.max(peak, anonMb()) }, 5); return () => { clearInterval(timer); return Math.max(peak, anonMb()) - base } };
    (async () => {\n${body}\n})().catch((e) => { console.error('child failed:', e); process.exitCode = 99 });`
  const started = Date.now()
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...args, '-e', prelude], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    // 'close', not 'exit': 'exit' can come before the pipes are drained, losing the report.
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const m = /@@REPORT@@(.*)\n/.exec(stdout)
      resolve({ code, signal, report: m ? JSON.parse(m[1]) : undefined, stdout, stderr, ms: Date.now() - started })
    })
  })
}

module.exports = { runChild, ROOT }
