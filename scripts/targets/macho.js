'use strict'

// A small Mach-O reader, pure JS: just what check.js needs to judge a macOS .node file without
// a Mac. 64-bit little-endian Mach-O (thin, not universal). Reads the header, the load commands
// (dylibs, install name, build version, code signature, symbol tables), the symbol table
// (exported and undefined symbols, with the library each undefined one is bound to), and the
// code signature's CodeDirectory, whose page hashes it recomputes.

const crypto = require('node:crypto')
const fs = require('node:fs')

const MH_MAGIC_64 = 0xfeedfacf
const FAT_MAGIC = 0xcafebabe
const CPU_TYPES = { 0x01000007: 'x86_64', 0x0100000c: 'arm64', 7: 'i386', 12: 'arm' }
const FILE_TYPES = { 1: 'OBJECT', 2: 'EXECUTE', 6: 'DYLIB', 8: 'BUNDLE' }
const MH_TWOLEVEL = 0x80
const LC = {
  SYMTAB: 0x2,
  DYSYMTAB: 0xb,
  LOAD_DYLIB: 0xc,
  ID_DYLIB: 0xd,
  SEGMENT_64: 0x19,
  CODE_SIGNATURE: 0x1d,
  LAZY_LOAD_DYLIB: 0x20,
  VERSION_MIN_MACOSX: 0x24,
  BUILD_VERSION: 0x32,
  LOAD_WEAK_DYLIB: 0x80000018,
  RPATH: 0x8000001c,
  REEXPORT_DYLIB: 0x8000001f,
  LOAD_UPWARD_DYLIB: 0x80000023,
  DYLD_INFO: 0x22,
  DYLD_INFO_ONLY: 0x80000022,
  DYLD_CHAINED_FIXUPS: 0x80000034,
}
const DYLIB_LOADS = new Set([LC.LOAD_DYLIB, LC.LAZY_LOAD_DYLIB, LC.LOAD_WEAK_DYLIB, LC.REEXPORT_DYLIB, LC.LOAD_UPWARD_DYLIB])
const PLATFORMS = { 1: 'macos', 2: 'ios', 3: 'tvos', 4: 'watchos', 6: 'maccatalyst' }
// nlist n_type bits, and the special library ordinals of n_desc.
const N_STAB = 0xe0
const N_TYPE = 0x0e
const N_EXT = 0x01
const N_UNDF = 0x0
const N_SECT = 0xe
const DYNAMIC_LOOKUP_ORDINAL = 0xfe
const EXECUTABLE_ORDINAL = 0xff
// Code signing (big-endian blobs).
const CSMAGIC_EMBEDDED_SIGNATURE = 0xfade0cc0
const CSMAGIC_CODEDIRECTORY = 0xfade0c02
const CS_HASH = { 1: ['sha1', 20], 2: ['sha256', 32], 3: ['sha256', 32], 4: ['sha384', 48] }
const CS_ADHOC = 0x2

class MachOError extends Error {}

/** X.Y.Z from the nibble-packed xxxx.yy.zz of LC_BUILD_VERSION / LC_VERSION_MIN_*. */
const version = (v) => `${v >>> 16}.${(v >>> 8) & 0xff}${v & 0xff ? `.${v & 0xff}` : ''}`

