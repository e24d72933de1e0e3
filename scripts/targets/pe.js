'use strict'

// A small PE reader, pure JS: just what check.js needs to judge a Windows .node file (a DLL)
// without Windows. PE32+ only. Reads the COFF and optional headers, the section table, the
// export directory (names) and the import directory (each DLL and the functions taken from it),
// including delay-load imports.

const fs = require('node:fs')

const MACHINES = { 0x8664: 'AMD64', 0xaa64: 'ARM64', 0x14c: 'i386' }
const IMAGE_FILE_DLL = 0x2000
const DLL_CHARACTERISTICS = { HIGH_ENTROPY_VA: 0x20, DYNAMIC_BASE: 0x40, NX_COMPAT: 0x100 }

class PeError extends Error {}

function parsePe(input) {
  const buf = Buffer.isBuffer(input) ? input : fs.readFileSync(input)
  const check = (off, len, what) => {
    if (off < 0 || len < 0 || off + len > buf.length) throw new PeError(`truncated PE: ${what} at ${off}+${len} is past the end (${buf.length} bytes)`)
  }
  const u16 = (o) => (check(o, 2, 'u16'), buf.readUInt16LE(o))
  const u32 = (o) => (check(o, 4, 'u32'), buf.readUInt32LE(o))
  if (buf.length < 64 || buf.toString('latin1', 0, 2) !== 'MZ') throw new PeError('not a PE file (no MZ header)')
  const pe = u32(0x3c)
  check(pe, 24, 'PE header')
  if (buf.readUInt32BE(pe) !== 0x50450000) throw new PeError('not a PE file (no PE signature)')
  const coff = pe + 4
  const p = {
    size: buf.length,
    machine: u16(coff),
    characteristics: u16(coff + 18),
    symbolTable: u32(coff + 8),
    symbolCount: u32(coff + 12),
    sections: [],
    exports: [],
    imports: [], // { dll, functions: [names], delay: bool }
  }
  p.machineName = MACHINES[p.machine] || `machine 0x${p.machine.toString(16)}`
  p.isDll = (p.characteristics & IMAGE_FILE_DLL) !== 0
  const nsections = u16(coff + 2)
  const optSize = u16(coff + 16)
  const opt = coff + 20
  const magic = u16(opt)
  if (magic !== 0x20b) throw new PeError(`optional header magic 0x${magic.toString(16)} is not PE32+ (0x20b)`)
  p.osVersion = `${u16(opt + 40)}.${u16(opt + 42)}`
  p.subsystemVersion = `${u16(opt + 48)}.${u16(opt + 50)}`
  const dllChars = u16(opt + 70)
  p.dllCharacteristics = Object.entries(DLL_CHARACTERISTICS).filter(([, bit]) => dllChars & bit).map(([name]) => name)
  const ndirs = u32(opt + 108)
  const dir = (i) => (i < ndirs ? { rva: u32(opt + 112 + i * 8), size: u32(opt + 116 + i * 8) } : { rva: 0, size: 0 })

  const sectab = opt + optSize
  for (let i = 0; i < nsections; i++) {
    const s = sectab + i * 40
    check(s, 40, 'section header')
    p.sections.push({ name: buf.toString('latin1', s, s + 8).replace(/\0+$/, ''), vsize: u32(s + 8), rva: u32(s + 12), rawSize: u32(s + 16), raw: u32(s + 20) })
  }
  const offsetOf = (rva) => {
    const s = p.sections.find((x) => rva >= x.rva && rva < x.rva + Math.max(x.vsize, x.rawSize))
    if (!s) throw new PeError(`RVA 0x${rva.toString(16)} is in no section`)
    return s.raw + (rva - s.rva)
  }
  const cstr = (rva) => {
    const o = offsetOf(rva)
    check(o, 1, 'string')
    const end = buf.indexOf(0, o)
    if (end < 0) throw new PeError(`unterminated string at RVA 0x${rva.toString(16)}`)
    return buf.toString('latin1', o, end)
  }
  // Names of an import lookup table (64-bit entries; high bit set = by ordinal).
  const thunkNames = (rva) => {
    const names = []
    for (let o = offsetOf(rva); ; o += 8) {
      check(o, 8, 'import lookup table')
      const v = buf.readBigUInt64LE(o)
      if (v === 0n) break
      names.push(v & (1n << 63n) ? `#${Number(v & 0xffffn)}` : cstr(Number(v & 0x7fffffffn) + 2))
    }
    return names
  }

  const exp = dir(0)
  if (exp.rva) {
    const o = offsetOf(exp.rva)
    const count = u32(o + 24)
    const names = offsetOf(u32(o + 32))
    for (let i = 0; i < count; i++) p.exports.push(cstr(u32(names + i * 4)))
  }
  const imp = dir(1)
  if (imp.rva) {
    for (let o = offsetOf(imp.rva); ; o += 20) {
      check(o, 20, 'import descriptor')
      const lookup = u32(o) || u32(o + 16)
      const name = u32(o + 12)
      if (!name && !lookup) break
      p.imports.push({ dll: cstr(name), functions: lookup ? thunkNames(lookup) : [], delay: false })
    }
  }
  const delay = dir(13)
  if (delay.rva) {
    for (let o = offsetOf(delay.rva); ; o += 32) {
      check(o, 32, 'delay-load descriptor')
      const name = u32(o + 4)
      if (!name) break
      p.imports.push({ dll: cstr(name), functions: u32(o + 16) ? thunkNames(u32(o + 16)) : [], delay: true })
    }
  }
  p.hasDebug = dir(6).size > 0 || p.sections.some((s) => s.name.startsWith('.debug') || /^\/\d+$/.test(s.name))
  return p
}

module.exports = { parsePe, PeError }
