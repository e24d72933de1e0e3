'use strict'

// The targets that this machine kind builds (scripts/targets/build.js) and checks
// (scripts/targets/check.js), and the paths they share. Plain data, no side effects.

const path = require('node:path')

const ROOT = path.join(__dirname, '..', '..')
const CROSS_DIR = process.env.CARGO_TARGET_DIR_CROSS || path.join(ROOT, 'target', 'cross')
const ARTIFACTS = path.join(CROSS_DIR, 'artifacts')
const MANIFEST = path.join(ARTIFACTS, 'manifest.json')
// Cargo's target dir for builds of git exports (build.js --from-git). Separate from CROSS_DIR:
// cargo judges the freshness of workspace crates by file mtimes under a path-independent
// fingerprint, so a working-tree build after an export build could reuse crates compiled from
// the export (and the other way round).
const EXPORTS_TARGET_DIR = process.env.CARGO_TARGET_DIR_CROSS ? `${CROSS_DIR}-exports` : path.join(ROOT, 'target', 'cross-exports')
// Cargo's target dir for working-tree builds: CROSS_DIR, unless PERSE_CROSS_CARGO_DIR names a
// cache kept between runs (.ci/run does: the compiled dependencies of seven release targets
// take most of build:targets' time and change only with Cargo.lock). Only cargo's own output
// goes there; the artifacts, their manifest and the staging folders stay in CROSS_DIR, so a
// cached dir can never hand check:artifacts a binary that this run did not build. A fresh
// clone's sources are newer than anything in the cache, so cargo rebuilds the workspace crates.
const CARGO_DIR = process.env.PERSE_CROSS_CARGO_DIR ? path.resolve(process.env.PERSE_CROSS_CARGO_DIR) : CROSS_DIR
const ZIG_BIN = path.join(ROOT, '.zig', 'bin')
const NODE_ARM64 = path.join(ROOT, '.cross', 'node-arm64', 'bin', 'node')

// The glibc floor requested from zig (cargo-zigbuild's `<triple>.<version>` suffix) and the
// ceiling check.js enforces on the GLIBC_x.y versions the gnu binaries actually require.
const GLIBC_FLOOR = process.env.PERSE_GLIBC_FLOOR || '2.17'

/**
 * triple: the Rust target that is compiled; platform: napi's platformArchABI, which names both
 * the npm/<platform>/ folder and the binary (perse-node.<platform>.node); napiTriple: the
 * package.json napi.targets entry that platform comes from (the triple itself, except for
 * Windows); os/cpu: the npm fields; format: 'elf' | 'macho' | 'pe'.
 * ELF: libc 'gnu' | 'musl'; machine: the ELF e_machine (62 x86-64, 183 AArch64).
 * Mach-O: cputype (CPU_TYPE_X86_64 0x01000007, CPU_TYPE_ARM64 0x0100000c); macos: the
 * deployment target the build asks for (MACOSX_DEPLOYMENT_TARGET), at most the README's floor.
 * PE: machine 0x8664 (AMD64). Windows is built with MinGW as x86_64-pc-windows-gnu and shipped
 * as win32-x64-msvc, the package napi-rs's loader picks on the official (MSVC-built) Node: the
 * binary a Windows user installs is the one the suite ran on under Wine (scripts/targets/README.md).
 */
const TARGETS = [
  { triple: 'x86_64-unknown-linux-gnu', platform: 'linux-x64-gnu', os: 'linux', cpu: 'x64', format: 'elf', libc: 'gnu', machine: 62, machineName: 'x86-64' },
  { triple: 'x86_64-unknown-linux-musl', platform: 'linux-x64-musl', os: 'linux', cpu: 'x64', format: 'elf', libc: 'musl', machine: 62, machineName: 'x86-64' },
  { triple: 'aarch64-unknown-linux-gnu', platform: 'linux-arm64-gnu', os: 'linux', cpu: 'arm64', format: 'elf', libc: 'gnu', machine: 183, machineName: 'AArch64' },
  { triple: 'aarch64-unknown-linux-musl', platform: 'linux-arm64-musl', os: 'linux', cpu: 'arm64', format: 'elf', libc: 'musl', machine: 183, machineName: 'AArch64' },
  { triple: 'x86_64-apple-darwin', platform: 'darwin-x64', os: 'darwin', cpu: 'x64', format: 'macho', cputype: 0x01000007, machineName: 'x86_64', macos: '10.15' },
  { triple: 'aarch64-apple-darwin', platform: 'darwin-arm64', os: 'darwin', cpu: 'arm64', format: 'macho', cputype: 0x0100000c, machineName: 'arm64', macos: '11.0' },
  { triple: 'x86_64-pc-windows-gnu', napiTriple: 'x86_64-pc-windows-msvc', platform: 'win32-x64-msvc', os: 'win32', cpu: 'x64', format: 'pe', machine: 0x8664, machineName: 'AMD64' },
].map((t) => ({ napiTriple: t.triple, ...t }))
// package.json's napi.targets (both addons) is what napi create-npm-dirs, napi artifacts and the
// generated loader know; this table must name exactly those.
for (const dir of ['.', 'packages/local']) {
  const listed = require(path.join(ROOT, dir, 'package.json')).napi.targets
  const known = TARGETS.map((t) => t.napiTriple)
  if (listed.length !== known.length || listed.some((x) => !known.includes(x))) {
    throw new Error(`scripts/targets/targets.js knows ${known.join(', ')}, but ${path.join(dir, 'package.json')} napi.targets lists ${listed.join(', ')}: update both together`)
  }
}
const LINUX_TARGETS = TARGETS.filter((t) => t.os === 'linux')
/** A target by its triple, napi triple or platform name; `null` when there is none. */
const targetNamed = (name) => TARGETS.find((t) => [t.triple, t.napiTriple, t.platform].includes(name)) || null

