'use strict'

// npm run build:targets — release binaries for all seven targets, cross-built on an x64 Linux
// host: Linux and macOS with zig (cargo-zigbuild, driven by `napi build -x`), Windows with
// MinGW (Debian's gcc-mingw-w64). Set-up: scripts/targets/setup.sh.
//
//   node scripts/targets/build.js                       all seven
//   node scripts/targets/build.js --only aarch64-unknown-linux-gnu,x86_64-unknown-linux-musl
//   node scripts/targets/build.js --glibc 2.28          another glibc floor for the gnu targets
//   node scripts/targets/build.js --from-git HEAD       build a clean export of a commit, not the working tree
//                                                      (in target/exports/, with its own cargo dir target/cross-exports/)
//   node scripts/targets/build.js --lanes 1             one build at a time (default 2, or PERSE_BUILD_LANES)
//
// Both addons (targets.js ADDONS: perse-node, and perse-node-local from packages/local) are
// built for each target; perse-node-local's artifacts go to target/cross/artifacts-local/.
//
// The gnu targets are built as `<triple>.<glibc>` (cargo-zigbuild links them against zig's
// stub glibc of that version, so the binary cannot require anything newer). Musl cdylibs get
// `-C target-feature=-crt-static` from napi build itself (a cdylib needs the dynamic CRT).
// macOS: zig links against its own libSystem stubs, no Apple SDK; MACOSX_DEPLOYMENT_TARGET is
// the target's floor from targets.js, and build.rs sets the install name. Windows:
// x86_64-pc-windows-gnu linked by x86_64-w64-mingw32-gcc, written as perse-node.win32-x64-msvc.node
// (the name napi-rs's loader looks for on the official Node; targets.js says why).
//
// Cargo output goes to target/cross (CARGO_TARGET_DIR; PERSE_CROSS_CARGO_DIR moves cargo's own
// output to a cache kept between runs, see targets.js), never target/, so the host build and
// `npm test` are untouched; each binary is copied to target/cross/artifacts/<platform>/<name>.node,
// the npm/<platform>/ layout, and never into npm/ or the repo root. A failed build leaves the
// previous artifact in place (manifest.json says what each one was built from, and when). napi build does not write
// binding.js / index.js here (--no-js); its type definitions go to target/cross/dts/.
//
// Lanes: the 14 builds (seven targets, two addons) are dealt to two lanes that run side by
// side, each lane one build at a time in its own cargo dir (cargo locks a target dir for the
// whole build, host dir included, so two builds cannot share one). Why: a warm build is mostly
// its last step, the fat-LTO optimisation and code generation of one crate (`lto = true`,
// `codegen-units = 1`), which runs on one core; one build at a time left the second core idle
// for most of it. A build always goes to the same lane (build k of TARGETS x ADDONS goes to
// lane k modulo the lanes: with two, perse-node's builds in one and perse-node-local's in the
// other, which also balances them), so each lane's cargo dir stays warm for its builds between
// runs; a lane's dir is seeded with a copy of what the first lane's holds for targets it has
// not built yet. Each build's output is written to a log and printed whole when it ends, so
// the lanes' logs do not interleave. Under `flock $PERSE_HEAVY_LOCK` (when set) the builds
// still run one at a time.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { runLogged } = require('../run-logged.js')
const { ROOT, CROSS_DIR, CARGO_DIR, EXPORTS_TARGET_DIR, ZIG_BIN, GLIBC_FLOOR, TARGETS, ADDONS, artifactOf, exportRev, lockedCommand, lockPrefix } = require('./targets.js')

const MINGW_GCC = 'x86_64-w64-mingw32-gcc'

function parseArgs(argv) {
  const opts = { only: null, glibc: GLIBC_FLOOR, fromGit: null, lanes: Number(process.env.PERSE_BUILD_LANES || 2) }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--only') opts.only = argv[++i].split(',').filter(Boolean)
    else if (a === '--glibc') opts.glibc = argv[++i]
    else if (a === '--from-git') opts.fromGit = argv[++i]
    else if (a === '--lanes') opts.lanes = Number(argv[++i])
    else if (a === '-h' || a === '--help') {
      process.stdout.write(fs.readFileSync(__filename, 'utf8').split('\n').slice(2, 12).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n')
      process.exit(0)
    } else throw new Error(`unknown argument ${a}`)
  }
  if (!/^2\.\d+$/.test(opts.glibc)) throw new Error(`--glibc wants a version like 2.17, got ${opts.glibc}`)
  if (!Number.isInteger(opts.lanes) || opts.lanes < 1 || opts.lanes > 7) throw new Error(`--lanes (or PERSE_BUILD_LANES) wants 1 to 7, got ${opts.lanes}`)
  return opts
}

