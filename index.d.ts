/// <reference types="node" />
// Public types of perse-node. Option shapes come from the Rust source through the generated
// `binding.d.ts`; result shapes from `results.d.ts` (lib/decode.js builds them); this file adds
// the facade: PerseError, image inputs and the API. The reference above pulls in Node's types
// (Buffer, streams, fetch's Blob and Response) whatever the user's `types` setting says:
// TypeScript 6 and later include no @types package by default.
//
// Every function and method has its JSDoc (what it calls, the consent rule, the codes it can
// reject with, a one-line example); `npm run test:types` checks them through TypeScript's
// hover text. The module-level functions between the "generated" markers below are written by
// `node scripts/types.js --write` from PerseClient's methods: edit those instead.

import type * as N from './binding'
import type { AttemptTrace, CallTrace, CompareResult, DeleteResult, DetectResult, DetectThresholds, EnrollResult, Face, ListResult, Metrics } from './results'

export * from './results'

export type { PrepareOptions, PreparedImage } from './binding'
// The local server's types, copied from perse-node-local's binding (scripts/local-types.js), so
// that perse-node typechecks without perse-node-local installed.
import type * as L from './local-server'
export type { LocalServerOptions, FaultSpec, RecordedField, RecordedRequest } from './local-server'

// <generated: error codes> (npm run generate, from crates/perse-core/src/error/codes.rs)
/**
 * The code of a {@link PerseError}: client-side and server-side codes (docs/errors.md says
 * when each one happens). A server code the SDK does not know (from a newer server, say)
 * arrives as `'unexpected_error'`. The JSDoc of each call names the codes it can reject with,
 * using the groups {@link ImageErrorCode} and {@link RequestErrorCode} for the codes many
 * calls share.
 */
export type PerseErrorCode =
  | 'consent_required'
  | 'invalid_argument'
  | ImageErrorCode
  | RequestErrorCode
  | 'local_server_unavailable'
  | 'no_face_detected'
  | 'not_similar'
  | 'bad_image_quality'
  | 'image_underexposed'
  | 'image_overexposed'
  | 'user_token_not_found'
  | 'no_face_biometric_data'

/**
 * An image refused before anything is uploaded: missing, empty, not a usable image, or over
 * the byte budget.
 */
export type ImageErrorCode =
  | 'file_not_found'
  | 'empty_file'
  | 'invalid_file_type'
  | 'file_too_large'

/**
 * What any call that sends a request can reject with: the credentials were refused or could
 * not be had (`unauthorized`, `token_refresh_failed`), the transport failed (`network_error`,
 * `timeout`, `rate_limited`, `server_error`), the answer was unusable (`unexpected_error`,
 * `response_too_large`, and the contract codes `content_type_header_missing` and
 * `form_key_missing`, which this SDK's requests should never get), the call was stopped
 * (`aborted`, `client_closed`), or a bug was caught (`internal_error`).
 */
export type RequestErrorCode =
  | 'network_error'
  | 'timeout'
  | 'aborted'
  | 'server_error'
  | 'rate_limited'
  | 'response_too_large'
  | 'unexpected_error'
  | 'token_refresh_failed'
  | 'client_closed'
  | 'internal_error'
  | 'content_type_header_missing'
  | 'form_key_missing'
  | 'unauthorized'

// </generated: error codes>

/**
 * Every failure of this SDK: a rejected call, or a throw from the constructor, `configure`
 * and `onTokenRefresh`. Branch on `code`; use {@link isPerseError} rather than `instanceof`
 * when several copies of the module may be loaded (jest).
 */
export declare class PerseError extends Error {
  readonly name: 'PerseError'
  readonly code: PerseErrorCode
  readonly status: false
  /** The HTTP status when a response came back. */
  readonly httpStatus?: number
  /** Whether the same call may succeed if repeated later. */
  readonly retryable: boolean
  /** HTTP attempts made (0 when nothing was sent). */
  readonly attempts: number
  /**
   * For `token_refresh_failed`: the refresh callback's message (a string). When reading an
   * input you passed failed (a stream, Blob or Response that errored): the error it raised.
   */
  readonly cause?: unknown
  /**
   * The id of the call's last request, when one was sent: the server's (`x-request-id` or
   * similar response header) when it answered with one, else the `X-Request-Id` the SDK sent.
   * Give it to Perse support. See docs/observability.md.
   */
  readonly requestId?: string
  /** What the call did, attempt by attempt: only when it was traced (docs/observability.md). */
  readonly trace?: CallTrace
  /**
   * Builds a PerseError, for instance in a test double of your own service. Sends no request.
   * Consent: not involved. Never throws.
   * @example const e = new PerseError({ message: 'the server is busy', code: 'rate_limited', retryable: true })
   */
  constructor(info: { message: string; code: PerseErrorCode | string; httpStatus?: number; retryable?: boolean; attempts?: number; cause?: string })
}