const BINARY_NAME = require(path.join(ROOT, 'package.json')).napi.binaryName

/**
 * The two addons built per target: perse-node (the client, the repository root) and
 * perse-node-local (the local server and face engine, packages/local). `maxBytes`: the
 * client's budget is 8,000,000 bytes per platform; the local server's binary (its weights are
 * a separate, platform-independent part of its package) is held to 16,000,000.
 */
const ADDONS = [
  { name: 'perse-node', dir: '.', binaryName: BINARY_NAME, artifacts: ARTIFACTS, maxBytes: 8_000_000 },
  {
    name: 'perse-node-local',
    dir: 'packages/local',
    binaryName: require(path.join(ROOT, 'packages', 'local', 'package.json')).napi.binaryName,
    artifacts: path.join(CROSS_DIR, 'artifacts-local'),
    maxBytes: 16_000_000,
  },
]
const addonNamed = (name) => {
  const a = ADDONS.find((x) => x.name === name)
  if (!a) throw new Error(`unknown addon ${name}; known: ${ADDONS.map((x) => x.name).join(', ')}`)
  return a
}
/** The artifact of `addon` for `platform`. */
const artifactOf = (addon, platform) => path.join(addon.artifacts, platform, `${addon.binaryName}.${platform}.node`)

/**
 * `--from-git <rev>`: a clean export of that commit (git archive) under target/exports/git-<rev>/,
 * with node_modules linked, so a build or a test run uses one consistent source while the
 * working tree is being edited. Returns the export's root; reuses an existing export unless
 * `fresh` (build.js always re-extracts, so every file is newer than any cargo fingerprint).
 */
function exportRev(rev, { fresh = false } = {}) {
  const { execFileSync } = require('node:child_process')
  const fs = require('node:fs')
  const sha = execFileSync('git', ['rev-parse', '--short=12', `${rev}^{commit}`], { cwd: ROOT, encoding: 'utf8' }).trim()
  // Not inside CARGO_TARGET_DIR (target/cross): cargo records the sources it finds under its
  // target dir relative to that dir, so two exports there would share fingerprints, and a build
  // of one commit could reuse workspace crates compiled from another.
  const dir = path.join(ROOT, 'target', 'exports', `git-${sha}`)
  if (fresh || !fs.existsSync(path.join(dir, '.exported'))) {
    fs.rmSync(dir, { recursive: true, force: true })
    fs.mkdirSync(dir, { recursive: true })
    // tar -m: files get the extraction time, not the commit time. With the commit time, cargo
    // (which compares source mtimes with its fingerprints, and hashes path dependencies without
    // their location) would take the workspace crates compiled from another checkout as fresh.
    execFileSync('sh', ['-c', `git archive --format=tar ${sha} | tar -x -m -C "${dir}"`], { cwd: ROOT })
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir')
    fs.writeFileSync(path.join(dir, '.exported'), `${sha}\n`)
  }
  return { dir, sha }
}

const binaryFile = (platform) => `${BINARY_NAME}.${platform}.node`

/**
 * The command line that runs `argv`, first writing the start time (ms) to `stamp`. When
 * PERSE_HEAVY_LOCK names a lock file (shared development machines), it runs under
 * `flock LOCK`, so builds and emulated suites never overlap; otherwise directly (CI, users).
 */
function lockedCommand(stamp, argv) {
  const inner = ['sh', '-c', 'date +%s%3N > "$0"; exec "$@"', stamp, ...argv]
  const lock = process.env.PERSE_HEAVY_LOCK
  return lock ? ['flock', [lock, ...inner]] : [inner[0], inner.slice(1)]
}

/** How the command is shown in logs. */
const lockPrefix = () => (process.env.PERSE_HEAVY_LOCK ? `flock ${process.env.PERSE_HEAVY_LOCK} ` : '')

module.exports = { ROOT, CROSS_DIR, CARGO_DIR, EXPORTS_TARGET_DIR, ARTIFACTS, MANIFEST, ZIG_BIN, NODE_ARM64, GLIBC_FLOOR, TARGETS, LINUX_TARGETS, targetNamed, BINARY_NAME, ADDONS, addonNamed, artifactOf, binaryFile, exportRev, lockedCommand, lockPrefix }
