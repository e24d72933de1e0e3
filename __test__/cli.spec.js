'use strict'

// The command line: serve, every call against an in-process or a shared local server,
// --json, --prepare, errors in the words of a CLI, and the exit codes 0 (ok), 1 (API error),
// 2 (usage error).

const test = require('ava')
const { SCALE } = require('./helpers/time')
// Under emulation (npm run test:arm64) a face-engine run takes seconds: one test at a time.
const it = SCALE > 1 ? test.serial : test
const path = require('node:path')
const { spawn } = require('node:child_process')

const CLI = path.join(__dirname, '..', 'bin', 'perse-node.js')
const img = (name) => path.join(__dirname, 'fixtures', name)

function run(args, { untilStdout, env = {} } = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, PERSE_TOKEN: '', PERSE_PRIVATE_KEY: '', ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => {
      stdout += d
      if (untilStdout && untilStdout.test(stdout)) resolve({ child, stdout })
    })
    child.stderr.on('data', (d) => (stderr += d))
    // 'close', not 'exit': 'exit' may come before the piped output has been read.
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

it('detect --local prints a human summary and exits 0', async (t) => {
  const r = await run(['detect', img('astronaut.jpg'), '--local'])
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, /^1 face\(s\) found/)
  t.regex(r.stdout, /box \[\d+, \d+, \d+, \d+\]/)
})

it('compare --local --json prints the result as JSON', async (t) => {
  const r = await run(['compare', img('astronaut.jpg'), img('astronaut-crop.jpg'), '--local', '--json'])
  t.is(r.code, 0, r.stderr)
  const json = JSON.parse(r.stdout)
  t.true(json.similarity > json.defaultThresholds.similarity)
})

it('enroll --local prints the user token', async (t) => {
  const r = await run(['enroll', img('astronaut.jpg'), '--local'])
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, /userToken usr_[0-9a-f]{32}/)
})