/**
 * True for a PerseError from any realm: works where `instanceof` fails (jest module
 * registries, `vm` contexts, workers). Sends no request. Consent: not involved. Never throws.
 * @example if (isPerseError(e) && e.code === 'consent_required') return
 */
export declare function isPerseError(e: unknown): e is PerseError

/** multer's file object (memory storage: `buffer`; disk storage: `path`) or formidable's (`filepath`). */
export type UploadedFile = { fieldname?: string; originalname?: string; mimetype?: string; originalFilename?: string | null } & (
  | { buffer: Uint8Array }
  | { path: string }
  | { filepath: string }
)

/**
 * An image: bytes; a path or file URL (read off the main thread); a `Blob` or `File` (what
 * `request.formData()` gives); a fetch `Response`; a web `ReadableStream` or a Node
 * `Readable`; or a multer / formidable file object. Blobs, Responses and streams are read
 * within the call's byte budget and time limit.
 */
export type ImageInput =
  | Buffer
  | Uint8Array
  | ArrayBufferView
  | ArrayBuffer
  | string
  | URL
  | Blob
  | Response
  | ReadableStream<Uint8Array>
  | NodeJS.ReadableStream
  | UploadedFile

/** One side of a compare: an image or an enrolled user's token. */
export type CompareInput = ImageInput | { userToken: string }

/** Returns a new session token (JWT); called when the client needs one. */
export type TokenRefreshCallback = () => string | Promise<string>

export interface ClientOptions extends N.ClientOptions {
  /** Called for a new token when there is none, it is within `refreshSkewSeconds` of `exp`, or the server answers 401. */
  onTokenRefresh?: TokenRefreshCallback | null
  /**
   * Receives the debug log (one line per attempt, then the outcome) instead of
   * `NODE_DEBUG=perse-node`: a pino, winston or bunyan logger, or `console`. `null` removes it.
   * See docs/observability.md.
   */
  logger?: PerseLogger | null
}

/** A call's public name in the observability channels and spans. */
export type PerseOperation = 'login' | 'detect' | 'compare' | 'enroll' | 'enrollment.list' | 'enrollment.update' | 'enrollment.delete'

/**
 * The context of the `perse-node:call` tracing channel, version 1 (docs/observability.md):
 * `diagnostics_channel.tracingChannel<unknown, PerseCallContext>('perse-node:call')`. The
 * fields from `requestId` on are set when the call settles (from `asyncStart`, or `error`).
 */
export interface PerseCallContext {
  version: 1
  operation: PerseOperation
  method: 'POST' | 'GET' | 'PUT' | 'DELETE'
  /** The base URL's origin. */
  origin: string
  /** Extra request headers a `start` subscriber may add (`traceparent`); the caller's own `headers` win. */
  headers: Record<string, string>
  requestId?: string
  attempts?: AttemptTrace[]
  /** The last attempt's HTTP status. */
  status?: number
  refreshed?: boolean
  /** On success of an image call: what each image was uploaded as (`null` for a `{ userToken }` side). */
  uploads?: Array<{ bytes: number; format: 'jpeg' | 'png' } | null>
  /** On failure: the error's code. */
  code?: PerseErrorCode
  result?: unknown
  error?: unknown
}

/** A message of the `perse-node:attempt` channel, version 1: one per attempt of a traced call, when it settles. */
export interface PerseAttemptMessage extends AttemptTrace {
  version: 1
  operation: PerseOperation
  origin: string
  requestId?: string
  /** 1 for the first attempt. */
  attempt: number
}

/** A message of the `perse-node:token-refresh` channel, version 1: a traced call fetched a token. */
export interface PerseTokenRefreshMessage {
  version: 1
  operation: PerseOperation
  origin: string
  requestId?: string
  /** Whether the refresh worked (false: the call failed with `token_refresh_failed`). */
  ok: boolean
}

/** What the `logger` option takes: anything with a `debug(line)` method. */
export interface PerseLogger {
  /**
   * Called with each line of the debug log (one per attempt, then the outcome), already
   * free of tokens and keys. Sends no request. Consent: not involved. Never throws: what the
   * logger throws is ignored.
   * @example const logger = { debug: (line: string) => console.error(line) }
   */
  debug(line: string): unknown
}

export interface CallOptions extends Omit<N.CallOptions, 'enduserConsent'> {
  /** The end user consented to biometric processing; required (`true`) on biometric calls. */
  enduserConsent?: boolean
  /** Aborting rejects the call at once with code `aborted`. */
  signal?: AbortSignal
}

/** Biometric calls: `enduserConsent: true` is required. */
export interface BiometricOptions extends CallOptions {
  enduserConsent: boolean
}

export interface SimilarityVerdict extends Omit<CompareResult, 'status' | 'code'> {
  status: boolean
  code: 'similar' | 'not_similar'
}

