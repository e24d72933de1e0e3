'use strict'

// How binaries travel between the jobs of the release workflow (.github/workflows/CI.yml), and
// here between build:targets and the publish and test steps. One artifact per target, holding
// both addons' binaries side by side and nothing else (flat: the folder is the artifact root,
// whatever actions/upload-artifact makes of the paths):
//
//   node scripts/release/artifacts.js upload <dir> --only <target>   target/cross/artifacts*/<platform>/ -> <dir>/
//   node scripts/release/artifacts.js download <dir> [--expect all|<targets>]
//       every perse-node*.<platform>.node anywhere under <dir> (actions/download-artifact nests
//       each artifact in a folder of its name) -> target/cross/artifacts*/<platform>/
//   node scripts/release/artifacts.js place <platform>
//       target/cross/artifacts*/<platform>/ -> where the generated loaders look first
//       (./perse-node.<platform>.node, packages/local/perse-node-local.<platform>.node), so that
//       npm run test:ava runs on the downloaded binaries
//
// Binaries are found by their names (<binaryName>.<platform>.node), never by their depth, so
// the layout of the downloaded folder does not matter. Exits 1 with what is missing.

const fs = require('node:fs')
const path = require('node:path')
const { ROOT, TARGETS, ADDONS, artifactOf, targetNamed } = require('../targets/targets.js')

function fail(msg) {
  process.stderr.write(`artifacts: ${msg}\n`)
  process.exit(1)
}

const targetsOf = (spec) => {
  if (!spec || spec === 'all') return TARGETS
  return spec.split(',').map((n) => targetNamed(n) || fail(`unknown target ${n}; known: ${TARGETS.map((t) => t.triple).join(', ')}`))
}

/** Copies both addons' binaries of each target into `dir`, flat. */
function upload(dir, targets) {
  fs.mkdirSync(dir, { recursive: true })
  for (const t of targets) {
    for (const addon of ADDONS) {
      const src = artifactOf(addon, t.platform)
      if (!fs.existsSync(src)) fail(`no ${path.relative(ROOT, src)} (npm run build:targets -- --only ${t.triple})`)
      fs.copyFileSync(src, path.join(dir, path.basename(src)))
      process.stdout.write(`${path.relative(ROOT, src)} -> ${path.join(dir, path.basename(src))}\n`)
    }
  }
}

/** Every file under `dir`, recursively. */
const walk = (dir) => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]))

/** Lays the binaries found under `dir` out as build:targets does; fails if an expected one is missing. */
function download(dir, expected) {
  if (!fs.existsSync(dir)) fail(`no folder ${dir}`)
  const files = walk(dir)
  const found = []
  for (const addon of ADDONS) {
    for (const t of TARGETS) {
      const name = `${addon.binaryName}.${t.platform}.node`
      const hits = files.filter((f) => path.basename(f) === name)
      if (hits.length > 1) fail(`${name} is there ${hits.length} times: ${hits.join(', ')}`)
      if (!hits.length) continue
      const dest = artifactOf(addon, t.platform)
      fs.rmSync(path.dirname(dest), { recursive: true, force: true })
      fs.mkdirSync(path.dirname(dest), { recursive: true })
      fs.copyFileSync(hits[0], dest)
      found.push(`${addon.name} ${t.platform}`)
      process.stdout.write(`${path.relative(process.cwd(), hits[0])} -> ${path.relative(ROOT, dest)}\n`)
    }
  }
  const missing = expected.flatMap((t) => ADDONS.map((a) => `${a.name} ${t.platform}`)).filter((x) => !found.includes(x))
  if (missing.length) fail(`missing under ${dir}: ${missing.join(', ')} (found: ${found.join(', ') || 'nothing'})`)
  const stray = files.filter((f) => f.endsWith('.node') && !found.some((x) => path.basename(f).endsWith(`.${x.split(' ')[1]}.node`)))
  if (stray.length) fail(`binaries with names no target has: ${stray.join(', ')}`)
  return found
}

/** Puts one platform's binaries where binding.js and packages/local/binding.js look first. */
function place(platform) {
  const t = targetNamed(platform) || fail(`unknown platform ${platform}`)
  for (const addon of ADDONS) {
    const src = artifactOf(addon, t.platform)
    if (!fs.existsSync(src)) fail(`no ${path.relative(ROOT, src)}`)
    const dest = path.join(ROOT, addon.dir, path.basename(src))
    fs.copyFileSync(src, dest)
    process.stdout.write(`${path.relative(ROOT, src)} -> ${path.relative(ROOT, dest)}\n`)
  }
}

if (require.main === module) {
  const [cmd, arg, ...rest] = process.argv.slice(2)
  const opt = (name) => (rest.includes(name) ? rest[rest.indexOf(name) + 1] : null)
  if (cmd === 'upload' && arg) upload(path.resolve(arg), targetsOf(opt('--only')))
  else if (cmd === 'download' && arg) process.stdout.write(`laid out: ${download(path.resolve(arg), targetsOf(opt('--expect') || 'all')).length} binaries\n`)
  else if (cmd === 'place' && arg) place(arg)
  else fail('usage: artifacts.js upload <dir> --only <targets> | download <dir> [--expect all|<targets>] | place <platform>')
}

module.exports = { upload, download, place }