function preflight(targets) {
  const problems = []
  if (!fs.existsSync(path.join(ZIG_BIN, 'zig'))) problems.push('no .zig/bin/zig')
  if (!fs.existsSync(path.join(ZIG_BIN, 'cargo-zigbuild'))) problems.push('no .zig/bin/cargo-zigbuild')
  const installed = spawnSync('rustup', ['target', 'list', '--installed'], { encoding: 'utf8', cwd: ROOT }).stdout || ''
  for (const t of targets) if (!installed.split('\n').includes(t.triple)) problems.push(`rust target ${t.triple} not installed`)
  if (targets.some((t) => t.format === 'pe') && spawnSync(MINGW_GCC, ['--version']).status !== 0) problems.push(`no ${MINGW_GCC} (Debian's gcc-mingw-w64-x86-64)`)
  if (process.env.PERSE_HEAVY_LOCK && spawnSync('flock', ['--version']).status !== 0) problems.push('PERSE_HEAVY_LOCK is set but there is no flock (util-linux)')
  if (problems.length) {
    process.stderr.write(`build:targets: the cross toolchain is not set up (${problems.join('; ')}).\nRun: bash scripts/targets/setup.sh\n`)
    process.exit(2)
  }
}

/** napi's platform name for a Rust triple it builds (only needed where it differs from the shipped one). */
const napiPlatformOf = (triple) => ({ 'x86_64-pc-windows-gnu': 'win32-x64-gnu' })[triple] || triple

const fmtSize = (n) => `${(n / 2 ** 20).toFixed(2)} MiB (${n} bytes)`
const fmtTime = (s) => (s >= 60 ? `${Math.floor(Math.round(s) / 60)} min ${Math.round(s) % 60} s` : `${s.toFixed(1)} s`)

/**
 * napi-build links a windows-gnu addon against `-lnode` and insists on a folder (LIBNODE_PATH)
 * holding a file named libnode.dll. The addon imports nothing from it (the napi functions are
 * looked up in the host process at load time: the dyn-symbols feature in Cargo.toml), so an
 * empty archive satisfies the linker; if a napi function were ever imported statically again,
 * the link fails instead of producing a DLL that depends on "node.exe".
 */
function libnodeStub() {
  const dir = path.join(CROSS_DIR, 'libnode-stub')
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, 'libnode.a'), '!<arch>\n')
  fs.writeFileSync(path.join(dir, 'libnode.dll'), '')
  return dir
}

/** The cargo dir of lane `lane`: the first lane's is `base` itself, the others' sit beside it. */
const laneDir = (base, lane) => (lane === 0 ? base : `${base}-lane${lane + 1}`)

/**
 * A lane's cargo dir gets a copy of what the first lane's holds for its targets, when it has
 * none yet (their `<triple>/` folders, and the host's `release/` where build scripts and
 * proc-macros go), so that adding a lane, or a target to one, does not compile every
 * dependency again. Cargo's fingerprints and build-script outputs are relative to the target
 * dir, so a copy is warm; if one were not, cargo would rebuild what it must, which is only slower.
 */
function seedLane(base, dir, triples) {
  if (dir === base || !fs.existsSync(base)) return
  const parts = ['release', ...triples].filter((p) => fs.existsSync(path.join(base, p)) && !fs.existsSync(path.join(dir, p)))
  if (!parts.length) return
  const t0 = Date.now()
  fs.mkdirSync(dir, { recursive: true })
  for (const p of parts) {
    // Copied under a temporary name and renamed, so an interrupted copy is never taken for a cache.
    const tmp = path.join(dir, `${p}.seeding`)
    fs.rmSync(tmp, { recursive: true, force: true })
    const r = spawnSync('cp', ['-a', '--reflink=auto', path.join(base, p), tmp], { stdio: 'inherit' })
    if (r.status !== 0) {
      fs.rmSync(tmp, { recursive: true, force: true })
      process.stdout.write(`(could not seed ${dir}/${p} from ${base}; cargo builds it from nothing)\n`)
      continue
    }
    fs.renameSync(tmp, path.join(dir, p))
  }
  process.stdout.write(`seeded ${dir} from ${base} (${parts.join(', ')}) in ${fmtTime((Date.now() - t0) / 1000)}\n`)
}