export interface FaceQuality extends Face {
  isUnderexposed: boolean
  isOverexposed: boolean
  isBlurred: boolean
  /** Only from `qualityWithSpoofCheck`. */
  isSpoofing?: boolean
}

export interface QualityVerdict {
  status: boolean
  code: 'success' | 'bad_image_quality' | 'no_face_detected'
  message: string
  totalFaces: number
  detailedFaces: FaceQuality[]
  imageMetrics?: Metrics
  timeTaken?: number
  defaultThresholds?: DetectThresholds
  /** The detect call's `requestId` (absent for `no_face_detected`: see the error's). */
  requestId?: string
}

/**
 * The enrolled users: `client.enrollment`, or the module-level `enrollment` (the default
 * client's). Enrollment stores a face under a user token that you keep, to compare against
 * later.
 */
export interface Enrollment {
  /**
   * Enrolls the face in `image` under a new user token: the same call as `enroll`.
   *
   * Calls `POST /face/enrollment`, never twice once the server may have seen it: a timeout,
   * a broken connection or a 5xx rejects with `retryable: false`, because the enrollment may
   * have been made (check with `list()`).
   *
   * Consent: `enduserConsent: true` is required; without it nothing is read or sent.
   * @throws {PerseError} `consent_required`, `invalid_argument`, an {@link ImageErrorCode}, `no_face_detected`, `bad_image_quality` (the face is too small), `image_underexposed`, `image_overexposed`, or a {@link RequestErrorCode}.
   * @example const { userToken } = await perse.enrollment.create('id-photo.jpg', { enduserConsent: true })
   */
  create(image: ImageInput, options: BiometricOptions): Promise<EnrollResult>
  /**
   * The user tokens enrolled so far.
   *
   * Calls `GET /face/enrollment/list` (retried when safe).
   *
   * Consent: not needed (no biometric data is sent).
   * @throws {PerseError} `invalid_argument` (an unknown option), or a {@link RequestErrorCode}.
   * @example const { userTokens, totalUsers } = await perse.enrollment.list()
   */
  list(options?: CallOptions): Promise<ListResult>
  /**
   * The same as `list` (the browser SDK's name).
   *
   * Calls `GET /face/enrollment/list` (retried when safe).
   *
   * Consent: not needed (no biometric data is sent).
   * @throws {PerseError} `invalid_argument` (an unknown option), or a {@link RequestErrorCode}.
   * @example const { userTokens } = await perse.enrollment.read()
   */
  read(options?: CallOptions): Promise<ListResult>
  /**
   * Replaces an enrolled user's face with the face in `image`; the user token stays the same.
   *
   * Calls `PUT /face/enrollment`, never twice once the server may have seen it (as `create`).
   *
   * Consent: `enduserConsent: true` is required; without it nothing is read or sent.
   * @throws {PerseError} `consent_required`, `invalid_argument`, an {@link ImageErrorCode}, `user_token_not_found`, `no_face_detected`, `bad_image_quality`, `image_underexposed`, `image_overexposed`, or a {@link RequestErrorCode}.
   * @example await perse.enrollment.update(userToken, 'selfie.jpg', { enduserConsent: true })
   */
  update(userToken: string, image: ImageInput, options: BiometricOptions): Promise<EnrollResult>
  /**
   * Deletes an enrolled user and their biometric data.
   *
   * Calls `DELETE /face/enrollment/{userToken}` (retried when safe).
   *
   * Consent: not needed (no biometric data is sent).
   * @throws {PerseError} `invalid_argument` (an empty or malformed token), `user_token_not_found`, or a {@link RequestErrorCode}.
   * @example await perse.enrollment.delete(userToken)
   */
  delete(userToken: string, options?: CallOptions): Promise<DeleteResult>
}

/**
 * A Perse API client, with its own settings and credentials; connections, and the session of
 * a private key, are shared with the process's other clients. Methods are bound, so
 * `const { detect } = client` works. Close it when done.
 */
