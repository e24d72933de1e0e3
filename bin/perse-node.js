#!/usr/bin/env node
'use strict'

// perse-node command line: the API calls against the hosted API or the bundled local server,
// and `serve` to run that local server. Exit codes (EXIT, documented in docs/cli.md): 0 ok,
// 1 API or transport error, 2 usage error, 3 a negative verdict (compare: not similar;
// quality: bad quality or no face).

const { parseArgs } = require('node:util')
const path = require('node:path')
const perse = require('../index.js')

const DEFAULT_PORT = 8080
const EXIT = { ok: 0, apiError: 1, usage: 2, negativeVerdict: 3 }

const USAGE = `Usage:
  perse-node serve [--port N] [--host H] [--private-key K] [--token-ttl S] [--data-dir DIR] [--no-face-error] [--log]
                                        run a local Perse-compatible server (default port ${DEFAULT_PORT});
                                        --data-dir keeps enrollments across restarts;
                                        --no-face-error answers a detect without a face with
                                        no_face_detected, as the hosted API may;
                                        --log prints one line per request to stderr
                                        (method, path, status, ms, request id)
                                        (needs the perse-node-local package)
  perse-node detect <image>             faces, boxes and quality metrics
  perse-node quality <image>            the browser SDK's quality verdict (add --spoof-check)
  perse-node compare <a> <b>            similarity of two faces (a or b may be a usr_... user token)
  perse-node enroll <image>             enroll a face; prints its user token
  perse-node update <userToken> <image> replace an enrolled user's face
  perse-node delete <userToken>         delete an enrolled user
  perse-node list                       the enrolled user tokens
  perse-node --version                  the version of perse-node

Options for the calls:
  --local             run against an in-process local server (no account needed)
  --base-url URL      API base URL (default: PERSE_BASE_URL, else https://api.getperse.com/v0)
  --token JWT         session token (default: PERSE_TOKEN); or set PERSE_PRIVATE_KEY
  --prepare MODE      auto (default: orient, convert and shrink when needed), fit, or validate
  --timeout MS        per-attempt time limit
  --json              print the result as JSON

The image calls declare that the end user consented (enduserConsent: true).

Exit codes: ${EXIT.ok} ok; ${EXIT.apiError} API or transport error; ${EXIT.usage} usage error or invalid argument;
${EXIT.negativeVerdict} a negative verdict (compare: not similar; quality: bad quality or no face).`

const COMMANDS = { detect: 1, quality: 1, compare: 2, enroll: 1, update: 2, delete: 1, list: 0 }

class UsageError extends Error {}

/** Edit distance of two short strings (insertions, deletions, substitutions, swaps). */
function distance(a, b) {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) d[0][j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
    }
  }
  return d[a.length][b.length]
}

/** " (did you mean 'x'?)" for the known word closest to `word`, if it is close enough. */
function didYouMean(word, known, quote = (k) => `'${k}'`) {
  const w = word.toLowerCase()
  let best = null
  for (const k of known) {
    const dist = distance(w, k)
    if (dist <= Math.max(1, Math.floor(k.length / 3)) && (!best || dist < best.dist)) best = { k, dist }
  }
  if (!best) best = known.map((k) => ({ k })).find(({ k }) => w.length >= 3 && k.startsWith(w))
  return best ? ` (did you mean ${quote(best.k)}?)` : ''
}

const OPTIONS = {
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
  'no-face-error': { type: 'boolean' },
  log: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
}

function parse(argv) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, options: OPTIONS })
  } catch (e) {
    const unknown = /^Unknown option '--([^'=]+)/.exec(e.message)
    const hint = unknown ? didYouMean(unknown[1], Object.keys(OPTIONS), (k) => `'--${k}'`) : ''
    throw new UsageError(`${e.message.replace(/\. To specify a positional argument.*$/, '')}${hint}`)
  }
}

