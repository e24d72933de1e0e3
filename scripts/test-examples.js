'use strict'

// npm run test:examples — installs each example against the packed tarballs (as a user
// would get them from npm), builds and starts it or runs its test suite, and where it is a
// server posts phone-style photos as a browser would (multipart field "photo", no options on
// the server side): a 3 MB JPEG stored sideways (EXIF orientation 6), a WebP and a 4 MB PNG.
// Each must come back with its face, boxed where the face is in the photo as displayed.
// Deployment shapes: Next.js's standalone output and Nuxt's .output, each moved away from the
// app and its node_modules before it is started; the test suites run under jest, ava, vitest
// (threads and forks pools) and node --test.
// EXAMPLES=express,jest limits the set.

const { spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { packTarballs, run, ROOT, npm } = require('./pack.js')
const { iou } = require('../__test__/helpers/geometry')

const PHOTOS = ['astronaut.jpg', 'astronaut-crop.jpg', 'astronaut-blurred.jpg', 'hopper.jpg']

/**
 * Phone-style uploads made from astronaut.png with sharp: `size` is the displayed side, so the
 * expected box is astronaut's scaled by size / 512. Fine grain keeps the files as large as a
 * camera's.
 */
async function phonePhotos() {
  const sharp = require('sharp')
  const crypto = require('node:crypto')
  const src = path.join(ROOT, '__test__', 'fixtures', 'astronaut.png')
  const grain = (n) => sharp(crypto.randomBytes(n * n), { raw: { width: n, height: n, channels: 1 } }).png().toBuffer()
  const upright = await sharp(src).resize(3024, 3024, { kernel: 'lanczos3' }).composite([{ input: await grain(3024), blend: 'soft-light' }]).toBuffer()
  return [
    // Stored rotated 90° counter-clockwise, with EXIF orientation 6 to display it upright.
    { name: 'phone.jpg', type: 'image/jpeg', size: 3024, data: await sharp(upright).rotate(-90).jpeg({ quality: 82 }).withMetadata({ orientation: 6 }).toBuffer() },
    { name: 'photo.webp', type: 'image/webp', size: 512, data: await sharp(src).webp({ quality: 90 }).toBuffer() },
    { name: 'big.png', type: 'image/png', size: 1200, data: await sharp(src).resize(1200, 1200).composite([{ input: await grain(1200), blend: 'soft-light' }]).png().toBuffer() },
  ]
}

/** astronaut.jpg's face box, as the local server finds it. */
async function referenceBox() {
  const { startLocalServer } = require(ROOT)
  const server = await startLocalServer()
  const client = server.client()
  try {
    return (await client.detect(path.join(ROOT, '__test__', 'fixtures', 'astronaut.jpg'), { enduserConsent: true })).faces[0].boundingBox
  } finally {
    client.close()
    await server.close()
  }
}

let photos = null
let reference = null
const only = process.env.EXAMPLES ? process.env.EXAMPLES.split(',') : null

/** Copies an example to `dest`, points perse-node at the tarballs, adds the photos. */
function stage(name, dest, tarballs) {
  fs.cpSync(path.join(ROOT, 'examples', name), dest, { recursive: true, filter: (src) => !/node_modules|\.next|\.nuxt|\.output/.test(src) })
  const pkgPath = path.join(dest, 'package.json')
  const pkg = JSON.parse(fs.readFileSync(pkgPath, 'utf8'))
  pkg.dependencies['perse-node'] = `file:${tarballs.mainTgz}`
  pkg.dependencies['perse-node-linux-x64-gnu'] = `file:${tarballs.platformTgz}`
  // Examples that start a local server list perse-node-local as a devDependency, as users do.
  if (pkg.devDependencies?.['perse-node-local']) {
    pkg.devDependencies['perse-node-local'] = `file:${tarballs.local.mainTgz}`
    pkg.devDependencies['perse-node-local-linux-x64-gnu'] = `file:${tarballs.local.platformTgz}`
  }
  fs.writeFileSync(pkgPath, JSON.stringify(pkg, null, 2))
  fs.mkdirSync(path.join(dest, 'fixtures'), { recursive: true })
  for (const p of PHOTOS) fs.copyFileSync(path.join(ROOT, '__test__', 'fixtures', p), path.join(dest, 'fixtures', p))
}

/** Starts `cmd` in `cwd`, waits for a URL on stdout, posts the photo to `route`, checks `expect`. */
async function serveAndPost(cwd, cmd, args, route, check, env = {}) {
  const child = spawn(cmd, args, { cwd, env: { ...process.env, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    const base = await new Promise((resolve, reject) => {
      let out = ''
      const timer = setTimeout(() => reject(new Error(`no URL printed within 120 s:\n${out}`)), 120_000)
      child.stdout.on('data', (d) => {
        out += d
        process.stdout.write(d)
        const m = /(http:\/\/(?:127\.0\.0\.1|localhost|\[::\]|0\.0\.0\.0):\d+)(?!\/v0)/.exec(out.replace(/http:\/\/127\.0\.0\.1:\d+\/v0/g, ''))
        if (m) {
          clearTimeout(timer)
          resolve(m[1].replace('[::]', '127.0.0.1').replace('0.0.0.0', '127.0.0.1'))
        }
      })
      child.on('exit', (code) => reject(new Error(`exited with ${code} before listening`)))
    })
    for (const photo of photos) {
      const res = await check.request(base + route, photo)
      const body = await res.json()
      process.stdout.write(`POST ${route} ${photo.name} (${photo.data.length} bytes) -> ${res.status} ${JSON.stringify(body)}\n`)
      check.verify(res.status, body, photo)
    }
  } finally {
    child.kill('SIGTERM')
  }
}

/** A browser's upload: the photo as multipart field "photo", with its own type and name. */
const multipart = {
  request: (url, photo) => {
    const form = new FormData()
    form.append('photo', new Blob([photo.data], { type: photo.type }), photo.name)
    return fetch(url, { method: 'POST', body: form })
  },
  verify: (status, body, photo) => {
    if (status !== 200 || body.faces !== 1) throw new Error(`${photo.name}: expected one face`)
    const expected = reference.map((v) => (v * photo.size) / 512)
    const overlap = iou(body.boxes[0], expected)
    if (overlap < 0.5) throw new Error(`${photo.name}: the box ${body.boxes[0]} is not on the face (expected about ${expected.map(Math.round)}, IoU ${overlap.toFixed(2)})`)
  },
}

/** A free loopback port (for servers that cannot take PORT=0). */
async function freePort() {
  const net = require('node:net')
  const s = net.createServer()
  await new Promise((r) => s.listen(0, '127.0.0.1', r))
  const { port } = s.address()
  await new Promise((r) => s.close(r))
  return port
}

/** Moves a build output to a new folder of its own under the temp dir, away from the app and its node_modules. */
function moveAway(from, prefix) {
  const to = path.join(fs.mkdtempSync(path.join(require('node:os').tmpdir(), prefix)), path.basename(from))
  fs.renameSync(from, to)
  return to
}

/** Runs `fn(env)` with a local Perse server whose URL and key are in `env`. */
async function withLocalPerse(fn) {
  const { startLocalServer } = require(ROOT)
  const server = await startLocalServer()
  try {
    return await fn({ PERSE_BASE_URL: server.url, PERSE_PRIVATE_KEY: server.privateKey })
  } finally {
    await server.close()
  }
}

const examples = {
  express: async (dir) => serveAndPost(dir, process.execPath, ['server.js'], '/api/detect', multipart),
  nextjs: async (dir) => {
    // next.config.mjs sets output: 'standalone'. Deployed as Next.js documents it: the
    // .next/standalone folder (server.js and the node_modules it traced), moved away from the
    // app and its node_modules, started with node server.js.
    run(npm, ['run', 'build'], { cwd: dir, stdio: 'inherit', env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' } })
    const deploy = moveAway(path.join(dir, '.next', 'standalone'), 'perse-nextjs-standalone-')
    const traced = fs.readdirSync(path.join(deploy, 'node_modules')).filter((n) => n.startsWith('perse-node'))
    process.stdout.write(`standalone output moved to ${deploy}; traced: ${traced.join(', ')}\n`)
    if (!traced.includes('perse-node-linux-x64-gnu')) throw new Error(`the standalone output lacks perse-node's platform package (traced: ${traced.join(', ')})`)
    const port = await freePort()
    try {
      // instrumentation.ts traces the calls (perse-node/otel): a result has its requestId and trace.
      const traced = {
        ...multipart,
        verify: (status, body, photo) => {
          multipart.verify(status, body, photo)
          if (typeof body.requestId !== 'string' || !(body.attempts >= 1)) throw new Error(`${photo.name}: expected a traced call with a requestId (got ${JSON.stringify({ requestId: body.requestId, attempts: body.attempts })})`)
        },
      }
      await withLocalPerse((env) => serveAndPost(deploy, process.execPath, ['server.js'], '/api/detect', traced, { ...env, PORT: String(port), HOSTNAME: '127.0.0.1', NEXT_TELEMETRY_DISABLED: '1' }))
    } finally {
      fs.rmSync(deploy, { recursive: true, force: true })
    }
  },
  nuxt: async (dir) => {
    run(npm, ['run', 'build'], { cwd: dir, stdio: 'inherit', env: { ...process.env, NUXT_TELEMETRY_DISABLED: '1' } })
    // Run the build output from elsewhere: only what Nitro traced into .output is there.
    const deploy = moveAway(path.join(dir, '.output'), 'perse-nuxt-output-')
    const traced = fs.readdirSync(path.join(deploy, 'server', 'node_modules')).filter((n) => n.startsWith('perse-node'))
    process.stdout.write(`.output moved to ${deploy}; traced: ${traced.join(', ')}\n`)
    fs.mkdirSync(path.join(deploy, 'fixtures'))
    fs.copyFileSync(path.join(dir, 'fixtures', 'astronaut.jpg'), path.join(deploy, 'fixtures', 'astronaut.jpg'))
    const port = await freePort()
    try {
      await withLocalPerse((env) =>
        serveAndPost(deploy, process.execPath, ['server/index.mjs'], '/api/detect', multipart, { ...env, PORT: String(port), HOST: '127.0.0.1', NITRO_HOST: '127.0.0.1', NITRO_PORT: String(port) }),
      )
    } finally {
      fs.rmSync(deploy, { recursive: true, force: true })
    }
  },
  jest: async (dir) => run(npm, ['test'], { cwd: dir, stdio: 'inherit' }),
  ava: async (dir) => run(npm, ['test'], { cwd: dir, stdio: 'inherit' }),
  // vitest under both pools (its npm test runs --pool=threads, then --pool=forks).
  vitest: async (dir) => run(npm, ['test'], { cwd: dir, stdio: 'inherit' }),
  'node-test': async (dir) => run(npm, ['test'], { cwd: dir, stdio: 'inherit' }),
}

async function main() {
  photos = await phonePhotos()
  reference = await referenceBox()
  const tarballs = packTarballs('perse-examples-')
  const results = []
  try {
    for (const [name, test] of Object.entries(examples)) {
      if (only && !only.includes(name)) continue
      const dir = path.join(tarballs.work, name)
      process.stdout.write(`\n=== examples/${name} ===\n`)
      stage(name, dir, tarballs)
      run(npm, ['install', '--no-audit', '--no-fund'], { cwd: dir, stdio: 'inherit' })
      await test(dir)
      results.push(name)
    }
  } finally {
    fs.rmSync(tarballs.work, { recursive: true, force: true })
  }
  process.stdout.write(`\ntest:examples passed: ${results.join(', ')}\n`)
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`)
  process.exit(1)
})
