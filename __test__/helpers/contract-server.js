'use strict'

// A contract test double of the Perse API: it records every request (method, path, headers,
// multipart parts parsed from the raw bytes) so tests can assert the exact wire format, and
// answers with contract-shaped snake_case bodies. It issues and checks real HS256 JWTs, so
// token expiry and refresh can be tested. It is not the local server (crates/perse-local),
// which does real image analysis.

const http = require('node:http')
const crypto = require('node:crypto')

function b64url(buf) {
  return Buffer.from(buf).toString('base64url')
}

/** Mints and verifies HS256 JWTs with a secret of its own (one per server). */
function tokenIssuer() {
  let secret = crypto.randomBytes(32)
  const sign = (data) => b64url(crypto.createHmac('sha256', secret).update(data).digest())
  return {
    /** A signed JWT with `exp` = now + ttlSeconds and `iat` = exp - lifetimeSeconds. */
    mint({ ttlSeconds = 900, lifetimeSeconds, sub = 'test' } = {}) {
      const now = Math.floor(Date.now() / 1000)
      const exp = now + ttlSeconds
      const iat = exp - (lifetimeSeconds ?? Math.max(ttlSeconds, 1))
      const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))
      const body = b64url(JSON.stringify({ sub, iat, exp, jti: crypto.randomUUID() }))
      return `${head}.${body}.${sign(`${head}.${body}`)}`
    },
    verify(token) {
      const parts = String(token).split('.')
      if (parts.length !== 3 || sign(`${parts[0]}.${parts[1]}`) !== parts[2]) return false
      const { exp } = JSON.parse(Buffer.from(parts[1], 'base64url').toString())
      return exp > Date.now() / 1000
    },
    /** Invalidates every token issued so far (the server-side view of expiry or revocation). */
    revokeAll() {
      secret = crypto.randomBytes(32)
    },
  }
}

/** Parses a multipart/form-data body into parts: {name, filename, contentType, data}. */
function parseMultipart(body, contentType) {
  const m = /boundary=([^;]+)/.exec(contentType || '')
  if (!m) return null
  const delimiter = Buffer.from(`--${m[1]}`)
  const parts = []
  let pos = body.indexOf(delimiter)
  if (pos !== 0) return null
  while (pos !== -1) {
    const start = pos + delimiter.length
    if (body.slice(start, start + 2).toString() === '--') break
    const headerEnd = body.indexOf('\r\n\r\n', start)
    const next = body.indexOf(delimiter, headerEnd)
    if (headerEnd === -1 || next === -1) return null
    const headers = body.slice(start + 2, headerEnd).toString()
    const data = body.slice(headerEnd + 4, next - 2)
    const name = /name="([^"]*)"/.exec(headers)?.[1]
    const filename = /filename="([^"]*)"/.exec(headers)?.[1]
    const ct = /Content-Type: ([^\r\n]+)/i.exec(headers)?.[1]
    parts.push({ name, filename, contentType: ct, data })
    pos = next
  }
  return parts
}

const METRICS = { underexposure: 0.05, overexposure: 0.1, sharpness: 0.8, color: 0.02, rotation: 4 }
const THRESHOLDS = { underexposure: 0.5, overexposure: 0.5, sharpness: 0.3, liveness: 0.5 }

function detectBody() {
  return {
    total_faces: 1,
    faces: [
      {
        bounding_box: [180, 40, 120, 150],
        landmarks: { right_eye: [210, 90], left_eye: [260, 90], nose: [235, 120], mouth_right: [215, 150], mouth_left: [255, 150] },
        face_metrics: METRICS,
        liveness_score: 0.93,
        added_later: { anything: true },
      },
    ],
    image_metrics: { underexposure: 0.03, overexposure: 0.12, sharpness: 0.7 },
    time_taken: 0.123,
    default_thresholds: THRESHOLDS,
    status: true,
  }
}

/**
 * Starts the double on a random loopback port.
 * options.privateKey: the key /login accepts; options.tokenTtlSeconds: lifetime of issued tokens.
 */
