'use strict'

// One child process whose output (stdout and stderr, interleaved as written) goes to a log file,
// for the scripts that run several at once (build:targets' lanes, test:node-versions' suites)
// and print each one's output whole when it ends, never interleaved with another's.

const { spawn } = require('node:child_process')
const fs = require('node:fs')

/**
 * Runs `argv[0]` with `argv[1..]`, output to `log`. Resolves (never rejects) with
 * `{ status, signal, output }` when it ends: `status` null and `signal` the message when it could
 * not be started; `output` is the log's text.
 */
function runLogged(argv, options, log) {
  return new Promise((resolve) => {
    const out = fs.openSync(log, 'w')
    let ended = false
    // A child that cannot start emits 'error' and then 'close': the first one settles.
    const done = (status, signal) => {
      if (ended) return
      ended = true
      fs.closeSync(out)
      resolve({ status, signal, output: fs.readFileSync(log, 'utf8') })
    }
    const child = spawn(argv[0], argv.slice(1), { ...options, stdio: ['ignore', out, out] })
    child.on('error', (e) => done(null, e.message))
    child.on('close', done)
  })
}

module.exports = { runLogged }