async function buildOne(t, glibc, src, addon, targetDir) {
  const requested = t.libc === 'gnu' ? `${t.triple}.${glibc}` : t.triple
  // napi writes into a staging folder; the artifact is replaced only when the build succeeds.
  const outDir = path.join(CROSS_DIR, 'staging', addon.name, t.platform)
  fs.rmSync(outDir, { recursive: true, force: true })
  fs.mkdirSync(outDir, { recursive: true })
  const dest = artifactOf(addon, t.platform)
  // napi names the file after the compiled triple (win32-x64-gnu for Windows).
  const built = path.join(outDir, `${addon.binaryName}.${t.triple === t.napiTriple ? t.platform : napiPlatformOf(t.triple)}.node`)
  const napi = path.join(ROOT, 'node_modules', '.bin', 'napi')
  const args = [
    napi, 'build', '--release', '--platform', '--no-js',
    '--target', requested, ...(t.format === 'pe' ? [] : ['-x']),
    '--target-dir', targetDir,
    '--output-dir', outDir,
    '--dts', path.relative(outDir, path.join(CROSS_DIR, 'dts', `${addon.name}.${t.platform}.d.ts`)),
  ]
  const env = {
    ...process.env,
    PATH: `${ZIG_BIN}${path.delimiter}${process.env.PATH}`,
    CARGO_TARGET_DIR: targetDir,
    CARGO_TERM_COLOR: process.env.CARGO_TERM_COLOR || 'never',
  }
  if (t.format === 'macho') env.MACOSX_DEPLOYMENT_TARGET = t.macos
  if (t.format === 'pe') {
    env[`CARGO_TARGET_${t.triple.toUpperCase().replace(/-/g, '_')}_LINKER`] = MINGW_GCC
    env.LIBNODE_PATH = libnodeStub()
  }
  fs.mkdirSync(path.join(CROSS_DIR, 'dts'), { recursive: true })
  fs.mkdirSync(path.join(CROSS_DIR, 'logs'), { recursive: true })
  const log = path.join(CROSS_DIR, 'logs', `${addon.name}.${t.platform}.log`)
  const header = `\n== ${addon.name} ${t.triple} (${requested}) -> ${path.relative(ROOT, dest)}\n$ ${lockPrefix()}${args.map((a) => path.isAbsolute(a) ? path.relative(ROOT, a) || '.' : a).join(' ')}\n`
  // The build time counts from when the lock was acquired (the stamp file), not from when
  // this script started waiting for another engineer's build to finish.
  const stamp = path.join(CROSS_DIR, `.lock-acquired-${process.pid}-${addon.name}-${t.platform}`)
  const started = Date.now()
  const r = await runLogged(lockedCommand(stamp, args).flat(), { cwd: path.join(src.dir, addon.dir), env }, log)
  const ended = Date.now()
  const acquired = fs.existsSync(stamp) ? Number(fs.readFileSync(stamp, 'utf8').trim()) : started
  fs.rmSync(stamp, { force: true })
  const seconds = (ended - acquired) / 1000
  const waited = (acquired - started) / 1000
  // The build's whole output, at once: the other lane's builds print between, never inside.
  process.stdout.write(header + r.output)
  if (r.status !== 0) throw new Error(`napi build for ${addon.name} ${requested} failed (exit ${r.status ?? r.signal}); ${fs.existsSync(dest) ? `the previous ${path.relative(ROOT, dest)} is left as it was` : 'no artifact'}`)
  if (!fs.existsSync(built)) {
    const found = fs.readdirSync(outDir).filter((f) => f.endsWith('.node'))
    throw new Error(`napi build for ${requested} did not write ${built} (found: ${found.join(', ') || 'nothing'})`)
  }
  // The artifact folder holds exactly what the platform package ships: the binary alone.
  fs.rmSync(path.dirname(dest), { recursive: true, force: true })
  fs.mkdirSync(path.dirname(dest), { recursive: true })
  fs.renameSync(built, dest)
  fs.rmSync(outDir, { recursive: true, force: true })
  const size = fs.statSync(dest).size
  process.stdout.write(`== ${addon.name} ${t.platform}: ${fmtSize(size)}, built in ${fmtTime(seconds)}${waited >= 1 ? ` (after ${fmtTime(waited)} waiting for the lock)` : ''}\n`)
  return { addon: addon.name, triple: t.triple, requested, platform: t.platform, source: src.label, file: path.relative(addon.artifacts, dest), size, seconds: Math.round(seconds * 10) / 10, glibcFloor: t.libc === 'gnu' ? glibc : null, macosFloor: t.macos || null, builtAt: new Date().toISOString() }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  const targets = opts.only ? TARGETS.filter((t) => [t.triple, t.napiTriple, t.platform].some((n) => opts.only.includes(n))) : TARGETS
  if (opts.only && targets.length !== opts.only.length) throw new Error(`--only: unknown target in ${opts.only.join(',')}; known: ${TARGETS.map((t) => t.triple).join(', ')}`)
  preflight(targets)
  const src = opts.fromGit
    ? (({ dir, sha }) => ({ dir, label: `git ${sha}`, targetDir: EXPORTS_TARGET_DIR }))(exportRev(opts.fromGit, { fresh: true }))
    : { dir: ROOT, label: 'working tree', targetDir: CARGO_DIR }
  // A build's lane follows from its place in TARGETS x ADDONS, not from --only, so it always meets its own cache.
  const lanes = Array.from({ length: opts.lanes }, (_, i) => ({ dir: laneDir(src.targetDir, i), builds: [] }))
  for (const t of targets) {
    ADDONS.forEach((addon, a) => lanes[(TARGETS.indexOf(t) * ADDONS.length + a) % opts.lanes].builds.push({ t, addon }))
  }
  const busy = lanes.filter((l) => l.builds.length)
  process.stdout.write(`source: ${src.label}${src.dir !== ROOT ? ` (${path.relative(ROOT, src.dir)})` : ''}; ${busy.length} lane(s): ${busy.map((l) => `${l.builds.map((b) => `${b.addon.name} ${b.t.platform}`).join(', ')} in ${l.dir}`).join('; ')}\n`)
  for (const l of busy) seedLane(src.targetDir, l.dir, [...new Set(l.builds.map((b) => b.t.triple))])
  const t0 = Date.now()
  const results = []
  const failures = []
  const record = (addon, t, r) => {
    results.push(r)
    // manifest.json in each artifacts folder says what each binary was built from, and when.
    const manifestFile = path.join(addon.artifacts, 'manifest.json')
    const manifest = fs.existsSync(manifestFile) ? JSON.parse(fs.readFileSync(manifestFile, 'utf8')) : {}
    manifest[t.platform] = r
    fs.writeFileSync(manifestFile, JSON.stringify(manifest, null, 2) + '\n')
  }
  // A lane stops at its first failure; the other lanes finish theirs.
  await Promise.all(busy.map(async (lane) => {
    for (const { t, addon } of lane.builds) {
      try {
        record(addon, t, await buildOne(t, opts.glibc, src, addon, lane.dir))
      } catch (e) {
        failures.push(e.message)
        return
      }
    }
  }))
  const order = (r) => TARGETS.findIndex((t) => t.platform === r.platform) * ADDONS.length + ADDONS.findIndex((a) => a.name === r.addon)
  results.sort((a, b) => order(a) - order(b))
  process.stdout.write(`\nbuild:targets summary (${fmtTime((Date.now() - t0) / 1000)} wall, ${busy.length} lane(s))\n`)
  for (const r of results) process.stdout.write(`  ${r.addon.padEnd(17)} ${r.platform.padEnd(17)} ${r.requested.padEnd(32)} ${fmtSize(r.size).padEnd(28)} ${fmtTime(r.seconds)}\n`)
  if (failures.length) throw new Error(failures.join('\n'))
  process.stdout.write(`artifacts: ${ADDONS.map((a) => `${path.relative(ROOT, a.artifacts)}/<platform>/`).join(' and ')} (manifest.json); next: npm run check:artifacts\n`)
}

main().catch((e) => {
  process.stderr.write(`build:targets: ${e.message}\n`)
  process.exit(1)
})