async function startContractServer(options = {}) {
  const privateKey = options.privateKey ?? 'sk_test_contract_private_key_0123456789'
  const issuer = tokenIssuer()
  const state = {
    requests: [],
    scripted: [],
    logins: 0,
    tokenTtlSeconds: options.tokenTtlSeconds ?? 900,
    users: new Set(),
    delayMs: 0,
  }

  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const url = new URL(req.url, 'http://x')
      const record = {
        method: req.method,
        path: url.pathname,
        headers: req.headers,
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        body,
        parts: (req.headers['content-type'] || '').startsWith('multipart/form-data') ? parseMultipart(body, req.headers['content-type']) : null,
      }
      state.requests.push(record)
      const reply = (status, json, headers = {}) => {
        const send = () => {
          res.writeHead(status, { 'content-type': 'application/json', ...headers })
          res.end(typeof json === 'string' ? json : JSON.stringify(json))
        }
        if (state.delayMs > 0) setTimeout(send, state.delayMs)
        else send()
      }
      const scripted = state.scripted.shift()
      if (scripted) {
        if (typeof scripted === 'function') return scripted(req, res, record)
        return reply(scripted.status, scripted.body ?? '', scripted.headers)
      }
      route(record, reply)
    })
  })

  function fields(record) {
    const out = {}
    for (const p of record.parts || []) out[p.name] = p.filename !== undefined ? p : p.data.toString()
    return out
  }

  function route(record, reply) {
    const p = record.path
    if (record.method === 'POST' && p === '/v0/login') {
      state.logins++
      let key
      try {
        key = JSON.parse(record.body.toString()).privateKey
      } catch {
        key = undefined // not JSON: answered as a missing key
      }
      if (!key) return reply(400, { message: 'privateKey is required', code: 'invalid_argument', status: false })
      if (key !== privateKey) return reply(401, { message: `invalid private key ${key}`, code: 'unauthorized', status: false })
      return reply(200, { token: issuer.mint({ ttlSeconds: state.tokenTtlSeconds }) })
    }
    const auth = /^Bearer (.+)$/.exec(record.authorization || '')
    if (!auth || !issuer.verify(auth[1])) return reply(401, { message: 'Unauthorized', code: 'unauthorized', status: false })
    const f = fields(record)
    if (record.method === 'POST' && p === '/v0/face/detect') return reply(200, detectBody())
    if (record.method === 'POST' && p === '/v0/face/compare') {
      for (const i of [1, 2]) {
        const t = f[`image_token${i}`]
        if (t !== undefined && !state.users.has(t)) return reply(400, { message: 'User token not found', code: 'user_token_not_found', status: false })
      }
      return reply(200, { similarity: 0.91, time_taken: 0.2, default_thresholds: { similarity: 0.75 }, status: true })
    }
    if (p === '/v0/face/enrollment' && (record.method === 'POST' || record.method === 'PUT')) {
      let token = f.user_token
      if (record.method === 'PUT' && !state.users.has(token)) return reply(400, { message: 'User token not found', code: 'user_token_not_found', status: false })
      if (record.method === 'POST') token = `usr_${crypto.randomUUID()}`
      state.users.add(token)
      return reply(200, { user_token: token, time_taken: 0.3, status: true })
    }
    if (record.method === 'GET' && p === '/v0/face/enrollment/list') {
      return reply(200, { user_tokens: [...state.users], total_users: state.users.size, time_taken: 0.01, status: true })
    }
    if (record.method === 'DELETE' && p.startsWith('/v0/face/enrollment/')) {
      const token = decodeURIComponent(p.slice('/v0/face/enrollment/'.length))
      if (!state.users.delete(token)) return reply(400, { message: 'User token not found', code: 'user_token_not_found', status: false })
      return reply(200, { time_taken: 0.01, status: true })
    }
    return reply(404, { message: 'not found', code: 'not_found', status: false })
  }

  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  return {
    url: `http://127.0.0.1:${port}/v0`,
    privateKey,
    state,
    get requests() {
      return state.requests
    },
    /** Queues raw answers ({status, body, headers} or a (req, res) handler) for the next requests. */
    script(...answers) {
      state.scripted.push(...answers)
    },
    mintToken: (o) => issuer.mint(o),
    revokeAllTokens: () => issuer.revokeAll(),
    fields,
    close: () => new Promise((resolve) => {
      server.closeAllConnections?.()
      server.close(() => resolve())
    }),
  }
}

module.exports = { startContractServer, parseMultipart }
