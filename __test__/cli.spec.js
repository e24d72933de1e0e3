'use strict'

// The command line: serve, detect / compare / enroll against an in-process local server,
// --json, and the exit codes 0 (ok), 1 (API error), 2 (usage error).

const test = require('ava')
const path = require('node:path')
const { spawn } = require('node:child_process')

const CLI = path.join(__dirname, '..', 'bin', 'perse-node.js')
const img = (name) => path.join(__dirname, 'fixtures', name)

function run(args, { untilStdout } = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, PERSE_TOKEN: '', PERSE_PRIVATE_KEY: '' } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => {
      stdout += d
      if (untilStdout && untilStdout.test(stdout)) resolve({ child, stdout })
    })
    child.stderr.on('data', (d) => (stderr += d))
    child.on('exit', (code) => resolve({ code, stdout, stderr }))
  })
}

test('detect --local prints a human summary and exits 0', async (t) => {
  const r = await run(['detect', img('astronaut.jpg'), '--local'])
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, /^1 face\(s\) found/)
  t.regex(r.stdout, /box \[\d+, \d+, \d+, \d+\]/)
})

test('compare --local --json prints the result as JSON', async (t) => {
  const r = await run(['compare', img('astronaut.jpg'), img('astronaut-crop.jpg'), '--local', '--json'])
  t.is(r.code, 0, r.stderr)
  const json = JSON.parse(r.stdout)
  t.true(json.similarity > json.defaultThresholds.similarity)
})

test('enroll --local prints the user token', async (t) => {
  const r = await run(['enroll', img('astronaut.jpg'), '--local'])
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, /userToken usr_[0-9a-f]{32}/)
})

test('API errors exit 1, usage errors exit 2', async (t) => {
  const noFace = await run(['enroll', img('rocket.jpg'), '--local'])
  t.is(noFace.code, 1)
  t.regex(noFace.stderr, /no_face_detected/)
  t.is((await run(['bogus'])).code, 2)
  t.is((await run(['detect'])).code, 2)
  t.is((await run(['detect', img('astronaut.jpg'), '--nope'])).code, 2)
  const noToken = await run(['detect', img('astronaut.jpg'), '--base-url', 'http://127.0.0.1:1/v0'])
  t.is(noToken.code, 1)
  t.regex(noToken.stderr, /unauthorized/)
})

test('serve listens on loopback and answers /login', async (t) => {
  const { child, stdout } = await run(['serve', '--port', '0', '--private-key', 'sk_cli_test'], { untilStdout: /privateKey/ })
  const url = /baseUrl:\s+(\S+)/.exec(stdout)[1]
  t.regex(url, /^http:\/\/127\.0\.0\.1:\d+\/v0$/)
  const res = await fetch(`${url}/login`, { method: 'POST', body: JSON.stringify({ privateKey: 'sk_cli_test' }), headers: { 'content-type': 'application/json' } })
  t.is(res.status, 200)
  t.truthy((await res.json()).token)
  const exited = new Promise((resolve) => child.on('exit', resolve))
  child.kill('SIGINT')
  t.is(await exited, 0)
})
