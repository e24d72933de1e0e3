'use strict'

// TLS like Node, and more (issue 23): a server whose certificate a private CA signed (a
// TLS-inspecting corporate proxy's, a staging server's) is reached through each of the three
// ways to trust that CA: the `ca` option, NODE_EXTRA_CA_CERTS, and the OS trust store (on
// Linux, the bundle that SSL_CERT_FILE names, as OpenSSL and rustls-native-certs read it).
// Without any of them, the certificate is refused. CA and server are made in each test.

const test = require('ava')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { PerseClient } = require('..')
const { runChild } = require('./helpers/child')
const { rejects, throwsPerse } = require('./helpers/assert')
const { privateCa, httpsListServer } = require('./helpers/tls')

let ca
let server
let dir
test.before(async () => {
  ca = privateCa()
  server = await httpsListServer(ca)
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'perse-tls-'))
  fs.writeFileSync(path.join(dir, 'ca.pem'), ca.caPem)
})
test.after.always(async () => {
  await server?.close()
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

/** `enrollment.list()` on the private-CA server in a fresh process with `env` and client options. */
async function listIn(env, options = '{}') {
  const r = await runChild(
    `const c = new perse.PerseClient({ baseUrl: ${JSON.stringify(server.url)}, token: 'a.b.c', maxRetries: 0, ...${options} });
    const out = await c.enrollment.list().then((x) => 'ok ' + x.totalUsers, (e) => e.code + ': ' + e.message);
    c.close();
    report(out);`,
    { env },
  )
  return r.report ?? `child failed: ${r.stderr}`
}

test('without the private CA the certificate is refused', async (t) => {
  const c = new PerseClient({ baseUrl: server.url, token: 'a.b.c', maxRetries: 0 })
  t.teardown(() => c.close())
  const e = await rejects(t, c.enrollment.list(), 'network_error')
  t.regex(e.message, /certificate|UnknownIssuer|invalid peer/i)
})

test('the ca option (PEM text) trusts the private CA', async (t) => {
  const c = new PerseClient({ baseUrl: server.url, token: 'a.b.c', maxRetries: 0, ca: ca.caPem })
  t.teardown(() => c.close())
  t.is((await c.enrollment.list()).totalUsers, 0)
  // Another client without it, in the same process, is still refused: pools are per trust.
  const other = new PerseClient({ baseUrl: server.url, token: 'a.b.c', maxRetries: 0 })
  t.teardown(() => other.close())
  await rejects(t, other.enrollment.list(), 'network_error')
})

test('NODE_EXTRA_CA_CERTS trusts the private CA, as it does for Node', async (t) => {
  t.is(await listIn({ NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.pem') }), 'ok 0')
})

test('the OS trust store is read (SSL_CERT_FILE on Linux)', async (t) => {
  if (process.platform !== 'linux') return t.pass('the OS store is read on Linux and Windows; this check sets it up through SSL_CERT_FILE, which only Linux reads')
  t.is(await listIn({ SSL_CERT_FILE: path.join(dir, 'ca.pem') }), 'ok 0')
})

test('a ca option or NODE_EXTRA_CA_CERTS that holds no certificate is refused when the client is made', async (t) => {
  for (const bad of ['not a certificate', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n']) {
    const e = throwsPerse(t, () => new PerseClient({ baseUrl: server.url, ca: bad }), 'invalid_argument')
    t.regex(e.message, /^ca |certificate of ca/)
  }
  throwsPerse(t, () => new PerseClient({ baseUrl: server.url, ca: 42 }), 'invalid_argument')
  fs.writeFileSync(path.join(dir, 'empty.pem'), 'nothing here')
  t.regex(await listIn({ NODE_EXTRA_CA_CERTS: path.join(dir, 'empty.pem') }), /child failed: .*NODE_EXTRA_CA_CERTS \(.*empty\.pem\) holds no PEM certificate/s)
  t.regex(await listIn({ NODE_EXTRA_CA_CERTS: path.join(dir, 'missing.pem') }), /child failed: .*NODE_EXTRA_CA_CERTS \(.*missing\.pem\) cannot be read/s)
})