function int(value, name) {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer`)
  return n
}

async function serve(values) {
  const port = int(values.port, 'port') ?? DEFAULT_PORT
  let server
  try {
    server = await perse.startLocalServer({
      port,
      host: values.host,
      privateKey: values['private-key'],
      tokenTtlSeconds: int(values['token-ttl'], 'token-ttl'),
      dataDir: values['data-dir'],
      noFaceError: values['no-face-error'],
      logRequests: values.log,
    })
  } catch (e) {
    if (perse.isPerseError(e) && e.code === 'network_error' && /in use|os error (48|98|10048)\b/i.test(e.message)) {
      e.message = `port ${port} is in use${values.port === undefined ? ' (the default)' : ''}: pass --port N for another one, or --port 0 for a free one (${e.message})`
    }
    throw e
  }
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

/** The exit code of a call that succeeded: 3 for a negative verdict (compare, quality), else 0. */
function verdictExit(cmd, r) {
  if (cmd === 'compare') return r.similarity >= r.defaultThresholds.similarity ? EXIT.ok : EXIT.negativeVerdict
  if (cmd === 'quality') return r.status ? EXIT.ok : EXIT.negativeVerdict
  return EXIT.ok
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
    client = server.client({ timeoutMs: int(values.timeout, 'timeout') })
  } else {
    // A token (--token or PERSE_TOKEN) and the key from the environment together: the key
    // takes over when the token expires. Credentials left unset are left out, not undefined.
    const token = values.token ?? process.env.PERSE_TOKEN
    client = new perse.PerseClient({
      baseUrl: values['base-url'],
      ...(token ? { token } : {}),
      ...(process.env.PERSE_PRIVATE_KEY ? { privateKey: process.env.PERSE_PRIVATE_KEY } : {}),
      timeoutMs: int(values.timeout, 'timeout'),
    })
  }
  const progress = process.stderr.isTTY ? setTimeout(() => process.stderr.write(`${cmd}: waiting for ${client.baseUrl} ...\n`), 1000) : null
  try {
    const opts = { enduserConsent: true, ...(values.prepare ? { prepare: values.prepare } : {}) }
    const r = await run(client, cmd, positionals, opts, values['spoof-check'])
    process.stdout.write(values.json ? `${JSON.stringify(r, null, 2)}\n` : `${summary(cmd, r)}\n`)
    return verdictExit(cmd, r)
  } catch (e) {
    throw inWords(e, cmd, positionals, client)
  } finally {
    clearTimeout(progress)
    client.close()
    if (server) await server.close()
  }
}

/** The command line's names for the SDK's option names in messages. */
const FLAGS = { timeoutMs: '--timeout', baseUrl: '--base-url', token: '--token', prepare: '--prepare', port: '--port', host: '--host', privateKey: '--private-key', tokenTtlSeconds: '--token-ttl', dataDir: '--data-dir' }

/**
 * A call's PerseError in the terms of this command: its arguments instead of the wire's field
 * names, and for an enrollment that may have been made, what to check before repeating it.
 */
function inWords(e, cmd, [a, b], client) {
  if (!perse.isPerseError(e)) return e
  // A long path keeps its end, where the file name is (deep Windows paths are long).
  const arg = (v) => (typeof v !== 'string' ? '' : v.length > 60 ? `…${v.slice(-59)}` : v)
  const fields =
    cmd === 'compare'
      ? { image_file1: `the first image (${arg(a)})`, image_file2: `the second image (${arg(b)})`, image_token1: `the first user token (${arg(a)})`, image_token2: `the second user token (${arg(b)})` }
      : { image_file: `the image (${arg(cmd === 'update' ? b : a)})`, user_token: `the user token (${arg(a)})` }
  e.message = e.message.replace(/\b(image_file[12]?|image_token[12]|user_token)\b/g, (f) => fields[f] ?? f)
  if (e.code === 'user_token_not_found') {
    const tokens = cmd === 'compare' ? [a, b].filter((v) => side(v) !== v) : [a]
    if (tokens.length) e.message += `: ${tokens.map(arg).join(', ')}`
  }
  const mayHaveHappened = (cmd === 'enroll' || cmd === 'update') && e.attempts > 0 && !e.retryable && ['server_error', 'timeout', 'network_error', 'unexpected_error'].includes(e.code)
  if (mayHaveHappened) {
    e.message += cmd === 'enroll'
      ? "; the enrollment may have been made all the same: check with 'perse-node list' before enrolling again"
      : '; the update may have been made all the same: the user token is unchanged, so repeating it is safe'
  }
  if (e.code === 'unauthorized' && /private key is invalid/.test(e.message) && /\/face(\/|$)/.test(new URL(client.baseUrl).pathname)) {
    e.wrongBaseUrl = `the base URL ${client.baseUrl} ends in an endpoint's path, so the login went to the wrong address: pass the API root, such as https://api.getperse.com/v0 (the server said: ${e.message})`
  }
  return e
}

/** A PerseError in the words of this command line, not of the API. */
function cliMessage(e) {
  const message = e.message.replace(/\b(?:options\.)?(timeoutMs|baseUrl|tokenTtlSeconds|privateKey|dataDir|port|host)\b(?= must| is| has|:)/g, (m, name) => FLAGS[name] ?? m)
  switch (e.code) {
    case 'unauthorized':
      if (e.wrongBaseUrl) return e.wrongBaseUrl
      return /^no credentials:/.test(message)
        ? 'no credentials: pass --token JWT, set PERSE_TOKEN or PERSE_PRIVATE_KEY, or use --local'
        : `the server refused the credentials (${message}): check --token / PERSE_TOKEN / PERSE_PRIVATE_KEY`
    case 'timeout':
    case 'network_error':
    case 'server_error':
    case 'rate_limited':
      return `${message}${e.attempts > 1 ? ` (${e.attempts} attempts)` : ''}`
    default:
      return message
  }
}

async function main(argv) {
  const { values, positionals } = parse(argv)
  const [cmd, ...rest] = positionals
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return EXIT.ok
  }
  if (values.version) {
    process.stdout.write(`${require('../package.json').version}\n`)
    return EXIT.ok
  }
  if (!cmd) throw new UsageError('a command is needed')
  if (cmd === 'serve') return serve(values)
  if (!(cmd in COMMANDS)) throw new UsageError(`unknown command '${cmd}'${didYouMean(cmd, ['serve', ...Object.keys(COMMANDS)])}`)
  return call(cmd, rest, values)
}

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code
  },
  (e) => {
    if (e instanceof UsageError) {
      process.stderr.write(`perse-node: ${e.message}\nRun 'perse-node --help' for usage.\n`)
      process.exitCode = EXIT.usage
    } else if (perse.isPerseError(e)) {
      process.stderr.write(`perse-node: ${e.code}: ${cliMessage(e)}\n`)
      process.exitCode = e.code === 'invalid_argument' || e.code === 'consent_required' ? EXIT.usage : EXIT.apiError
    } else {
      process.stderr.write(`perse-node: ${e && e.stack ? e.stack : e}\n`)
      process.exitCode = EXIT.apiError
    }
  },
)
