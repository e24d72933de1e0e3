#!/usr/bin/env node
'use strict'

// perse-node command line: detect, compare, enroll against the API or the bundled local
// server, and `serve` to run that local server. Exit codes: 0 ok, 1 API error, 2 usage error.

const { parseArgs } = require('node:util')
const perse = require('../index.js')

const USAGE = `Usage:
  perse-node serve [--port N] [--host H] [--private-key K] [--token-ttl S]
  perse-node detect <image> [options]
  perse-node compare <a> <b> [options]      (a or b may be usr_... user tokens)
  perse-node enroll <image> [options]

Options for detect / compare / enroll:
  --json              print the raw result as JSON
  --local             run against an in-process local server
  --base-url URL      API base URL (default: PERSE_BASE_URL or https://api.getperse.com/v0)
  --token JWT         session token (default: PERSE_TOKEN); or set PERSE_PRIVATE_KEY
  --timeout MS        per-attempt timeout

The image calls declare that the end user consented (enduserConsent: true).`

class UsageError extends Error {}

function parse(argv) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        local: { type: 'boolean' },
        'base-url': { type: 'string' },
        token: { type: 'string' },
        timeout: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        'private-key': { type: 'string' },
        'token-ttl': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    })
  } catch (e) {
    throw new UsageError(e.message)
  }
}

function int(value, name) {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer`)
  return n
}

async function serve(values) {
  const server = await perse.startLocalServer({
    port: int(values.port, 'port') ?? 8080,
    host: values.host,
    privateKey: values['private-key'],
    tokenTtlSeconds: int(values['token-ttl'], 'token-ttl'),
  })
  process.stdout.write(`Perse local server listening\n  baseUrl:    ${server.url}\n  privateKey: ${server.privateKey}\nPress Ctrl+C to stop.\n`)
  const keepAlive = setInterval(() => {}, 1 << 30)
  const stop = async () => {
    clearInterval(keepAlive)
    await server.close()
    process.exit(0)
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

function side(v) {
  return /^usr_[\w-]+$/.test(v) ? { userToken: v } : v
}

function summary(cmd, r) {
  if (cmd === 'detect') {
    const lines = [`${r.totalFaces} face(s) found in ${r.timeTaken}s`]
    r.faces.forEach((f, i) => {
      const m = f.faceMetrics
      lines.push(`  face ${i + 1}: box [${f.boundingBox.join(', ')}]  underexposure ${m.underexposure}  overexposure ${m.overexposure}  sharpness ${m.sharpness}  liveness ${f.livenessScore}`)
    })
    return lines.join('\n')
  }
  if (cmd === 'compare') {
    const verdict = r.similarity >= r.defaultThresholds.similarity ? 'similar' : 'not similar'
    return `similarity ${r.similarity} (threshold ${r.defaultThresholds.similarity}): ${verdict}`
  }
  return `enrolled: userToken ${r.userToken}`
}

async function call(cmd, positionals, values) {
  const need = cmd === 'compare' ? 2 : 1
  if (positionals.length !== need) throw new UsageError(`${cmd} takes ${need} argument(s)`)
  let server = null
  let client
  if (values.local) {
    server = await perse.startLocalServer()
    client = server.client()
  } else {
    client = new perse.PerseClient({
      baseUrl: values['base-url'],
      token: values.token ?? (process.env.PERSE_TOKEN || undefined),
      privateKey: process.env.PERSE_PRIVATE_KEY || undefined,
      timeoutMs: int(values.timeout, 'timeout'),
    })
  }
  const progress = process.stderr.isTTY ? setTimeout(() => process.stderr.write(`${cmd}: waiting for ${client.baseUrl} ...\n`), 1000) : null
  try {
    const opts = { enduserConsent: true }
    const r =
      cmd === 'detect'
        ? await client.detect(positionals[0], opts)
        : cmd === 'compare'
          ? await client.compare(side(positionals[0]), side(positionals[1]), opts)
          : await client.enroll(positionals[0], opts)
    process.stdout.write(values.json ? `${JSON.stringify(r, null, 2)}\n` : `${summary(cmd, r)}\n`)
  } finally {
    clearTimeout(progress)
    client.close()
    if (server) await server.close()
  }
}

async function main(argv) {
  const { values, positionals } = parse(argv)
  const [cmd, ...rest] = positionals
  if (values.help || !cmd) {
    process.stdout.write(`${USAGE}\n`)
    return values.help ? 0 : 2
  }
  if (cmd === 'serve') return serve(values)
  if (!['detect', 'compare', 'enroll'].includes(cmd)) throw new UsageError(`unknown command '${cmd}'`)
  await call(cmd, rest, values)
  return 0
}

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code
  },
  (e) => {
    if (e instanceof UsageError) {
      process.stderr.write(`perse-node: ${e.message}\n\n${USAGE}\n`)
      process.exitCode = 2
    } else if (perse.isPerseError(e)) {
      process.stderr.write(`perse-node: ${e.code}: ${e.message}\n`)
      process.exitCode = e.code === 'invalid_argument' || e.code === 'consent_required' ? 2 : 1
    } else {
      process.stderr.write(`perse-node: ${e && e.stack ? e.stack : e}\n`)
      process.exitCode = 1
    }
  },
)
