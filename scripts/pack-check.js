'use strict'

// npm run pack:check — proves the published shape works, offline:
// 1. builds the linux-x64-gnu release binaries of perse-node and perse-node-local,
// 2. packs both packages and their linux-x64-gnu platform packages with `npm pack`,
// 3. installs perse-node alone into a fresh temp project with --offline: the client works and
//    startLocalServer says what to install; then adds perse-node-local,
// 4. there: require('perse-node'), named ESM imports, `tsc --noEmit --strict` on a typed
//    usage file, the CLI, and a detect call against the local server.
// Also, in both tarballs: LICENSE (the repository's), the weights' licences in perse-node-local,
// and README links that work in node_modules: every relative link in a packed Markdown file
// resolves inside the tarball (scripts/packed-links.js).

const fs = require('node:fs')
const path = require('node:path')
const { packTarballs, run, ROOT, npm } = require('./pack.js')
const { checkPackedLinks } = require('./packed-links.js')

const { work, mainTgz, platformTgz, binarySize, local } = packTarballs('perse-pack-')
try {
  const listing = run('tar', ['-tzf', mainTgz])
  if (/\.node$/m.test(listing)) throw new Error('the main package must not contain a .node binary')
  if (/weights|packages\//m.test(listing)) throw new Error('the main package must not contain perse-node-local or its weights')
  const localListing = run('tar', ['-tzf', local.mainTgz])
  if (/\.node$/m.test(localListing)) throw new Error('perse-node-local must not contain a .node binary')
  for (const f of ['package/weights/centerface.safetensors', 'package/weights/dlib_resnet_v1.f16.safetensors', 'package/weights/PROVENANCE.md', 'package/weights/LICENSE-centerface', 'package/weights/LICENSE-dlib-resnet', 'package/LICENSE', 'package/index.js', 'package/binding.js']) {
    if (!localListing.split('\n').includes(f)) throw new Error(`perse-node-local must contain ${f}`)
  }
  const license = fs.readFileSync(path.join(ROOT, 'LICENSE'), 'utf8')
  for (const tgz of [mainTgz, local.mainTgz]) {
    const packed = run('tar', ['-xzOf', tgz, 'package/LICENSE'])
    if (packed !== license) throw new Error(`${path.basename(tgz)}: package/LICENSE differs from the repository's LICENSE (packages/local/LICENSE is a copy of it)`)
    const links = checkPackedLinks(tgz)
    if (links.problems.length) throw new Error(`links that do not resolve from the installed package:\n  ${links.problems.join('\n  ')}`)
    process.stdout.write(`${path.basename(tgz)}: LICENSE, and ${links.checked} links in ${links.markdown} Markdown files resolve inside the package or in the repository: ok\n`)
  }
  const MB = (f) => `${(fs.statSync(f).size / 2 ** 20).toFixed(2)} MiB`
  process.stdout.write(
    `perse-node: ${(fs.statSync(mainTgz).size / 1024).toFixed(0)} KB packed; perse-node-linux-x64-gnu: ${MB(platformTgz)} packed, binary ${binarySize} bytes\n` +
      `perse-node-local: ${MB(local.mainTgz)} packed (weights); perse-node-local-linux-x64-gnu: ${MB(local.platformTgz)} packed, binary ${local.binarySize} bytes\n`,
  )
  if (binarySize >= 8_000_000) throw new Error(`the perse-node binary is ${binarySize} bytes, over the 8,000,000-byte budget`)

  // A fresh project, installed offline from the tarballs: perse-node alone first.
  const app = path.join(work, 'app')
  fs.mkdirSync(app)
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'pack-check-app', private: true, version: '1.0.0' }))
  run(npm, ['install', '--offline', '--no-audit', '--no-fund', mainTgz, platformTgz], { cwd: app })
  const without = run(process.execPath, ['-e', "require('perse-node').startLocalServer().then(() => console.log('started'), (e) => console.log(e.code + ': ' + e.message))"], { cwd: app })
  if (!/^local_server_unavailable: .*npm install --save-dev perse-node-local@/.test(without)) throw new Error(`without perse-node-local: ${without}`)
  process.stdout.write('without perse-node-local: local_server_unavailable with the install command: ok\n')
  run(npm, ['install', '--offline', '--no-audit', '--no-fund', '--save-dev', local.mainTgz, local.platformTgz], { cwd: app })

  const photo = path.join(ROOT, '__test__', 'fixtures', 'astronaut.jpg')
  fs.writeFileSync(
    path.join(app, 'check.cjs'),
    `const perse = require('perse-node')
const assert = require('node:assert')
;(async () => {
  const server = await perse.startLocalServer()
  const client = new perse.PerseClient({ baseUrl: server.url, privateKey: server.privateKey })
  const r = await client.detect(${JSON.stringify(photo)}, { enduserConsent: true })
  assert.strictEqual(r.totalFaces, 1)
  client.close()
  await server.close()
  console.log('cjs: require + detect against the local server: ok')
})().catch((e) => { console.error(e); process.exit(1) })
`,
  )
  fs.writeFileSync(
    path.join(app, 'check.mjs'),
    `import { detect, PerseClient, isPerseError, startLocalServer, face } from 'perse-node'
import assert from 'node:assert'
for (const f of [detect, PerseClient, isPerseError, startLocalServer, face.detect]) assert.strictEqual(typeof f, 'function')
console.log('esm: named imports: ok')
`,
  )
  fs.writeFileSync(
    path.join(app, 'usage.ts'),
    `import { PerseClient, detect, isPerseError, type DetectResult } from 'perse-node'
export async function run(): Promise<number> {
  const client = new PerseClient({ baseUrl: 'http://127.0.0.1:1/v0', timeoutMs: 1000 })
  const r: DetectResult = await client.detect(Buffer.alloc(0), { enduserConsent: true })
  try {
    await detect('x.jpg', { enduserConsent: true })
  } catch (e) {
    if (isPerseError(e)) return e.attempts
  }
  return r.faces.length
}
`,
  )
  run(process.execPath, [path.join(app, 'check.cjs')], { cwd: app, stdio: 'inherit' })
  run(process.execPath, [path.join(app, 'check.mjs')], { cwd: app, stdio: 'inherit' })
  const tsc = require.resolve('typescript/bin/tsc')
  run(process.execPath, [tsc, '--noEmit', '--strict', '--target', 'ES2022', '--module', 'commonjs', '--moduleResolution', 'node', '--types', 'node', '--typeRoots', path.join(ROOT, 'node_modules', '@types'), 'usage.ts'], { cwd: app, stdio: 'inherit' })
  process.stdout.write('types: tsc --noEmit --strict: ok\n')
  const cli = run(process.execPath, [path.join(app, 'node_modules', '.bin', 'perse-node'), 'detect', photo, '--local'], { cwd: app })
  if (!/^1 face/.test(cli)) throw new Error(`unexpected CLI output: ${cli}`)
  process.stdout.write('cli: perse-node detect --local: ok\n')
  process.stdout.write('pack:check passed\n')
} finally {
  fs.rmSync(work, { recursive: true, force: true })
}
