'use strict'

// The publish steps of a release, run by the workflow's publish job on a v* tag and, against a
// loopback registry, by npm run test:publish. Publishes perse-node-local and then perse-node
// (which names it as a peer), each with its seven platform packages:
//
//   node scripts/release/publish.js --tag v0.1.0 [--registry URL] [--provenance] [--dry-run]
//
// Before: the binaries of every target for both addons, laid out by build:targets or by
// `scripts/release/artifacts.js download` (target/cross/artifacts*/<platform>/).
// Per package, in a staging folder (never the working tree: napi prepublish rewrites
// package.json), exactly what npm would publish (`npm pack` of the package, unpacked):
//   1. the tag must be v<version> of both packages, and perse-node's peer and dev dependency on
//      perse-node-local must be that version too;
//   2. napi create-npm-dirs (npm/<platform>/package.json from package.json's napi.targets);
//   3. napi artifacts: the binaries into npm/<platform>/;
//   4. scripts/targets/check.js --artifacts npm --npm-dir npm: the exact folders about to be
//      published, every binary and package checked;
//   5. napi prepublish -t npm --no-gh-release: publishes the platform packages and adds them to
//      package.json as optionalDependencies;
//   6. npm publish --ignore-scripts (prepublishOnly only guards against a plain `npm publish`
//      from a clone) of the package itself;
//   7. npm view: the registry now has the version, with all seven optionalDependencies.
// --registry sets npm's registry for every step (NPM_CONFIG_REGISTRY); the token comes from the
// environment as usual (NODE_AUTH_TOKEN with actions/setup-node, or an .npmrc). --provenance
// sets NPM_CONFIG_PROVENANCE=true (GitHub's OIDC token; the packages' `repository` field must
// name this repository). Exits 1 on the first failing step, saying which.

const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { ROOT, TARGETS, ADDONS, CROSS_DIR } = require('../targets/targets.js')

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const napi = path.join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'napi.cmd' : 'napi')

function parseArgs(argv) {
  const opts = { tag: null, registry: null, provenance: false, dryRun: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--tag') opts.tag = argv[++i]
    else if (a === '--registry') opts.registry = argv[++i]
    else if (a === '--provenance') opts.provenance = true
    else if (a === '--dry-run') opts.dryRun = true
    else throw new Error(`unknown argument ${a}`)
  }
  if (!opts.tag) throw new Error('--tag v<version> is required (the workflow passes github.ref_name)')
  return opts
}

function step(label, cmd, args, { cwd, env }) {
  process.stdout.write(`\n-- ${label}\n$ ${path.basename(cmd)} ${args.join(' ')}   (in ${path.relative(os.tmpdir(), cwd).startsWith('..') ? path.relative(ROOT, cwd) || '.' : cwd})\n`)
  const r = spawnSync(cmd, args, { cwd, env, stdio: 'inherit' })
  if (r.status !== 0) throw new Error(`${label} failed (exit ${r.status ?? r.signal})`)
}

/** 1. The tag names the version of both packages, and perse-node asks for that perse-node-local. */
function checkVersions(tag) {
  const pkgs = ADDONS.map((a) => JSON.parse(fs.readFileSync(path.join(ROOT, a.dir, 'package.json'), 'utf8')))
  const problems = []
  for (const p of pkgs) if (`v${p.version}` !== tag) problems.push(`${p.name} is ${p.version}, but the tag is ${tag}`)
  const root = pkgs[0]
  for (const field of ['peerDependencies', 'devDependencies']) {
    const want = root[field] && root[field]['perse-node-local']
    if (want !== pkgs[1].version) problems.push(`perse-node's ${field} ask for perse-node-local ${want}, not ${pkgs[1].version}`)
  }
  for (const p of pkgs) if (!p.repository || !/github\.com\/getperse\/perse-node/.test(p.repository.url || p.repository)) problems.push(`${p.name} has no repository field naming this repository (npm refuses provenance without it)`)
  if (problems.length) throw new Error(`version check: ${problems.join('; ')}`)
  process.stdout.write(`versions: ${pkgs.map((p) => `${p.name} ${p.version}`).join(', ')} match ${tag}\n`)
  return root.version
}

/**
 * napi create-npm-dirs writes a README naming the napi triple; where the binary is built for
 * another triple (Windows: x86_64-pc-windows-gnu shipped as win32-x64-msvc), say what it is.
 */