it('API errors exit 1, usage errors exit 2', async (t) => {
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

it('serve listens on loopback and answers /login; --log prints each request with its id, never the key or token', async (t) => {
  const { child, stdout } = await run(['serve', '--port', '0', '--private-key', 'sk_cli_test', '--log'], { untilStdout: /PERSE_PRIVATE_KEY=/ })
  let log = ''
  child.stderr.on('data', (d) => (log += d))
  const url = /export PERSE_BASE_URL=(\S+)/.exec(stdout)[1]
  t.regex(url, /^http:\/\/127\.0\.0\.1:\d+\/v0$/)
  t.regex(stdout, /export PERSE_PRIVATE_KEY=sk_cli_test\n/, 'ready-to-paste lines')
  const res = await fetch(`${url}/login`, { method: 'POST', body: JSON.stringify({ privateKey: 'sk_cli_test' }), headers: { 'content-type': 'application/json', 'x-request-id': 'req-cli-log-1' } })
  t.is(res.status, 200)
  t.is(res.headers.get('x-request-id'), 'req-cli-log-1', 'echoed')
  const { token } = await res.json()
  t.truthy(token)
  const bad = await fetch(`${url}/face/detect`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })
  t.is(bad.status, 400)
  for (let i = 0; i < 100 && log.split('\n').length < 3; i++) await new Promise((r) => setTimeout(r, 20))
  const lines = log.trim().split('\n')
  t.regex(lines[0], /^POST \/v0\/login 200 \d+ ms request-id=req-cli-log-1$/)
  t.regex(lines[1], /^POST \/v0\/face\/detect 400 \d+ ms$/)
  t.false(log.includes('sk_cli_test') || log.includes(token), 'no key or token in the log')
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  child.kill('SIGINT')
  const { code, signal } = await exited
  // Windows has no signals: kill() ends the process at once (Node's docs), so serve's own clean
  // exit on Ctrl+C can only be seen on POSIX systems.
  if (process.platform === 'win32') t.is(signal, 'SIGINT')
  else t.is(code, 0)
})

it('enroll, list, update, delete and quality against one server; --prepare', async (t) => {
  const { startLocalServer } = require('..')
  const server = await startLocalServer()
  t.teardown(() => server.close())
  const env = { PERSE_BASE_URL: server.url, PERSE_PRIVATE_KEY: server.privateKey }
  const enrolled = await run(['enroll', img('astronaut.jpg')], { env })
  const token = /userToken (usr_\w+)/.exec(enrolled.stdout)[1]
  t.is((await run(['list'], { env })).stdout.trim(), token)
  const updated = await run(['update', token, img('astronaut-crop.jpg')], { env })
  t.is(updated.code, 0, updated.stderr)
  t.regex(updated.stdout, /^updated: userToken usr_/)
  const quality = await run(['quality', img('astronaut-underexposed.jpg'), '--spoof-check'], { env })
  t.regex(quality.stdout, /^bad_image_quality: .*\n {2}face 1: isUnderexposed/)
  const validate = await run(['detect', img('hopper.webp'), '--prepare', 'validate'], { env })
  t.is(validate.code, 1)
  t.regex(validate.stderr, /invalid_file_type/)
  t.regex((await run(['detect', img('hopper.webp')], { env })).stdout, /1 face\(s\) found .*uploaded 128x128 jpeg/)
  t.is((await run(['delete', token], { env })).stdout.trim(), 'deleted')
  t.is((await run(['list'], { env })).stdout.trim(), '(no enrolled users)')
})

it('usage errors print one hint line; errors are worded for a command line, with the attempts', async (t) => {
  const usage = await run(['detect'])
  t.is(usage.code, 2)
  t.is(usage.stderr, "perse-node: detect takes 1 argument(s), got 0\nRun 'perse-node --help' for usage.\n")
  const help = await run(['--help'])
  t.regex(help.stdout, /default port 8080/)
  const noCreds = await run(['list', '--base-url', 'http://127.0.0.1:1/v0'])
  t.regex(noCreds.stderr, /no credentials: pass --token JWT, set PERSE_TOKEN or PERSE_PRIVATE_KEY, or use --local/)
  const down = await run(['list', '--base-url', 'http://127.0.0.1:1/v0', '--token', 'a.b.c', '--timeout', '200'])
  t.is(down.code, 1)
  t.regex(down.stderr, /network_error: .*\(3 attempts\)/)
})

it('--version prints the version; a mistyped command or option gets a did-you-mean', async (t) => {
  const version = await run(['--version'])
  t.is(version.code, 0)
  t.is(version.stdout, `${require('../package.json').version}\n`)
  t.is((await run(['-v'])).stdout, version.stdout)
  const typo = await run(['detcet', img('astronaut.jpg')])
  t.is(typo.code, 2)
  t.regex(typo.stderr, /^perse-node: unknown command 'detcet' \(did you mean 'detect'\?\)\n/)
  t.regex((await run(['lst'])).stderr, /did you mean 'list'\?/)
  t.regex((await run(['srve'])).stderr, /did you mean 'serve'\?/)
  t.notRegex((await run(['frobnicate'])).stderr, /did you mean/, 'no suggestion when nothing is close')
  const option = await run(['detect', img('astronaut.jpg'), '--jsn'])
  t.is(option.code, 2)
  t.regex(option.stderr, /Unknown option '--jsn' \(did you mean '--json'\?\)/)
})

it('a negative verdict exits 3: compare not similar, quality bad or without a face; a positive one 0', async (t) => {
  const { startLocalServer } = require('..')
  const server = await startLocalServer()
  t.teardown(() => server.close())
  const env = { PERSE_BASE_URL: server.url, PERSE_PRIVATE_KEY: server.privateKey }
  const similar = await run(['compare', img('astronaut.jpg'), img('astronaut-crop.jpg')], { env })
  t.is(similar.code, 0, similar.stderr)
  t.regex(similar.stdout, /: similar\n$/)
  const other = await run(['compare', img('astronaut.jpg'), img('obama.jpg'), '--json'], { env })
  t.is(other.code, 3, other.stderr)
  t.true(JSON.parse(other.stdout).similarity < 0.7)
  const blurred = await run(['quality', img('astronaut-blurred.jpg')], { env })
  t.is(blurred.code, 3)
  t.regex(blurred.stdout, /^bad_image_quality: /)
  const noFace = await run(['quality', img('rocket.jpg')], { env })
  t.is(noFace.code, 3)
  t.regex(noFace.stdout, /^no_face_detected: /)
  t.is((await run(['quality', img('astronaut.jpg')], { env })).code, 0)
  t.is((await run(['detect', img('rocket.jpg')], { env })).code, 0, 'detect is not a verdict')
})

it('serve on a port in use says to pass --port; option errors name the flags', async (t) => {
  const net = require('node:net')
  const busy = net.createServer().listen(0, '127.0.0.1')
  await new Promise((resolve) => busy.once('listening', resolve))
  t.teardown(() => busy.close())
  const { port } = busy.address()
  const r = await run(['serve', '--port', String(port)])
  t.is(r.code, 1)
  t.regex(r.stderr, new RegExp(`^perse-node: network_error: port ${port} is in use: pass --port N for another one, or --port 0 for a free one \\(`))
  t.regex((await run(['serve', '--port', '70000'])).stderr, /invalid_argument: --port must be/)
  t.regex((await run(['serve', '--token-ttl', '0'])).stderr, /invalid_argument: --token-ttl must be/)
  t.regex((await run(['detect', img('astronaut.jpg'), '--local', '--timeout', '0'])).stderr, /invalid_argument: --timeout must be/, '--timeout is not ignored with --local')
})

it('errors name the arguments, not the wire fields; an enrollment that may have been made says so; a base URL ending in /face is named', async (t) => {
  const { startLocalServer } = require('..')
  const server = await startLocalServer()
  t.teardown(() => server.close())
  const env = { PERSE_BASE_URL: server.url, PERSE_PRIVATE_KEY: server.privateKey }
  const noFace = await run(['compare', img('astronaut.jpg'), img('rocket.jpg')], { env })
  t.is(noFace.code, 1)
  t.regex(noFace.stderr, /no_face_detected: no face detected in the second image \(.*rocket\.jpg\)/)
  t.notRegex(noFace.stderr, /image_file/)
  const unknown = await run(['compare', 'usr_nobody', img('astronaut.jpg')], { env })
  t.regex(unknown.stderr, /user_token_not_found: .*: usr_nobody\n$/)
  server.injectFault({ path: '/face/enrollment', status: 502 })
  const enroll = await run(['enroll', img('astronaut.jpg')], { env })
  t.is(enroll.code, 1)
  t.regex(enroll.stderr, /server_error: .*the enrollment may have been made all the same: check with 'perse-node list' before enrolling again/)
  const wrongBase = await run(['list', '--base-url', `${server.url}/face`], { env })
  t.is(wrongBase.code, 1)
  t.regex(wrongBase.stderr, /unauthorized: the base URL .*\/v0\/face ends in an endpoint's path, so the login went to the wrong address: pass the API root/)
})

it("docs/cli.md's command list is the one --help prints", async (t) => {
  const doc = require('node:fs').readFileSync(path.join(__dirname, '..', 'docs', 'cli.md'), 'utf8')
  const listed = /```text\n([\s\S]*?)```/.exec(doc)[1]
  const help = (await run(['--help'])).stdout
  t.true(help.startsWith(`Usage:\n${listed.replace(/^(?=.)/gm, '  ')}`), 'the first text block of docs/cli.md, indented, opens --help')
  t.regex(help, /Exit codes: 0 ok; 1 API or transport error; 2 usage error or invalid argument;\n3 a negative verdict/)
})