export declare class PerseClient {
  /**
   * A client. The environment fills what the options leave out, explicit options winning:
   * `PERSE_BASE_URL`, and `PERSE_PRIVATE_KEY` when no credential option (`privateKey`,
   * `token`, `onTokenRefresh`) is given. Sends no request: the first call logs in when it has
   * a private key.
   *
   * Consent: not involved (it is given per call).
   * @throws {PerseError} `invalid_argument` (an unknown option, a wrong type or range, an unusable base URL, a private key or token that is undefined or empty), synchronously.
   * @example const perse = new PerseClient() // PERSE_BASE_URL and PERSE_PRIVATE_KEY from the environment
   */
  constructor(options?: ClientOptions)
  /** The enrolled users: create, list, update and delete. */
  readonly enrollment: Enrollment
  /** Whether `close()` was called. */
  readonly closed: boolean
  /** The base URL in use, normalised (no trailing `/`). */
  readonly baseUrl: string
  /**
   * Stores the session token (JWT) used by later calls; `null` clears it.
   *
   * Sends no request.
   *
   * Consent: not needed.
   * @throws {PerseError} `invalid_argument` (neither null nor a token of 1 to 8,192 visible ASCII characters), `client_closed`.
   * @example await perse.setToken(process.env.PERSE_TOKEN ?? null)
   */
  setToken(jwt: string | null): Promise<void>
  /**
   * Exchanges a private key for a session token, stores the token and resolves with it; a
   * one-off exchange (for a client that logs in again by itself, use the `privateKey` option).
   *
   * Calls `POST /login` (retried when safe).
   *
   * Consent: not needed (no biometric data is sent).
   * @throws {PerseError} `invalid_argument` (an empty key, or the server answered 400), `unauthorized` (the key is invalid), or a {@link RequestErrorCode}.
   * @example const jwt = await perse.login(process.env.PERSE_PRIVATE_KEY ?? '')
   */
  login(privateKey: string, options?: CallOptions): Promise<string>
  /**
   * Registers the function asked for a new JWT whenever the client needs one (no token yet,
   * one about to expire, or a 401); `null` removes it. Failures of the callback reject the
   * call that needed the token with `token_refresh_failed`.
   *
   * Sends no request.
   *
   * Consent: not needed.
   * @throws {PerseError} `invalid_argument` (neither a function nor null), `client_closed`, synchronously.
   * @example perse.onTokenRefresh(async () => (await fetch('https://auth.example.com/perse-token')).text())
   */
  onTokenRefresh(callback: TokenRefreshCallback | null): void
  /**
   * Applies client options on top of the current ones, for calls that start afterwards.
   *
   * Sends no request.
   *
   * Consent: not involved (it is given per call).
   * @throws {PerseError} `invalid_argument` (an unknown option, a wrong type or range), `client_closed`, synchronously.
   * @example perse.configure({ timeoutMs: 5000, maxRetries: 1 })
   */
  configure(options: ClientOptions): void
  /**
   * Finds the faces in an image: boxes and landmarks (in the pixels of the photo passed),
   * quality metrics and a liveness score. A photo without a face resolves with
   * `totalFaces: 0`, or rejects with `no_face_detected`, depending on the server.
   *
   * Calls `POST /face/detect` (retried when safe).
   *
   * Consent: `enduserConsent: true` is required; without it nothing is read or sent.
   * @throws {PerseError} `consent_required`, `invalid_argument`, an {@link ImageErrorCode}, `no_face_detected`, or a {@link RequestErrorCode}.
   * @example const { totalFaces, faces } = await perse.detect('photo.jpg', { enduserConsent: true })
   */
  detect(image: ImageInput, options: BiometricOptions): Promise<DetectResult>
  /**
   * The similarity (0..1) of two faces: each side is an image or `{ userToken }` of an
   * enrolled user. Compare it with `defaultThresholds.similarity`, or use `isSimilar`.
   *
   * Calls `POST /face/compare` (retried when safe).
   *
   * Consent: `enduserConsent: true` is required; without it nothing is read or sent.
   * @throws {PerseError} `consent_required`, `invalid_argument`, an {@link ImageErrorCode}, `no_face_detected`, `bad_image_quality` (a face too small to compare), `user_token_not_found`, `no_face_biometric_data`, `not_similar`, or a {@link RequestErrorCode}.
   * @example const { similarity, defaultThresholds } = await perse.compare('id-photo.jpg', 'selfie.jpg', { enduserConsent: true })
   */
  compare(a: CompareInput, b: CompareInput, options: BiometricOptions): Promise<CompareResult>
  /**
   * Enrolls the face in `image` under a new user token, which you keep to compare, update or
   * delete later.
   *
   * Calls `POST /face/enrollment`, never twice once the server may have seen it: a timeout,
   * a broken connection or a 5xx rejects with `retryable: false`, because the enrollment may
   * have been made (check with `enrollment.list()`).
   *
   * Consent: `enduserConsent: true` is required; without it nothing is read or sent.
   * @throws {PerseError} `consent_required`, `invalid_argument`, an {@link ImageErrorCode}, `no_face_detected`, `bad_image_quality` (the face is too small), `image_underexposed`, `image_overexposed`, or a {@link RequestErrorCode}.
   * @example const { userToken } = await perse.enroll('id-photo.jpg', { enduserConsent: true })
   */
  enroll(image: ImageInput, options: BiometricOptions): Promise<EnrollResult>
  /**
   * `compare`, then the browser SDK's verdict: `status: true` and code `similar` at or above
   * `defaultThresholds.similarity`, else `status: false` and `not_similar`. A "no" resolves: it
   * is a result, not an error.
   *
   * Calls `POST /face/compare` (retried when safe).
   *
   * Consent: `enduserConsent: true` is required; without it nothing is read or sent.
   * @throws {PerseError} what compare rejects with: `consent_required`, `invalid_argument`, an {@link ImageErrorCode}, `no_face_detected`, `bad_image_quality`, `user_token_not_found`, `no_face_biometric_data`, `not_similar`, or a {@link RequestErrorCode}.
   * @example const { status, code } = await perse.isSimilar('id-photo.jpg', 'selfie.jpg', { enduserConsent: true })
   */
  isSimilar(a: CompareInput, b: CompareInput, options: BiometricOptions): Promise<SimilarityVerdict>
  /**
   * `detect`, then the browser SDK's quality verdict: each face flagged `isUnderexposed`,
   * `isOverexposed` or `isBlurred` against `defaultThresholds`; code `success`,
   * `bad_image_quality` or `no_face_detected`. A bad verdict resolves with `status: false`.
   *
   * Calls `POST /face/detect` (retried when safe).
   *
   * Consent: `enduserConsent: true` is required; without it nothing is read or sent.
   * @throws {PerseError} `consent_required`, `invalid_argument`, an {@link ImageErrorCode}, or a {@link RequestErrorCode} (a photo without a face resolves with code `no_face_detected`).
   * @example const { status, code, detailedFaces } = await perse.quality('selfie.jpg', { enduserConsent: true })
   */
  quality(image: ImageInput, options: BiometricOptions): Promise<QualityVerdict>
  /**
   * As `quality`, and each face also gets `isSpoofing`: its other flags are clear but its
   * `livenessScore` is below `defaultThresholds.liveness`. A spoofing face makes the verdict
   * `bad_image_quality`.
   *
   * Calls `POST /face/detect` (retried when safe).
   *
   * Consent: `enduserConsent: true` is required; without it nothing is read or sent.
   * @throws {PerseError} `consent_required`, `invalid_argument`, an {@link ImageErrorCode}, or a {@link RequestErrorCode} (a photo without a face resolves with code `no_face_detected`).
   * @example const { status, detailedFaces } = await perse.qualityWithSpoofCheck('selfie.jpg', { enduserConsent: true })
   */
  qualityWithSpoofCheck(image: ImageInput, options: BiometricOptions): Promise<QualityVerdict>
  /**
   * Rejects the calls in flight and any later ones with `client_closed`, forgets the token
   * and private key, and releases the `onTokenRefresh` callback. A closed client can't be
   * reopened. An idle client never keeps the process alive.
   *
   * Sends no request.
   *
   * Consent: not involved. Never throws.
   * @example perse.close()
   */
  close(): void
  /**
   * `{ baseUrl, hasToken, closed }`, for logs: never the token or the key. Sends no request.
   * Consent: not involved. Never throws.
   * @example console.log(JSON.stringify(perse))
   */
  toJSON(): { baseUrl: string; hasToken: boolean; closed: boolean }
}