function parseMachO(input) {
  const buf = Buffer.isBuffer(input) ? input : fs.readFileSync(input)
  if (buf.length < 32) throw new MachOError('not a Mach-O file (too short)')
  if (buf.readUInt32BE(0) === FAT_MAGIC) throw new MachOError('a universal (fat) Mach-O; each napi platform package ships one architecture')
  if (buf.readUInt32LE(0) !== MH_MAGIC_64) throw new MachOError('not a 64-bit Mach-O file (bad magic)')
  const check = (off, len, what) => {
    if (off < 0 || len < 0 || off + len > buf.length) throw new MachOError(`truncated Mach-O: ${what} at ${off}+${len} is past the end (${buf.length} bytes)`)
  }
  const u32 = (o) => (check(o, 4, 'u32'), buf.readUInt32LE(o))
  const u16 = (o) => (check(o, 2, 'u16'), buf.readUInt16LE(o))
  const u64 = (o) => (check(o, 8, 'u64'), Number(buf.readBigUInt64LE(o)))
  const cstr = (o, max = buf.length) => {
    check(o, 1, 'string')
    let end = buf.indexOf(0, o)
    if (end < 0 || end > max) end = max
    return buf.toString('utf8', o, end)
  }

  const m = {
    size: buf.length,
    cputype: u32(4),
    cpusubtype: u32(8),
    filetype: u32(12),
    flags: u32(24),
    dylibs: [], // in load order; a symbol's library ordinal N is dylibs[N - 1]
    rpaths: [],
    installName: null,
    minos: null,
    sdk: null,
    platform: null,
    codeSignature: null,
    segments: [],
    exports: [],
    undefined: [],
  }
  m.arch = CPU_TYPES[m.cputype] || `cputype 0x${m.cputype.toString(16)}`
  m.fileTypeName = FILE_TYPES[m.filetype] || `filetype ${m.filetype}`
  m.twoLevel = (m.flags & MH_TWOLEVEL) !== 0
  const ncmds = u32(16)
  const sizeofcmds = u32(20)
  check(32, sizeofcmds, 'load commands')
  let symtab = null
  let binds = null // [offset, size] of the bind, weak bind and lazy bind opcode streams
  let chained = null
  let off = 32
  for (let i = 0; i < ncmds; i++) {
    const cmd = u32(off)
    const size = u32(off + 4)
    if (size < 8 || off + size > 32 + sizeofcmds) throw new MachOError(`load command ${i} (0x${cmd.toString(16)}) has a bad size ${size}`)
    const end = off + size
    if (DYLIB_LOADS.has(cmd)) m.dylibs.push({ name: cstr(off + u32(off + 8), end), weak: cmd === LC.LOAD_WEAK_DYLIB, reexport: cmd === LC.REEXPORT_DYLIB })
    else if (cmd === LC.ID_DYLIB) m.installName = cstr(off + u32(off + 8), end)
    else if (cmd === LC.RPATH) m.rpaths.push(cstr(off + u32(off + 8), end))
    else if (cmd === LC.BUILD_VERSION) {
      m.platform = PLATFORMS[u32(off + 8)] || `platform ${u32(off + 8)}`
      m.minos = version(u32(off + 12))
      m.sdk = version(u32(off + 16))
    } else if (cmd === LC.VERSION_MIN_MACOSX) {
      m.platform = 'macos'
      m.minos = version(u32(off + 8))
      m.sdk = version(u32(off + 12))
    } else if (cmd === LC.CODE_SIGNATURE) m.codeSignature = { dataoff: u32(off + 8), datasize: u32(off + 12) }
    else if (cmd === LC.SYMTAB) symtab = { symoff: u32(off + 8), nsyms: u32(off + 12), stroff: u32(off + 16), strsize: u32(off + 20) }
    else if (cmd === LC.SEGMENT_64) m.segments.push({ name: cstr(off + 8, off + 24), fileoff: u64(off + 40), filesize: u64(off + 48) })
    else if (cmd === LC.DYLD_INFO || cmd === LC.DYLD_INFO_ONLY) binds = [[u32(off + 16), u32(off + 20)], [u32(off + 24), u32(off + 28)], [u32(off + 32), u32(off + 36)]]
    else if (cmd === LC.DYLD_CHAINED_FIXUPS) chained = { dataoff: u32(off + 8), datasize: u32(off + 12) }
    off = end
  }

  // How dyld binds each imported symbol: the library ordinal its bind opcodes (LC_DYLD_INFO) or
  // its chained-fixups import entry (LC_DYLD_CHAINED_FIXUPS) name. dyld goes by these, not by
  // the symbol table's n_desc, which some linkers leave at 0.
  const bound = new Map()
  if (binds) for (const [o, size] of binds) if (size) readBindOpcodes(buf, o, size, check, bound)
  if (chained) readChainedImports(buf, chained, check, bound)
  m.bindSource = chained ? 'chained fixups' : binds ? 'bind opcodes' : 'symbol table'
  const libraryOf = (ordinal) => {
    if (ordinal === -2 || (ordinal === DYNAMIC_LOOKUP_ORDINAL && !bound.size)) return '(dynamic lookup)'
    if (ordinal === -1 || (ordinal === EXECUTABLE_ORDINAL && !bound.size)) return '(main executable)'
    if (ordinal === -3) return '(weak lookup)'
    if (ordinal === 0) return '(self)'
    return m.dylibs[ordinal - 1] ? m.dylibs[ordinal - 1].name : `(ordinal ${ordinal}, no such dylib)`
  }

  if (symtab) {
    check(symtab.symoff, symtab.nsyms * 16, 'symbol table')
    check(symtab.stroff, symtab.strsize, 'string table')
    for (let i = 0; i < symtab.nsyms; i++) {
      const o = symtab.symoff + i * 16
      const strx = u32(o)
      const type = buf[o + 4]
      const desc = u16(o + 6)
      if (type & N_STAB || !(type & N_EXT)) continue // debugger entries and local symbols
      const name = strx < symtab.strsize ? cstr(symtab.stroff + strx, symtab.stroff + symtab.strsize) : ''
      if ((type & N_TYPE) === N_SECT) m.exports.push(name)
      else if ((type & N_TYPE) === N_UNDF) {
        let library
        if (bound.has(name)) library = libraryOf(bound.get(name))
        else if (!m.twoLevel) library = '(flat namespace)'
        else library = libraryOf((desc >> 8) & 0xff)
        m.undefined.push({ name, library })
      }
    }
  }
  if (m.codeSignature) m.codeDirectory = readCodeDirectory(buf, m.codeSignature, check)
  return m
}

