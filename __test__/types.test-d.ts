// Compiled by `tsc --noEmit --strict` under TypeScript 5.x and 7.x in `npm test` (scripts/types.js,
// with __test__/tsconfig.json: `types: []` and no DOM lib, so index.d.ts must bring Node's types
// itself): proves a TypeScript user gets the result types. Lines marked @ts-expect-error must
// fail to type-check, or tsc reports them.

import { PerseClient, PerseError, isPerseError, detect, enrollment, face, startLocalServer, prepareImage } from '..'
import type { DetectResult, CompareResult, Face, PerseErrorCode, CallTrace } from '..'
import { instrumentPerse } from '../otel'
import type { TracerProvider } from '@opentelemetry/api'

async function usage(): Promise<void> {
  const client = new PerseClient({ baseUrl: 'http://127.0.0.1:8080/v0', timeoutMs: 5000, onTokenRefresh: async () => 'jwt' })
  const d: DetectResult = await client.detect(Buffer.from(''), { enduserConsent: true })
  const n: number = d.totalFaces
  const f: Face | undefined = d.faces[0]
  if (f) {
    const [x, y, w, h] = f.boundingBox
    const eye: [number, number] | undefined = f.landmarks?.rightEye
    const live: number = f.livenessScore
    const color: number | undefined = f.faceMetrics.color
    void [x, y, w, h, eye, live, color]
  }
  const c: CompareResult = await client.compare('a.jpg', { userToken: 'usr_1' }, { enduserConsent: true })
  const s: number = c.defaultThresholds.similarity
  const e = await client.enroll(new Uint8Array(0), { enduserConsent: true, signal: AbortSignal.timeout(10) })
  const token: string = e.userToken
  const l = await enrollment.list()
  const users: string[] = l.userTokens
  const q = await face.quality(new URL('file:///x.jpg'), { enduserConsent: true })
  const blurred: boolean | undefined = q.detailedFaces[0]?.isBlurred
  const v = await client.isSimilar(new ArrayBuffer(0), 'b.jpg', { enduserConsent: true })
  const verdict: 'similar' | 'not_similar' = v.code
  await detect('x.jpg', { enduserConsent: true })
  try {
    await client.enrollment.delete(token)
  } catch (err) {
    if (isPerseError(err)) {
      const code: PerseErrorCode = err.code
      const status: number | undefined = err.httpStatus
      const retry: boolean = err.retryable
      void [code, status, retry]
    }
  }
  const server = await startLocalServer({ port: 0, tokenTtlSeconds: 60 })
  server.injectFault({ path: '/face/detect', status: 503, times: 2 })
  const seen: number = server.requests()[0]?.fields[0]?.size ?? 0
  const local: PerseClient = server.client({ timeoutMs: 1000 })
  await server.close()
  void [seen, local]
  const prepared = await prepareImage('big.png', { prepare: 'fit', maxUploadBytes: 500_000 })
  const bytes: Buffer = prepared.data
  const fmt: 'jpeg' | 'png' = prepared.format
  await client.detect('big.png', { enduserConsent: true, prepare: 'fit' })
  // @ts-expect-error only 'validate' or 'fit'
  await prepareImage('big.png', { prepare: 'shrink' })
  void [bytes, fmt]
  const pe = new PerseError({ message: 'm', code: 'timeout' })
  const asError: Error = pe

  // @ts-expect-error consent is required on biometric calls
  await client.detect('x.jpg')
  // @ts-expect-error numbers are not images
  await client.detect(42, { enduserConsent: true })
  // @ts-expect-error numbers are not images, at module level either (TypeScript 7 without Node's types let this through)
  await detect(42, { enduserConsent: true })
  // @ts-expect-error nor through the browser SDK's namespace
  await face.detect(42, { enduserConsent: true })
  // @ts-expect-error nor as a side of a compare
  await client.compare(42, 'b.jpg', { enduserConsent: true })
  const viaFace: DetectResult = await face.detect(Buffer.alloc(0), { enduserConsent: true })
  const { enrollment: faceEnrollment } = face
  const listed: number = (await faceEnrollment.list()).totalUsers
  void [viaFace, listed]
  // @ts-expect-error results are typed
  const wrong: string = d.totalFaces
  void [n, s, users, blurred, verdict, asError, wrong]
}
void usage

// Observability (docs/observability.md): request ids, traces, headers, logger, perse-node/otel.
async function observability(tracerProvider: TracerProvider): Promise<void> {
  const client = new PerseClient({ headers: { 'X-Tenant': 'acme' }, logger: console })
  client.configure({ logger: null })
  const d = await client.detect('x.jpg', { enduserConsent: true, headers: { 'X-Request-Id': 'r1' } })
  const id: string = d.requestId
  const trace: CallTrace | undefined = d.trace
  const status: number | undefined = trace?.attempts[0]?.status
  try {
    await client.enrollment.list()
  } catch (e) {
    if (isPerseError(e)) {
      const rid: string | undefined = e.requestId
      void rid
    }
  }
  // @ts-expect-error header values are strings
  new PerseClient({ headers: { 'X-Count': 1 } })
  // @ts-expect-error a logger needs debug(line)
  new PerseClient({ logger: { info() {} } })
  const stop: () => void = instrumentPerse({ tracerProvider })
  instrumentPerse({ propagator: null })
  // @ts-expect-error a tracer provider, not a string
  instrumentPerse({ tracerProvider: 'otel' })
  stop()
  void [id, status]
}
void observability
