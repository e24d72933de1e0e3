'use strict'

// Typechecking: every unit in one TypeScript program (`--strict`, `checkJs` for JS,
// `module: nodenext`) against the package's own types, so a wrong API name, option or result
// field fails even in a sample that cannot run.

const fs = require('node:fs')
const path = require('node:path')
const { ROOT, unitBase } = require('./common')

/**
 * Types for what samples use but this repository does not install: just enough of express,
 * multer, Nuxt's auto-imports and jest's globals that a sample's own mistakes still show.
 * (A script, not a module: its `declare module` blocks are ambient.)
 */
const SHIMS = `
declare module 'express' {
  interface Request { body: any; file?: any; files?: any }
  interface Response { status(code: number): Response; json(body: unknown): Response }
  type Handler = (req: Request, res: Response, next: (err?: unknown) => void) => unknown
  interface App { post(path: string, ...handlers: Handler[]): App; get(path: string, ...handlers: Handler[]): App; listen(port: number): unknown }
  function express(): App
  export = express
}
declare module 'multer' {
  function multer(options?: { storage?: unknown; dest?: string; limits?: { fileSize?: number } }): {
    single(field: string): (req: any, res: any, next: (err?: unknown) => void) => void
  }
  namespace multer {
    function memoryStorage(): unknown
    function diskStorage(options: object): unknown
  }
  export = multer
}
// Nuxt / Nitro (h3) auto-imports
declare function defineEventHandler<T>(handler: (event: { node: unknown }) => T): (event: { node: unknown }) => T
declare function readFormData(event: { node: unknown }): Promise<FormData>
declare function createError(input: { statusCode: number; statusMessage?: string; message?: string }): Error
declare function setResponseStatus(event: { node: unknown }, code: number): void
// jest globals, and the global a jest globalSetup hands to its globalTeardown (jest's documented pattern)
declare var __PERSE_LOCAL__: import('perse-node').LocalServer
declare const jest: { resetModules(): void; isolateModules(fn: () => void): void }
declare function describe(name: string, fn: () => void): void
declare function test(name: string, fn: () => unknown, timeout?: number): void
declare function beforeAll(fn: () => unknown): void
declare function afterAll(fn: () => unknown): void
declare function beforeEach(fn: () => unknown): void
declare function afterEach(fn: () => unknown): void
declare function expect(value: unknown): any
`


/** Typechecks every unit in one program; returns `{ where, phase, text }` problems. */
function typecheck(ts, units, work) {
  const dir = path.join(work, 'typecheck')
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, 'shims.d.ts'), SHIMS)
  const byFile = new Map()
  const files = [path.join(dir, 'shims.d.ts')]
  for (const u of units) {
    if (u.isCli) continue
    const ext = u.isTs ? (u.esm ? '.mts' : '.cts') : u.esm ? '.mjs' : '.cjs'
    const f = path.join(dir, `${unitBase(u)}${u.mode === 'ava' ? '.test' : ''}${ext}`)
    fs.writeFileSync(f, u.code)
    files.push(f)
    byFile.set(f, u)
  }
  const program = ts.createProgram(files, {
    noEmit: true,
    strict: true,
    allowJs: true,
    checkJs: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2023.d.ts'],
    types: ['node'],
    typeRoots: [path.join(ROOT, 'node_modules', '@types')],
    skipLibCheck: true,
    noUnusedLocals: false,
  })
  const problems = []
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n  ')
    const u = d.file && byFile.get(path.resolve(d.file.fileName))
    if (!u) {
      problems.push({ where: d.file ? path.relative(ROOT, d.file.fileName) : '(typescript)', phase: 'typecheck', text: `TS${d.code}: ${text}` })
      continue
    }
    const { line } = d.file.getLineAndCharacterOfPosition(d.start)
    const mdLine = u.lineMap[line]
    problems.push({ where: u.where, phase: 'typecheck', text: `${u.file}:${mdLine}: TS${d.code}: ${text}\n  > ${u.code.split('\n')[line].trim()}` })
  }
  return problems
}

module.exports = { typecheck }