const uleb = (buf, o) => {
  let v = 0
  let shift = 0
  for (;;) {
    const b = buf[o++]
    if (b === undefined) throw new MachOError('truncated ULEB128')
    v += (b & 0x7f) * 2 ** shift
    shift += 7
    if (!(b & 0x80)) return [v, o]
  }
}

/** Symbol -> library ordinal (negative: special) from one bind opcode stream (dyld's BIND_OPCODE_*). */
function readBindOpcodes(buf, start, size, check, out) {
  check(start, size, 'bind opcodes')
  const end = start + size
  let o = start
  let ordinal = 0
  let symbol = null
  while (o < end) {
    const byte = buf[o++]
    const op = byte & 0xf0
    const imm = byte & 0x0f
    if (op === 0x00) continue // DONE (lazy binds separate their entries with it)
    else if (op === 0x10) ordinal = imm // SET_DYLIB_ORDINAL_IMM
    else if (op === 0x20) [ordinal, o] = uleb(buf, o) // SET_DYLIB_ORDINAL_ULEB
    else if (op === 0x30) ordinal = imm === 0 ? 0 : (imm | 0xf0) << 24 >> 24 // SET_DYLIB_SPECIAL_IMM: -1, -2, -3
    else if (op === 0x40) { // SET_SYMBOL_TRAILING_FLAGS_IMM
      const z = buf.indexOf(0, o)
      if (z < 0 || z >= end) throw new MachOError('unterminated symbol in bind opcodes')
      symbol = buf.toString('utf8', o, z)
      o = z + 1
    } else if (op === 0x50 || op === 0xb0) { // SET_TYPE_IMM, DO_BIND_ADD_ADDR_IMM_SCALED
      if (op === 0xb0 && symbol) out.set(symbol, ordinal)
    } else if (op === 0x60 || op === 0x70 || op === 0x80) [, o] = uleb(buf, o) // addend (SLEB, same length), segment+offset, add addr
    else if (op === 0x90 || op === 0xa0) { // DO_BIND, DO_BIND_ADD_ADDR_ULEB
      if (symbol) out.set(symbol, ordinal)
      if (op === 0xa0) [, o] = uleb(buf, o)
    } else if (op === 0xc0) { // DO_BIND_ULEB_TIMES_SKIPPING_ULEB
      if (symbol) out.set(symbol, ordinal)
      ;[, o] = uleb(buf, o)
      ;[, o] = uleb(buf, o)
    } else if (op === 0xd0) { // THREADED: SET_BIND_ORDINAL_TABLE_SIZE_ULEB (0) or APPLY (1)
      if (imm === 0) [, o] = uleb(buf, o)
    } else throw new MachOError(`unknown bind opcode 0x${byte.toString(16)}`)
  }
}

