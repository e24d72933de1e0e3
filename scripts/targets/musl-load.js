'use strict'

// node scripts/targets/musl-load.js — loads each musl binary with a real musl dynamic linker.
//
// No registry carries a musl build of Node, so the musl .node files cannot run the suite
// here (CI runs it in node:22-alpine). This is the next best thing: a tiny C host program,
// cross-compiled with zig for <arch>-linux-musl and linked dynamically against musl, defines
// every napi_* / node_api_* function the addon imports (as do-nothing stubs, exported with
// -rdynamic, the way node exports the real ones), then dlopen()s the .node with RTLD_NOW
// and looks up napi_register_module_v1. That proves, with Debian's musl 1.2.3 (the musl of
// Alpine 3.17+): the loader accepts the file, its `libc.so` DT_NEEDED resolves to musl itself,
// every libc symbol it imports exists in that musl, its initializers run, and the entry point
// is found. The x64 build runs natively, the arm64 build under qemu-aarch64 (binfmt).
// It never calls napi_register_module_v1 (the stubs do nothing).
//
// Needs: .zig/ (setup.sh build) and Debian's musl + musl:arm64 (setup.sh).

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { parseElf } = require('./elf.js')
const { CROSS_DIR, ZIG_BIN, LINUX_TARGETS, ADDONS, artifactOf, lockedCommand } = require('./targets.js')

const ZIG_TARGET = { x64: 'x86_64-linux-musl', arm64: 'aarch64-linux-musl' }
const LOADER = { x64: '/lib/ld-musl-x86_64.so.1', arm64: '/lib/ld-musl-aarch64.so.1' }

const HOST_C = `
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
  void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!h) { fprintf(stderr, "dlopen failed: %s\\n", dlerror()); return 1; }
  void *entry = dlsym(h, "napi_register_module_v1");
  if (!entry) { fprintf(stderr, "dlsym failed: %s\\n", dlerror()); return 2; }
  printf("loaded by musl; napi_register_module_v1 at %p\\n", entry);
  return 0;
}
`

function main() {
  const work = path.join(CROSS_DIR, 'musl-load')
  fs.mkdirSync(work, { recursive: true })
  const failures = []
  const controls = {}
  // Both addons: perse-node and perse-node-local (targets.js ADDONS).
  for (const [addon, t] of ADDONS.flatMap((a) => LINUX_TARGETS.filter((x) => x.libc === 'musl').map((x) => [a, x]))) {
    const file = artifactOf(addon, t.platform)
    process.stdout.write(`\n== ${addon.name} ${t.platform}: ${file}\n`)
    if (!fs.existsSync(file)) {
      failures.push(`${addon.name} ${t.platform}: no binary (npm run build:targets)`)
      continue
    }
    if (!fs.existsSync(LOADER[t.cpu])) {
      failures.push(`${addon.name} ${t.platform}: no musl dynamic linker ${LOADER[t.cpu]} (apt-get install musl${t.cpu === 'arm64' ? ':arm64' : ''}; see setup.sh)`)
      continue
    }
    const imports = parseElf(file).dynsym.filter((s) => !s.defined && /^(napi_|node_api_|uv_)/.test(s.name)).map((s) => s.name)
    const stubs = imports.map((n) => `void *${n}(void) { return 0; }`).join('\n')
    const src = path.join(work, `host-${t.cpu}.c`)
    const exe = path.join(work, `host-${t.cpu}`)
    fs.writeFileSync(src, `${HOST_C}\n/* stubs for the ${imports.length} functions node exports to addons */\n${stubs}\n`)
    const cc = spawnSync(...lockedCommand(`${exe}.stamp`, [path.join(ZIG_BIN, 'zig'), 'cc', '-target', ZIG_TARGET[t.cpu], '-dynamic', '-rdynamic', '-O1', '-o', exe, src]), { encoding: 'utf8' })
    if (cc.status !== 0) {
      failures.push(`${addon.name} ${t.platform}: zig cc failed: ${cc.stderr}`)
      continue
    }
    const interp = parseElf(exe).interp
    const r = spawnSync(exe, [file], { encoding: 'utf8' })
    process.stdout.write(`host program: ${ZIG_TARGET[t.cpu]}, interpreter ${interp}, ${imports.length} napi stubs\n${r.stdout}${r.stderr}`)
    if (r.status !== 0) failures.push(`${addon.name} ${t.platform}: the musl loader refused it (exit ${r.status ?? r.signal}): ${(r.stderr || r.error?.message || '').trim()}`)
    // Control: the gnu binary of the same arch must be refused by the same host program.
    const gnu = artifactOf(addon, t.platform.replace('musl', 'gnu'))
    // Per architecture, at least one addon's gnu binary must be refused: a gnu binary that
    // calls no glibc-only function (perse-node-local on arm64, where glibc's loader is
    // installed for QEMU) can load under musl, which says nothing about the harness.
    if (fs.existsSync(gnu)) {
      const c = spawnSync(exe, [gnu], { encoding: 'utf8' })
      controls[t.cpu] = controls[t.cpu] || { run: 0, refused: 0 }
      controls[t.cpu].run++
      if (c.status === 0) process.stdout.write(`control: musl also loads the ${addon.name} ${t.platform.replace('musl', 'gnu')} binary (it calls no glibc-only function)\n`)
      else {
        controls[t.cpu].refused++
        process.stdout.write(`control: the ${t.platform.replace('musl', 'gnu')} binary is refused: ${c.stderr.trim()}\n`)
      }
    }
  }
  for (const [cpu, c] of Object.entries(controls)) {
    if (c.refused === 0) failures.push(`${cpu}: control failed: musl loaded every gnu binary (${c.run}), so this check proves nothing`)
  }
  if (failures.length) {
    process.stderr.write(`\nmusl-load FAILED\n${failures.map((f) => `  ${f}`).join('\n')}\n`)
    process.exit(1)
  }
  process.stdout.write('\nmusl-load passed: every musl binary (perse-node and perse-node-local, x64 and arm64) loads with musl 1.2.3\n')
}

main()
