'use strict'

// A small ELF reader, pure JS: just what check.js needs to judge a Linux .node file.
// ELF64 and ELF32, either byte order. Reads the file header, program headers (PT_INTERP),
// section headers, .dynamic (DT_NEEDED, DT_SONAME), .dynsym (+ .gnu.version), and
// .gnu.version_r (the versions, e.g. GLIBC_2.17, the file requires of each library).

const fs = require('node:fs')

const MACHINES = { 3: 'x86', 40: 'ARM', 62: 'x86-64', 183: 'AArch64', 243: 'RISC-V' }
const TYPES = { 1: 'REL', 2: 'EXEC', 3: 'DYN', 4: 'CORE' }
const PT_INTERP = 3
const PT_DYNAMIC = 2
const SHT_SYMTAB = 2
const SHT_DYNAMIC = 6
const SHT_DYNSYM = 11
const SHT_GNU_VERNEED = 0x6ffffffe
const SHT_GNU_VERSYM = 0x6fffffff
const DT_NEEDED = 1
const DT_SONAME = 14
const SYM_BINDS = { 0: 'LOCAL', 1: 'GLOBAL', 2: 'WEAK', 10: 'GNU_UNIQUE' }
const SYM_TYPES = { 0: 'NOTYPE', 1: 'OBJECT', 2: 'FUNC', 3: 'SECTION', 4: 'FILE', 5: 'COMMON', 6: 'TLS', 10: 'IFUNC' }

class ElfError extends Error {}

