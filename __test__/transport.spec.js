'use strict'

// Transport rules: TLS certificates are verified, plain http is refused off loopback before
// anything is sent, HTTP(S)_PROXY / NO_PROXY are honoured off loopback, and loopback never
// goes through a proxy (checked in child processes: the proxy environment is read when a
// client is created).

const test = require('ava')
const fs = require('node:fs')
const http = require('node:http')
const https = require('node:https')
const path = require('node:path')
const { spawn } = require('node:child_process')

const { PerseClient, isPerseError } = require('..')

const TLS = path.join(__dirname, 'fixtures', 'tls')
const ROOT = path.join(__dirname, '..')

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)))
}

test('an untrusted (self-signed) certificate is refused with network_error', async (t) => {
  let requests = 0
  const server = https.createServer({ key: fs.readFileSync(path.join(TLS, 'self-signed.key')), cert: fs.readFileSync(path.join(TLS, 'self-signed.crt')) }, (req, res) => {
    requests++
    res.end('{}')
  })
  const port = await listen(server)
  const c = new PerseClient({ baseUrl: `https://localhost:${port}/v0`, token: 'a.b.c', maxRetries: 0 })
  const e = await t.throwsAsync(c.enrollment.list())
  t.true(isPerseError(e))
  t.is(e.code, 'network_error')
  t.regex(e.message, /certificate|UnknownIssuer|invalid peer/i)
  t.is(requests, 0, 'no request got through the handshake')
  c.close()
  server.close()
})

test('http:// off loopback is refused before a byte is sent', (t) => {
  for (const baseUrl of ['http://api.getperse.com/v0', 'http://192.0.2.10/v0', 'http://[2001:db8::1]/v0']) {
    const e = t.throws(() => new PerseClient({ baseUrl }))
    t.is(e.code, 'invalid_argument')
    t.regex(e.message, /https/)
  }
})

/** Runs `enrollment.list()` in a child process with `env`; resolves with its result code. */
function listInChild(baseUrl, env) {
  const script = `
    const { PerseClient } = require(${JSON.stringify(ROOT)});
    const c = new PerseClient({ baseUrl: ${JSON.stringify(baseUrl)}, token: 'a.b.c', maxRetries: 0, timeoutMs: 5000 });
    c.enrollment.list().then(() => console.log('ok'), (e) => console.log(e.code)).finally(() => c.close())`
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', script], { env: { PATH: process.env.PATH, ...env } })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.on('close', () => resolve(out.trim())) // after stdout has been read
  })
}

test('HTTPS_PROXY is honoured off loopback, NO_PROXY bypasses it, and loopback never uses it', async (t) => {
  const seenByProxy = []
  // A forward proxy that records what it is asked for and refuses to tunnel.
  const proxy = http.createServer((req, res) => {
    seenByProxy.push(req.url)
    res.writeHead(502)
    res.end()
  })
  proxy.on('connect', (req, socket) => {
    seenByProxy.push(`CONNECT ${req.url}`)
    socket.end('HTTP/1.1 502 Bad Gateway\r\n\r\n')
  })
  let direct = 0
  const origin = http.createServer((req, res) => {
    direct++
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ user_tokens: [], total_users: 0, time_taken: 0 }))
  })
  const proxyPort = await listen(proxy)
  const originPort = await listen(origin)
  const viaProxy = { HTTPS_PROXY: `http://127.0.0.1:${proxyPort}`, HTTP_PROXY: `http://127.0.0.1:${proxyPort}` }
  const remote = 'https://api.perse.invalid/v0'
  t.is(await listInChild(remote, viaProxy), 'network_error')
  t.deepEqual(seenByProxy, ['CONNECT api.perse.invalid:443'], 'the proxy was asked to tunnel to the remote host')
  t.is(await listInChild(remote, { ...viaProxy, NO_PROXY: 'api.perse.invalid' }), 'network_error')
  t.is(seenByProxy.length, 1, 'NO_PROXY: the proxy saw nothing more')
  t.is(await listInChild(`http://127.0.0.1:${originPort}/v0`, viaProxy), 'ok')
  t.is(await listInChild(`http://localhost:${originPort}/v0`, viaProxy), 'ok')
  t.is(seenByProxy.length, 1, 'loopback: the proxy saw nothing')
  t.is(direct, 2)
  proxy.close()
  origin.close()
})
