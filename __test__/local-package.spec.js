'use strict'

// The local server lives in the separate perse-node-local package (its face engine would not
// fit the client's size budget): what users get without it or with a wrong version, the
// enrollment store that survives a restart (dataDir / serve --data-dir), and the server's
// minimum face size for compare and enrollment.

const test = require('ava')
const { SCALE, ms } = require('./helpers/time')
// Under emulation (npm run test:arm64) a face-engine run takes seconds: one test at a time.
const it = SCALE > 1 ? test.serial : test
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')

const { startLocalServer } = require('..')
const { rejects } = require('./helpers/assert')
const { runChild } = require('./helpers/child')

const FIX = path.join(__dirname, 'fixtures')
const img = (name) => path.join(FIX, name)
const CONSENT = { enduserConsent: true }
const { version } = require('../package.json')
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'perse-data-'))

/** A child script prelude that makes `require('perse-node-local')` see `fake` (null: not installed). */
const hide = (fake) => `
  const Module = require('node:module');
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function (request, ...rest) {
    if (request === 'perse-node-local') {
      ${fake === null ? `const e = new Error("Cannot find module 'perse-node-local'"); e.code = 'MODULE_NOT_FOUND'; throw e;` : `return require.resolve(${JSON.stringify(fake)});`}
    }
    return resolve.call(this, request, ...rest);
  };`

it('without perse-node-local: local_server_unavailable naming the exact install command; the client still works', async (t) => {
  const r = await runChild(`${hide(null)}
    const e = await perse.startLocalServer().then(() => null, (e) => e);
    const client = new perse.PerseClient({ baseUrl: 'http://127.0.0.1:9/v0', token: 'x.y.z', maxRetries: 0 });
    const call = await client.detect(helpers.fixtures + '/astronaut.jpg', { enduserConsent: true }).then(() => null, (e) => e.code);
    client.close();
    report({ isPerse: perse.isPerseError(e), code: e.code, message: e.message, call });`)
  t.is(r.code, 0, r.stderr)
  t.true(r.report.isPerse)
  t.is(r.report.code, 'local_server_unavailable')
  t.true(r.report.message.includes(`npm install --save-dev perse-node-local@${version}`), r.report.message)
  t.true(r.report.message.includes('npx -p perse-node'), r.report.message)
  t.is(r.report.call, 'network_error', 'calling the hosted API does not need the local package')
})

it('a perse-node-local of another version is refused with the version to install', async (t) => {
  const dir = tmp()
  fs.writeFileSync(path.join(dir, 'index.js'), "module.exports = { version: '0.0.1', weightsDir: __dirname, native() { throw new Error('must not be loaded') } }")
  const r = await runChild(`${hide(path.join(dir, 'index.js'))}
    const e = await perse.startLocalServer().then(() => null, (e) => e);
    report({ code: e.code, message: e.message });`)
  t.is(r.report.code, 'local_server_unavailable')
  t.regex(r.report.message, new RegExp(`perse-node-local 0\\.0\\.1 is installed, but perse-node ${version.replace(/\./g, '\\.')} needs the same version`))
})

it('perse-node serve without perse-node-local exits 1 with the install command', async (t) => {
  const cli = path.join(__dirname, '..', 'bin', 'perse-node.js')
  const pre = path.join(tmp(), 'hide.js')
  fs.writeFileSync(pre, hide(null))
  const r = await new Promise((resolve) => {
    const child = spawn(process.execPath, ['--require', pre, cli, 'serve', '--port', '0'])
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    child.on('close', (code) => resolve({ code, stderr }))
  })
  t.is(r.code, 1)
  t.true(r.stderr.includes(`npm install --save-dev perse-node-local@${version}`), r.stderr)
})

it('dataDir: enrollments survive a restart, in order; one server per folder', async (t) => {
  const dataDir = tmp()
  const first = await startLocalServer({ dataDir })
  let client = first.client({ timeoutMs: ms(30_000) })
  const a = await client.enroll(img('astronaut.jpg'), CONSENT)
  const b = await client.enroll(img('obama.jpg'), CONSENT)
  const gone = await client.enroll(img('astronaut-crop.jpg'), CONSENT)
  await client.enrollment.delete(gone.userToken)
  await rejects(t, startLocalServer({ dataDir }), 'invalid_argument')
  client.close()
  await first.close()
  t.true(fs.existsSync(path.join(dataDir, 'enrollments.redb')))
  const second = await startLocalServer({ dataDir })
  client = second.client({ timeoutMs: ms(30_000) })
  t.deepEqual((await client.enrollment.list()).userTokens, [a.userToken, b.userToken])
  const same = await client.compare({ userToken: a.userToken }, img('astronaut-crop.jpg'), CONSENT)
  t.true(same.similarity > same.defaultThresholds.similarity, `${same.similarity}`)
  const other = await client.compare({ userToken: b.userToken }, img('astronaut-crop.jpg'), CONSENT)
  t.true(other.similarity < other.defaultThresholds.similarity, `${other.similarity}`)
  client.close()
  await second.close()
  // Without dataDir nothing is kept.
  const plain = await startLocalServer()
  client = plain.client({ timeoutMs: ms(30_000) })
  t.deepEqual((await client.enrollment.list()).userTokens, [])
  client.close()
  await plain.close()
})

it('dataDir that cannot be a folder is refused before anything starts', async (t) => {
  const file = path.join(tmp(), 'a-file')
  fs.writeFileSync(file, 'x')
  const e = await rejects(t, startLocalServer({ dataDir: file }), 'invalid_argument')
  t.true(e.message.includes('a-file'), e.message)
  await rejects(t, startLocalServer({ dataDir: '' }), 'invalid_argument')
  await rejects(t, startLocalServer({ dataDir: 42 }), 'invalid_argument')
})

it('compare and enrollment refuse a face too small to tell people apart, with its size', async (t) => {
  const server = await startLocalServer()
  const client = server.client({ timeoutMs: ms(30_000) })
  t.teardown(async () => {
    client.close()
    await server.close()
  })
  // hopper.jpg is 128x128: its face is found, but is about 45 px wide.
  t.is((await client.detect(img('hopper.jpg'), CONSENT)).totalFaces, 1)
  const e = await rejects(t, client.enroll(img('hopper.jpg'), CONSENT), 'bad_image_quality')
  t.is(e.httpStatus, 422)
  t.regex(e.message, /is \d+ px wide: compare and enrollment need a face at least 64 px wide/)
  await rejects(t, client.compare(img('astronaut.jpg'), img('hopper.jpg'), CONSENT), 'bad_image_quality')
  t.deepEqual((await client.enrollment.list()).userTokens, [])
})