function describeBuiltAs(stage, addon) {
  for (const t of TARGETS.filter((x) => x.triple !== x.napiTriple)) {
    const readme = path.join(stage, 'npm', t.platform, 'README.md')
    const text = fs.readFileSync(readme, 'utf8')
    if (!text.includes(`**${t.napiTriple}**`)) throw new Error(`${readme} does not name ${t.napiTriple} as expected: ${text}`)
    fs.writeFileSync(readme, text.replace(`**${t.napiTriple}**`, `**${t.triple}** (MinGW)`) + `\nIt is built as ${t.triple} and named ${t.platform}, the package napi-rs's loader picks on the official Node for Windows (an MSVC build). It needs only Windows' own DLLs; the ${addon.name} test suite runs on this very file.\n`)
  }
}

/** Steps 2-7 for one addon. */
function publishAddon(addon, { work, env, dryRun, version }) {
  const stage = path.join(work, addon.name)
  // What npm would publish from the package folder: its own `npm pack`, unpacked.
  const tgz = execFileSync(npm, ['pack', '--silent', '--ignore-scripts', '--pack-destination', work], { cwd: path.join(ROOT, addon.dir), encoding: 'utf8' }).trim().split('\n').pop()
  fs.mkdirSync(stage)
  execFileSync('tar', ['-xzf', path.join(work, tgz), '-C', stage, '--strip-components=1'])
  step(`${addon.name}: napi create-npm-dirs`, napi, ['create-npm-dirs'], { cwd: stage, env })
  describeBuiltAs(stage, addon)
  step(`${addon.name}: napi artifacts`, napi, ['artifacts', '--output-dir', addon.artifacts, '--npm-dir', 'npm'], { cwd: stage, env })
  step(`${addon.name}: check the platform packages as they will be published`, process.execPath, [path.join(ROOT, 'scripts', 'targets', 'check.js'), '--addon', addon.name, '--artifacts', path.join(stage, 'npm'), '--npm-dir', path.join(stage, 'npm')], { cwd: stage, env })
  if (dryRun) {
    process.stdout.write(`dry run: ${addon.name} staged in ${stage}; nothing published\n`)
    return
  }
  step(`${addon.name}: napi prepublish (publishes ${TARGETS.length} platform packages, adds them as optionalDependencies)`, napi, ['prepublish', '-t', 'npm', '--no-gh-release'], { cwd: stage, env })
  const pkg = JSON.parse(fs.readFileSync(path.join(stage, 'package.json'), 'utf8'))
  const optional = Object.keys(pkg.optionalDependencies || {})
  const wanted = TARGETS.map((t) => `${addon.binaryName}-${t.platform}`)
  const missing = wanted.filter((n) => pkg.optionalDependencies?.[n] !== version)
  if (missing.length) throw new Error(`${addon.name}: after napi prepublish, optionalDependencies lack ${missing.join(', ')} at ${version} (it has ${optional.join(', ') || 'none'})`)
  step(`${addon.name}: npm publish`, npm, ['publish', '--ignore-scripts', '--access', 'public'], { cwd: stage, env })
  const view = spawnSync(npm, ['view', `${addon.name}@${version}`, 'optionalDependencies', '--json'], { cwd: stage, env, encoding: 'utf8' })
  const published = view.status === 0 && view.stdout.trim() ? JSON.parse(view.stdout) : {}
  const absent = wanted.filter((n) => published[n] !== version)
  if (absent.length) throw new Error(`${addon.name}@${version} on the registry lacks the optionalDependencies ${absent.join(', ')}`)
  process.stdout.write(`${addon.name}@${version} published with ${wanted.length} platform packages\n`)
}

function main() {
  const opts = parseArgs(process.argv.slice(2))
  const version = checkVersions(opts.tag)
  const env = { ...process.env, CARGO_TARGET_DIR_CROSS: CROSS_DIR }
  if (opts.registry) env.NPM_CONFIG_REGISTRY = opts.registry
  if (opts.provenance) env.NPM_CONFIG_PROVENANCE = 'true'
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'perse-publish-'))
  try {
    // perse-node-local first: perse-node names it as a peer, so it must exist when perse-node does.
    for (const addon of [...ADDONS].reverse()) publishAddon(addon, { work, env, dryRun: opts.dryRun, version })
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
  process.stdout.write(`\npublish: ${ADDONS.map((a) => `${a.name}@${version}`).join(' and ')}, each with ${TARGETS.length} platform packages, ${opts.dryRun ? 'staged (dry run)' : `published to ${opts.registry || 'the configured registry'}`}${opts.provenance ? ' with provenance' : ''}\n`)
}

try {
  main()
} catch (e) {
  process.stderr.write(`publish: ${e.message}\n`)
  process.exit(1)
}