/**
 * The default client, which the module-level functions use; created on first use, from the
 * environment (`PERSE_BASE_URL`, `PERSE_PRIVATE_KEY`: docs/api.md#environment-variables), and
 * again after the module-level `close()`.
 *
 * Sends no request.
 *
 * Consent: not involved.
 * @throws {PerseError} `invalid_argument` (an unusable environment value, such as `PERSE_BASE_URL=http://example.com`), synchronously.
 * @example const { baseUrl } = getDefaultClient()
 */
export declare function getDefaultClient(): PerseClient
// ---- generated by `node scripts/types.js --write` from PerseClient's methods above: do not edit ----
/**
 * Applies client options on top of the current ones, for calls that start afterwards.
 *
 * Sends no request.
 *
 * Consent: not involved (it is given per call).
 *
 * Module-level: on the default client ({@link getDefaultClient}), created on first use from the environment.
 * @throws {PerseError} `invalid_argument` (an unknown option, a wrong type or range), `client_closed`, synchronously.
 * @example configure({ timeoutMs: 5000, maxRetries: 1 })
 */
export declare function configure(options: ClientOptions): void
/**
 * Stores the session token (JWT) used by later calls; `null` clears it.
 *
 * Sends no request.
 *
 * Consent: not needed.
 *
 * Module-level: on the default client ({@link getDefaultClient}), created on first use from the environment.
 * @throws {PerseError} `invalid_argument` (neither null nor a token of 1 to 8,192 visible ASCII characters), `client_closed`.
 * @example await setToken(process.env.PERSE_TOKEN ?? null)
 */
export declare function setToken(jwt: string | null): Promise<void>
/**
 * Exchanges a private key for a session token, stores the token and resolves with it; a
 * one-off exchange (for a client that logs in again by itself, use the `privateKey` option).
 *
 * Calls `POST /login` (retried when safe).
 *
 * Consent: not needed (no biometric data is sent).
 *
 * Module-level: on the default client ({@link getDefaultClient}), created on first use from the environment.
 * @throws {PerseError} `invalid_argument` (an empty key, or the server answered 400), `unauthorized` (the key is invalid), or a {@link RequestErrorCode}.
 * @example const jwt = await login(process.env.PERSE_PRIVATE_KEY ?? '')
 */