function parseElf(input) {
  const buf = Buffer.isBuffer(input) ? input : fs.readFileSync(input)
  if (buf.length < 52 || buf.readUInt32BE(0) !== 0x7f454c46) throw new ElfError('not an ELF file (bad magic)')
  const klass = buf[4] // 1 = 32-bit, 2 = 64-bit
  const data = buf[5] // 1 = little, 2 = big endian
  if (klass !== 1 && klass !== 2) throw new ElfError(`bad EI_CLASS ${klass}`)
  if (data !== 1 && data !== 2) throw new ElfError(`bad EI_DATA ${data}`)
  const is64 = klass === 2
  const le = data === 1
  const check = (off, len, what) => {
    if (off < 0 || len < 0 || off + len > buf.length) throw new ElfError(`truncated ELF: ${what} at ${off}+${len} is past the end (${buf.length} bytes)`)
  }
  const u8 = (o) => buf[o]
  const u16 = (o) => (check(o, 2, 'u16'), le ? buf.readUInt16LE(o) : buf.readUInt16BE(o))
  const u32 = (o) => (check(o, 4, 'u32'), le ? buf.readUInt32LE(o) : buf.readUInt32BE(o))
  const u64 = (o) => {
    check(o, 8, 'u64')
    const v = le ? buf.readBigUInt64LE(o) : buf.readBigUInt64BE(o)
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfError(`value too large at ${o}`)
    return Number(v)
  }
  const cstr = (o) => {
    check(o, 1, 'string')
    const end = buf.indexOf(0, o)
    if (end < 0) throw new ElfError(`unterminated string at ${o}`)
    return buf.toString('latin1', o, end)
  }

  const h = {
    class: is64 ? 'ELF64' : 'ELF32',
    endian: le ? 'little' : 'big',
    osabi: u8(7),
    type: u16(16),
    machine: u16(18),
  }
  h.typeName = TYPES[h.type] || `0x${h.type.toString(16)}`
  h.machineName = MACHINES[h.machine] || `machine ${h.machine}`
  const phoff = is64 ? u64(32) : u32(28)
  const shoff = is64 ? u64(40) : u32(32)
  const phentsize = u16(is64 ? 54 : 42)
  const phnum = u16(is64 ? 56 : 44)
  const shentsize = u16(is64 ? 58 : 46)
  const shnum = u16(is64 ? 60 : 48)
  const shstrndx = u16(is64 ? 62 : 50)

  // Program headers
  /** `count` entries of `size` bytes from `offset`, each read by `entry(o)`. */
  const table = (offset, count, size, what, entry) =>
    Array.from({ length: count }, (_, i) => {
      const o = offset + i * size
      check(o, size, what)
      return entry(o)
    })
  const segments = table(phoff, phnum, phentsize, 'program header', (o) =>
    is64
      ? { type: u32(o), offset: u64(o + 8), vaddr: u64(o + 16), filesz: u64(o + 32), memsz: u64(o + 40) }
      : { type: u32(o), offset: u32(o + 4), vaddr: u32(o + 8), filesz: u32(o + 16), memsz: u32(o + 20) },
  )
  const interpSeg = segments.find((s) => s.type === PT_INTERP)
  const interp = interpSeg ? cstr(interpSeg.offset) : null

  // Section headers
  const sections = table(shoff, shnum, shentsize, 'section header', (o) =>
    is64
      ? { nameOff: u32(o), type: u32(o + 4), offset: u64(o + 24), size: u64(o + 32), link: u32(o + 40), info: u32(o + 44), entsize: u64(o + 56) }
      : { nameOff: u32(o), type: u32(o + 4), offset: u32(o + 16), size: u32(o + 20), link: u32(o + 24), info: u32(o + 28), entsize: u32(o + 36) },
  )
  if (shnum && shstrndx < shnum) {
    const strtab = sections[shstrndx]
    for (const s of sections) s.name = cstr(strtab.offset + s.nameOff)
  }

  // .dynamic: DT_NEEDED, DT_SONAME (string offsets into the section its sh_link names)
  const needed = []
  let soname = null
  const dynSec = sections.find((s) => s.type === SHT_DYNAMIC)
  if (dynSec) {
    const dynstr = sections[dynSec.link]
    const ent = is64 ? 16 : 8
    for (let o = dynSec.offset; o + ent <= dynSec.offset + dynSec.size; o += ent) {
      const tag = is64 ? u64(o) : u32(o)
      const val = is64 ? u64(o + 8) : u32(o + 4)
      if (tag === 0) break
      if (tag === DT_NEEDED) needed.push(cstr(dynstr.offset + val))
      if (tag === DT_SONAME) soname = cstr(dynstr.offset + val)
    }
  } else if (segments.some((s) => s.type === PT_DYNAMIC)) {
    throw new ElfError('PT_DYNAMIC without a .dynamic section header: section headers stripped, not supported')
  }

  // .gnu.version_r: for each needed file, the version names it requires (Verneed/Vernaux).
  const verneed = []
  const vnSec = sections.find((s) => s.type === SHT_GNU_VERNEED)
  const versionNames = new Map() // vna_other index -> name, for .gnu.version
  if (vnSec) {
    const str = sections[vnSec.link]
    let o = vnSec.offset
    for (let n = 0; n < (vnSec.info || 1000); n++) {
      const cnt = u16(o + 2)
      const file = cstr(str.offset + u32(o + 4))
      const versions = []
      let a = o + u32(o + 8)
      for (let j = 0; j < cnt; j++) {
        const name = cstr(str.offset + u32(a + 8))
        const other = u16(a + 6)
        versions.push(name)
        versionNames.set(other, name)
        const next = u32(a + 12)
        if (!next) break
        a += next
      }
      verneed.push({ file, versions })
      const next = u32(o + 12)
      if (!next) break
      o += next
    }
  }

  // .dynsym (+ .gnu.version for the version each undefined symbol binds to)
  const dynsym = []
  const dsSec = sections.find((s) => s.type === SHT_DYNSYM)
  const vsSec = sections.find((s) => s.type === SHT_GNU_VERSYM)
  if (dsSec) {
    const str = sections[dsSec.link]
    const ent = dsSec.entsize || (is64 ? 24 : 16)
    const count = Math.floor(dsSec.size / ent)
    for (let i = 0; i < count; i++) {
      const o = dsSec.offset + i * ent
      const nameOff = u32(o)
      const info = is64 ? u8(o + 4) : u8(o + 12)
      const other = is64 ? u8(o + 5) : u8(o + 13)
      const shndx = is64 ? u16(o + 6) : u16(o + 14)
      const sym = {
        name: cstr(str.offset + nameOff),
        bind: SYM_BINDS[info >> 4] || String(info >> 4),
        type: SYM_TYPES[info & 15] || String(info & 15),
        visibility: ['DEFAULT', 'INTERNAL', 'HIDDEN', 'PROTECTED'][other & 3],
        defined: shndx !== 0,
      }
      if (vsSec) {
        const v = u16(vsSec.offset + i * 2) & 0x7fff
        if (versionNames.has(v)) sym.version = versionNames.get(v)
      }
      dynsym.push(sym)
    }
  }

  return {
    ...h,
    size: buf.length,
    interp,
    needed,
    soname,
    verneed,
    dynsym,
    sectionNames: sections.map((s) => s.name).filter(Boolean),
    hasSymtab: sections.some((s) => s.type === SHT_SYMTAB),
    hasDebugInfo: sections.some((s) => s.name && s.name.startsWith('.debug_')),
  }
}

/** Compare dotted versions numerically: '2.17' < '2.2.5'? no: 2.2.5 < 2.17. */
function compareVersions(a, b) {
  const pa = a.split('.').map(Number)
  const pb = b.split('.').map(Number)
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] || 0) - (pb[i] || 0)
    if (d) return d
  }
  return 0
}

module.exports = { parseElf, compareVersions, ElfError, MACHINES }