/** Symbol -> library ordinal from LC_DYLD_CHAINED_FIXUPS' import table. */
function readChainedImports(buf, { dataoff, datasize }, check, out) {
  check(dataoff, Math.max(datasize, 28), 'chained fixups')
  const importsOffset = buf.readUInt32LE(dataoff + 8)
  const symbolsOffset = buf.readUInt32LE(dataoff + 12)
  const count = buf.readUInt32LE(dataoff + 16)
  const format = buf.readUInt32LE(dataoff + 20)
  const size = { 1: 4, 2: 8, 3: 16 }[format]
  if (!size) throw new MachOError(`unknown chained imports format ${format}`)
  for (let i = 0; i < count; i++) {
    const o = dataoff + importsOffset + i * size
    check(o, size, 'chained import')
    let ordinal
    let nameOffset
    if (format === 3) {
      ordinal = buf.readUInt16LE(o) & 0xffff
      ordinal = ordinal >= 0xfff0 ? ordinal - 0x10000 : ordinal
      nameOffset = buf.readUInt32LE(o + 4)
    } else {
      const v = buf.readUInt32LE(o)
      ordinal = v & 0xff
      ordinal = ordinal >= 0xf0 ? ordinal - 0x100 : ordinal
      nameOffset = v >>> 9
    }
    const n = dataoff + symbolsOffset + nameOffset
    out.set(buf.toString('utf8', n, buf.indexOf(0, n)), ordinal)
  }
}

/**
 * The code signature's CodeDirectory, with its page hashes recomputed over the file: `pagesOk`
 * is true when every page (up to codeLimit) hashes to the slot that the signature holds, i.e.
 * the file has not changed since it was signed, so macOS will accept the (ad-hoc) signature.
 */
function readCodeDirectory(buf, { dataoff, datasize }, check) {
  check(dataoff, datasize, 'code signature')
  const be32 = (o) => (check(o, 4, 'u32'), buf.readUInt32BE(o))
  if (be32(dataoff) !== CSMAGIC_EMBEDDED_SIGNATURE) return { error: `the code signature's magic is 0x${be32(dataoff).toString(16)}, not an embedded signature` }
  const count = be32(dataoff + 8)
  for (let i = 0; i < count; i++) {
    const blob = dataoff + be32(dataoff + 12 + i * 8 + 4)
    if (be32(blob) !== CSMAGIC_CODEDIRECTORY) continue
    const flags = be32(blob + 12)
    const hashOffset = be32(blob + 16)
    const identOffset = be32(blob + 20)
    const nCodeSlots = be32(blob + 28)
    const codeLimit = be32(blob + 32)
    const hashSize = buf[blob + 36]
    const hashType = buf[blob + 37]
    const pageSize = 2 ** buf[blob + 39]
    const [algorithm, size] = CS_HASH[hashType] || []
    const cd = { identifier: buf.toString('utf8', blob + identOffset, buf.indexOf(0, blob + identOffset)), adhoc: (flags & CS_ADHOC) !== 0, hash: algorithm || `type ${hashType}`, pageSize, codeLimit, pages: nCodeSlots }
    if (!algorithm || size !== hashSize) return { ...cd, error: `unknown hash type ${hashType} (size ${hashSize})` }
    if (codeLimit > dataoff) return { ...cd, error: `codeLimit ${codeLimit} reaches into the signature at ${dataoff}` }
    const bad = []
    for (let p = 0; p < nCodeSlots; p++) {
      const start = p * pageSize
      const end = Math.min(start + pageSize, codeLimit)
      const want = buf.subarray(blob + hashOffset + p * hashSize, blob + hashOffset + (p + 1) * hashSize)
      const got = crypto.createHash(algorithm).update(buf.subarray(start, end)).digest()
      if (!got.equals(want)) bad.push(p)
    }
    const expectedSlots = Math.ceil(codeLimit / pageSize)
    return { ...cd, pagesOk: bad.length === 0 && nCodeSlots === expectedSlots, badPages: bad, expectedSlots }
  }
  return { error: 'the code signature has no CodeDirectory' }
}

module.exports = { parseMachO, MachOError }