export declare function login(privateKey: string, options?: CallOptions): Promise<string>
/**
 * Registers the function asked for a new JWT whenever the client needs one (no token yet,
 * one about to expire, or a 401); `null` removes it. Failures of the callback reject the
 * call that needed the token with `token_refresh_failed`.
 *
 * Sends no request.
 *
 * Consent: not needed.
 *
 * Module-level: on the default client ({@link getDefaultClient}), created on first use from the environment.
 * @throws {PerseError} `invalid_argument` (neither a function nor null), `client_closed`, synchronously.
 * @example onTokenRefresh(async () => (await fetch('https://auth.example.com/perse-token')).text())
 */
export declare function onTokenRefresh(callback: TokenRefreshCallback | null): void
/**
 * Finds the faces in an image: boxes and landmarks (in the pixels of the photo passed),
 * quality metrics and a liveness score. A photo without a face resolves with
 * `totalFaces: 0`, or rejects with `no_face_detected`, depending on the server.
 *
 * Calls `POST /face/detect` (retried when safe).
 *
 * Consent: `enduserConsent: true` is required; without it nothing is read or sent.
 *
 * Module-level: on the default client ({@link getDefaultClient}), created on first use from the environment.
 * @throws {PerseError} `consent_required`, `invalid_argument`, an {@link ImageErrorCode}, `no_face_detected`, or a {@link RequestErrorCode}.
 * @example const { totalFaces, faces } = await detect('photo.jpg', { enduserConsent: true })
 */
export declare function detect(image: ImageInput, options: BiometricOptions): Promise<DetectResult>
/**
 * The similarity (0..1) of two faces: each side is an image or `{ userToken }` of an
 * enrolled user. Compare it with `defaultThresholds.similarity`, or use `isSimilar`.
 *
 * Calls `POST /face/compare` (retried when safe).
 *
 * Consent: `enduserConsent: true` is required; without it nothing is read or sent.
 *
 * Module-level: on the default client ({@link getDefaultClient}), created on first use from the environment.
 * @throws {PerseError} `consent_required`, `invalid_argument`, an {@link ImageErrorCode}, `no_face_detected`, `bad_image_quality` (a face too small to compare), `user_token_not_found`, `no_face_biometric_data`, `not_similar`, or a {@link RequestErrorCode}.
 * @example const { similarity, defaultThresholds } = await compare('id-photo.jpg', 'selfie.jpg', { enduserConsent: true })
 */
export declare function compare(a: CompareInput, b: CompareInput, options: BiometricOptions): Promise<CompareResult>
/**
 * Enrolls the face in `image` under a new user token, which you keep to compare, update or
 * delete later.
 *
 * Calls `POST /face/enrollment`, never twice once the server may have seen it: a timeout,
 * a broken connection or a 5xx rejects with `retryable: false`, because the enrollment may
 * have been made (check with `enrollment.list()`).
 *
 * Consent: `enduserConsent: true` is required; without it nothing is read or sent.
 *
 * Module-level: on the default client ({@link getDefaultClient}), created on first use from the environment.
 * @throws {PerseError} `consent_required`, `invalid_argument`, an {@link ImageErrorCode}, `no_face_detected`, `bad_image_quality` (the face is too small), `image_underexposed`, `image_overexposed`, or a {@link RequestErrorCode}.
 * @example const { userToken } = await enroll('id-photo.jpg', { enduserConsent: true })
 */
export declare function enroll(image: ImageInput, options: BiometricOptions): Promise<EnrollResult>
/**
 * `compare`, then the browser SDK's verdict: `status: true` and code `similar` at or above
 * `defaultThresholds.similarity`, else `status: false` and `not_similar`. A "no" resolves: it
 * is a result, not an error.
 *
 * Calls `POST /face/compare` (retried when safe).
 *
 * Consent: `enduserConsent: true` is required; without it nothing is read or sent.
 *
 * Module-level: on the default client ({@link getDefaultClient}), created on first use from the environment.
 * @throws {PerseError} what compare rejects with: `consent_required`, `invalid_argument`, an {@link ImageErrorCode}, `no_face_detected`, `bad_image_quality`, `user_token_not_found`, `no_face_biometric_data`, `not_similar`, or a {@link RequestErrorCode}.
 * @example const { status, code } = await isSimilar('id-photo.jpg', 'selfie.jpg', { enduserConsent: true })
 */
export declare function isSimilar(a: CompareInput, b: CompareInput, options: BiometricOptions): Promise<SimilarityVerdict>
/**
 * `detect`, then the browser SDK's quality verdict: each face flagged `isUnderexposed`,
 * `isOverexposed` or `isBlurred` against `defaultThresholds`; code `success`,
 * `bad_image_quality` or `no_face_detected`. A bad verdict resolves with `status: false`.
 *
 * Calls `POST /face/detect` (retried when safe).
 *
 * Consent: `enduserConsent: true` is required; without it nothing is read or sent.
 *
 * Module-level: on the default client ({@link getDefaultClient}), created on first use from the environment.
 * @throws {PerseError} `consent_required`, `invalid_argument`, an {@link ImageErrorCode}, or a {@link RequestErrorCode} (a photo without a face resolves with code `no_face_detected`).
 * @example const { status, code, detailedFaces } = await quality('selfie.jpg', { enduserConsent: true })
 */
