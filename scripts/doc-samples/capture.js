'use strict'

// Preloaded into each sample (`node --require`): records every console call's text with the
// sample's own lines on its stack, as JSON lines in PERSE_DOC_CAPTURE, so that the runner can
// compare what a line printed with what the docs say it prints (outputs.js).

const fs = require('node:fs')

const out = process.env.PERSE_DOC_CAPTURE
const sample = process.env.PERSE_DOC_SAMPLE // the sample's file name without extension
if (out && sample) {
  const frame = new RegExp(`${sample.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:\\.route|\\.test)?\\.[cm]?[jt]s:(\\d+):\\d+`)
  for (const name of ['log', 'info', 'debug', 'warn', 'error', 'dir', 'table', 'trace']) {
    const original = console[name]
    if (typeof original !== 'function') continue
    console[name] = function (...args) {
      const limit = Error.stackTraceLimit
      Error.stackTraceLimit = 100
      const stack = new Error().stack.split('\n').slice(2)
      Error.stackTraceLimit = limit
      const lines = stack.map((l) => frame.exec(l)).filter(Boolean).map((m) => Number(m[1]))
      const stream = ['warn', 'error', 'trace'].includes(name) ? process.stderr : process.stdout
      const write = stream.write
      let text = ''
      stream.write = function (chunk, ...rest) {
        text += String(chunk)
        return write.call(this, chunk, ...rest)
      }
      try {
        return original.apply(this, args)
      } finally {
        stream.write = write
        fs.appendFileSync(out, `${JSON.stringify({ lines, text })}\n`)
      }
    }
  }
}
