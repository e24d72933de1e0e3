#!/usr/bin/env node
'use strict'

// perse-node command line: the API calls against the hosted API or the bundled local server,
// and `serve` to run that local server. Exit codes: 0 ok, 1 API error, 2 usage error.

const { parseArgs } = require('node:util')
const path = require('node:path')
const perse = require('../index.js')

const DEFAULT_PORT = 8080

const USAGE = `Usage:
  perse-node serve [--port N] [--host H] [--private-key K] [--token-ttl S] [--data-dir DIR]
                                        run a local Perse-compatible server (default port ${DEFAULT_PORT});
                                        --data-dir keeps enrollments across restarts
                                        (needs the perse-node-local package)
  perse-node detect <image>             faces, boxes and quality metrics
  perse-node quality <image>            the browser SDK's quality verdict (add --spoof-check)
  perse-node compare <a> <b>            similarity of two faces (a or b may be a usr_... user token)
  perse-node enroll <image>             enroll a face; prints its user token
  perse-node update <userToken> <image> replace an enrolled user's face
  perse-node delete <userToken>         delete an enrolled user
  perse-node list                       the enrolled user tokens

Options for the calls:
  --local             run against an in-process local server (no account needed)
  --base-url URL      API base URL (default: PERSE_BASE_URL, else https://api.getperse.com/v0)
  --token JWT         session token (default: PERSE_TOKEN); or set PERSE_PRIVATE_KEY
  --prepare MODE      auto (default: orient, convert and shrink when needed), fit, or validate
  --timeout MS        per-attempt time limit
  --json              print the result as JSON

The image calls declare that the end user consented (enduserConsent: true).`

const COMMANDS = { detect: 1, quality: 1, compare: 2, enroll: 1, update: 2, delete: 1, list: 0 }

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
        prepare: { type: 'string' },
        'spoof-check': { type: 'boolean' },
        port: { type: 'string' },
        host: { type: 'string' },
        'private-key': { type: 'string' },
        'token-ttl': { type: 'string' },
        'data-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    })
  } catch (e) {
    throw new UsageError(e.message.replace(/\. To specify a positional argument.*$/, ''))
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
    port: int(values.port, 'port') ?? DEFAULT_PORT,
    host: values.host,
    privateKey: values['private-key'],
    tokenTtlSeconds: int(values['token-ttl'], 'token-ttl'),
    dataDir: values['data-dir'],
  })
  process.stdout.write(
    `Perse local server listening on ${server.url}\n` +
      `Point the SDK at it (in another shell):\n` +
      `  export PERSE_BASE_URL=${server.url}\n` +
      `  export PERSE_PRIVATE_KEY=${server.privateKey}\n` +
      (values['data-dir'] ? `Enrollments are kept in ${path.resolve(values['data-dir'], 'enrollments.redb')}.\n` : '') +
      `Press Ctrl+C to stop.\n`,
  )
  const keepAlive = setInterval(() => {}, 1 << 30)
  const stop = async () => {
    clearInterval(keepAlive)
    await server.close()
    process.exit(0)
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

const side = (v) => (/^usr_[\w-]+$/.test(v) ? { userToken: v } : v)

function summary(cmd, r) {
  switch (cmd) {
    case 'detect': {
      const up = r.uploaded
      const lines = [`${r.totalFaces} face(s) found in ${r.timeTaken}s${up ? ` (uploaded ${up.width}x${up.height} ${up.format}, ${up.bytes} bytes)` : ''}`]
      r.faces.forEach((f, i) => {
        const m = f.faceMetrics
        lines.push(`  face ${i + 1}: box [${f.boundingBox.join(', ')}]  underexposure ${m.underexposure}  overexposure ${m.overexposure}  sharpness ${m.sharpness}  liveness ${f.livenessScore}`)
      })
      return lines.join('\n')
    }
    case 'quality':
      return [`${r.code}: ${r.message}`, ...r.detailedFaces.map((f, i) => `  face ${i + 1}: ${['isUnderexposed', 'isOverexposed', 'isBlurred', 'isSpoofing'].filter((k) => f[k]).join(', ') || 'ok'}`)].join('\n')
    case 'compare':
      return `similarity ${r.similarity} (threshold ${r.defaultThresholds.similarity}): ${r.similarity >= r.defaultThresholds.similarity ? 'similar' : 'not similar'}`
    case 'enroll':
    case 'update':
      return `${cmd === 'enroll' ? 'enrolled' : 'updated'}: userToken ${r.userToken}`
    case 'delete':
      return 'deleted'
    default:
      return r.userTokens.length ? r.userTokens.join('\n') : '(no enrolled users)'
  }
}

function run(client, cmd, [a, b], opts, spoofCheck) {
  switch (cmd) {
    case 'detect':
      return client.detect(a, opts)
    case 'quality':
      return spoofCheck ? client.qualityWithSpoofCheck(a, opts) : client.quality(a, opts)
    case 'compare':
      return client.compare(side(a), side(b), opts)
    case 'enroll':
      return client.enroll(a, opts)
    case 'update':
      return client.enrollment.update(a, b, opts)
    case 'delete':
      return client.enrollment.delete(a)
    default:
      return client.enrollment.list()
  }
}

async function call(cmd, positionals, values) {
  if (positionals.length !== COMMANDS[cmd]) throw new UsageError(`${cmd} takes ${COMMANDS[cmd]} argument(s), got ${positionals.length}`)
  if (values.prepare !== undefined && !['auto', 'fit', 'validate'].includes(values.prepare)) throw new UsageError('--prepare must be auto, fit or validate')
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
    const opts = { enduserConsent: true, ...(values.prepare ? { prepare: values.prepare } : {}) }
    const r = await run(client, cmd, positionals, opts, values['spoof-check'])
    process.stdout.write(values.json ? `${JSON.stringify(r, null, 2)}\n` : `${summary(cmd, r)}\n`)
  } finally {
    clearTimeout(progress)
    client.close()
    if (server) await server.close()
  }
}

/** A PerseError in the words of this command line, not of the API. */
function cliMessage(e) {
  switch (e.code) {
    case 'unauthorized':
      return /no session token/.test(e.message)
        ? 'no credentials: pass --token JWT, set PERSE_TOKEN or PERSE_PRIVATE_KEY, or use --local'
        : `the server refused the credentials (${e.message}): check --token / PERSE_TOKEN / PERSE_PRIVATE_KEY`
    case 'timeout':
    case 'network_error':
    case 'server_error':
    case 'rate_limited':
      return `${e.message}${e.attempts > 1 ? ` (${e.attempts} attempts)` : ''}`
    default:
      return e.message
  }
}

async function main(argv) {
  const { values, positionals } = parse(argv)
  const [cmd, ...rest] = positionals
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  if (!cmd) throw new UsageError('a command is needed')
  if (cmd === 'serve') return serve(values)
  if (!(cmd in COMMANDS)) throw new UsageError(`unknown command '${cmd}'`)
  await call(cmd, rest, values)
  return 0
}

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code
  },
  (e) => {
    if (e instanceof UsageError) {
      process.stderr.write(`perse-node: ${e.message}\nRun 'perse-node --help' for usage.\n`)
      process.exitCode = 2
    } else if (perse.isPerseError(e)) {
      process.stderr.write(`perse-node: ${e.code}: ${cliMessage(e)}\n`)
      process.exitCode = e.code === 'invalid_argument' || e.code === 'consent_required' ? 2 : 1
    } else {
      process.stderr.write(`perse-node: ${e && e.stack ? e.stack : e}\n`)
      process.exitCode = 1
    }
  },
)