export declare function quality(image: ImageInput, options: BiometricOptions): Promise<QualityVerdict>
/**
 * As `quality`, and each face also gets `isSpoofing`: its other flags are clear but its
 * `livenessScore` is below `defaultThresholds.liveness`. A spoofing face makes the verdict
 * `bad_image_quality`.
 *
 * Calls `POST /face/detect` (retried when safe).
 *
 * Consent: `enduserConsent: true` is required; without it nothing is read or sent.
 *
 * Module-level: on the default client ({@link getDefaultClient}), created on first use from the environment.
 * @throws {PerseError} `consent_required`, `invalid_argument`, an {@link ImageErrorCode}, or a {@link RequestErrorCode} (a photo without a face resolves with code `no_face_detected`).
 * @example const { status, detailedFaces } = await qualityWithSpoofCheck('selfie.jpg', { enduserConsent: true })
 */
export declare function qualityWithSpoofCheck(image: ImageInput, options: BiometricOptions): Promise<QualityVerdict>
/**
 * Rejects the calls in flight and any later ones with `client_closed`, forgets the token
 * and private key, and releases the `onTokenRefresh` callback. A closed client can't be
 * reopened. An idle client never keeps the process alive.
 *
 * Sends no request.
 *
 * Consent: not involved. Never throws.
 *
 * Module-level: closes the default client and forgets it; the next module-level call creates a fresh one, reading the environment again.
 * @example close()
 */
export declare function close(): void
// ---- end of generated ----
/** The default client's enrolled users: create, list, update and delete. */
export declare const enrollment: Enrollment
/**
 * The browser SDK's `Perse.face` namespace, on the default client: `face.detect`,
 * `face.compare`, `face.isSimilar`, `face.quality`, `face.qualityWithSpoofCheck` and
 * `face.enrollment` are the module-level functions of the same names (there is no
 * `face.enroll`: use `face.enrollment.create`).
 */
export declare namespace face {
  export { detect, compare, isSimilar, quality, qualityWithSpoofCheck, enrollment }
}

/** A running local Perse-compatible server, from {@link startLocalServer} (see docs/local-server.md). */
export interface LocalServer {
  /** Base URL to pass as `baseUrl` as it is (ends in `/v0`). */
  readonly url: string
  /** The TCP port it listens on. */
  readonly port: number
  /** The private key this server's `/login` accepts. */
  readonly privateKey: string
  /** Whether `close()` was called. */
  readonly closed: boolean
  /**
   * Answers the next `times` (default 1) matching requests with `status` and `body`, after
   * `delayMs`; with `reachCaller: true`, every attempt of the next call, so that the call
   * itself fails.
   *
   * Sends no request (the server is in this process).
   *
   * Consent: not involved.
   * @throws {PerseError} `invalid_argument` (an unknown field, a wrong type or range), synchronously.
   * @example server.injectFault({ path: '/face/detect', status: 503, reachCaller: true })
   */
  injectFault(fault: L.FaultSpec): void
  /**
   * Every token issued so far stops working now: the next call gets a 401 and logs in again.
   * Sends no request. Consent: not involved. Never throws.
   * @example server.expireTokens()
   */
  expireTokens(): void
  /**
   * The requests seen so far: method, path, field names and sizes, never image bytes or
   * tokens. Sends no request. Consent: not involved. Never throws.
   * @example const paths = server.requests().map((r) => r.path)
   */
  requests(): L.RecordedRequest[]
  /**
   * Forgets enrollments, injected faults and the request log. Sends no request. Consent: not
   * involved. Never throws.
   * @example server.reset()
   */
  reset(): void
  /**
   * A new PerseClient pointed at this server, logging in with its private key; `options` are
   * added (`timeoutMs`, `maxRetries`, ...). Sends no request until its first call.
   *
   * Consent: not involved (it is given per call).
   * @throws {PerseError} `invalid_argument` (an unknown option, a wrong type or range), synchronously.
   * @example const perse = server.client({ retryBaseDelayMs: 10 })
   */
  client(options?: ClientOptions): PerseClient
  /**
   * Stops the server; resolves once it has stopped. Sends no request. Consent: not involved.
   * Never rejects.
   * @example await server.close()
   */
  close(): Promise<void>
  /**
   * `{ url, closed }`, for logs: never the private key. Sends no request. Consent: not
   * involved. Never throws.
   * @example console.log(JSON.stringify(server))
   */
  toJSON(): { url: string; closed: boolean }
}

/**
 * Starts a local Perse-compatible server in this process (default: 127.0.0.1, a free port,
 * 15-minute tokens), with a real face engine, for development and tests. Needs the
 * devDependency perse-node-local, of the same version. Close it when done.
 *
 * Sends no request.
 *
 * Consent: not involved; the server requires `enduserConsent` as the hosted API does.
 * @throws {PerseError} `local_server_unavailable` (perse-node-local is missing, of another version, or has no binary for this platform: the message has the `npm install` command), `invalid_argument`, `network_error` (the port is in use).
 * @example const server = await startLocalServer({ port: 8080 })
 */
export declare function startLocalServer(options?: L.LocalServerOptions): Promise<LocalServer>

/** The test controls of a local server this process did not start, over HTTP. */
export interface LocalServerControl {
  /**
   * As `LocalServer.injectFault`, on the server.
   *
   * Calls `POST /__perse/faults` (the server's test controls, with its private key as bearer).
   *
   * Consent: not involved.
   * @throws {PerseError} `invalid_argument` (a wrong fault), or the server's error code; `network_error` when the server can't be reached, `timeout` after `timeoutMs`, `response_too_large` past 16 MiB.
   * @example await control.injectFault({ path: '/face/detect', status: 503, reachCaller: true })
   */
  injectFault(fault: L.FaultSpec): Promise<void>
  /**
   * As `LocalServer.expireTokens`, on the server.
   *
   * Calls `POST /__perse/expire-tokens`.
   *
   * Consent: not involved.
   * @throws {PerseError} the server's error code (`unauthorized`, `unexpected_error`); `network_error` when the server can't be reached, `timeout` after `timeoutMs`, `response_too_large` past 16 MiB.
   * @example await control.expireTokens()
   */
  expireTokens(): Promise<void>
  /**
   * As `LocalServer.reset`, on the server.
   *
   * Calls `POST /__perse/reset`.
   *
   * Consent: not involved.
   * @throws {PerseError} the server's error code (`unauthorized`, `unexpected_error`); `network_error` when the server can't be reached, `timeout` after `timeoutMs`, `response_too_large` past 16 MiB.
   * @example await control.reset()
   */
  reset(): Promise<void>
  /**
   * As `LocalServer.requests`, from the server.
   *
   * Calls `GET /__perse/requests`.
   *
   * Consent: not involved.
   * @throws {PerseError} the server's error code (`unauthorized`, `unexpected_error`); `network_error` when the server can't be reached, `timeout` after `timeoutMs`, `response_too_large` past 16 MiB.
   * @example const log = await control.requests()
   */
  requests(): Promise<L.RecordedRequest[]>
}

/** Where `controlLocalServer` finds the server, and how it reaches it. */
export interface LocalServerControlOptions {
  /** The server's base URL; default `PERSE_BASE_URL`. https, or plain http only on loopback (or with `allowInsecureHttp`), as for a client. */
  url?: string
  /** The server's private key, sent as bearer; default `PERSE_PRIVATE_KEY`. */
  privateKey?: string
  /** Allow plain `http://` off loopback (a server in another container); default `PERSE_ALLOW_INSECURE_HTTP`. Sends the key in clear text. */
  allowInsecureHttp?: boolean
  /** How long each control waits for the server, in ms (1 to 600000); default 30000. */
  timeoutMs?: number
}

/**
 * The test controls of a local server started elsewhere (jest's global setup, another
 * container). Defaults: `PERSE_BASE_URL` and `PERSE_PRIVATE_KEY`, as the global setup exports
 * them. The URL follows a client's transport rules, so the key never goes where a client
 * would not send it. Sends no request itself: each control does.
 *
 * Consent: not involved.
 * @throws {PerseError} `invalid_argument` (no URL or private key, or a URL a client would refuse), synchronously.
 * @example const control = controlLocalServer()
 */
export declare function controlLocalServer(server?: LocalServerControlOptions): LocalServerControl

/**
 * What an upload would send for `image` (`prepare: 'auto'` by default): the bytes, size and
 * format after orientation, conversion and shrinking. Runs on a worker thread.
 *
 * Sends no request.
 *
 * Consent: not needed (nothing leaves the process).
 * @throws {PerseError} `invalid_argument`, an {@link ImageErrorCode}, `timeout` (a Blob, Response or stream slower than `timeoutMs`, default 60 s), `internal_error`.
 * @example const { data, width, height, format } = await prepareImage('large.png', { maxUploadBytes: 500_000 })
 */
export declare function prepareImage(image: ImageInput, options?: PrepareImageOptions): Promise<N.PreparedImage>

/** prepareImage's options: the preparation settings, and how long a Blob, Response or stream may take to read. */
export interface PrepareImageOptions extends N.PrepareOptions {
  /** How long reading a Blob, Response or stream may take, in ms (1 to 600000); default 60000. */
  timeoutMs?: number
}
