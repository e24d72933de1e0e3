// Public types of perse-node. Option shapes come from the Rust source through the generated
// `binding.d.ts`; result shapes from `results.d.ts` (lib/decode.js builds them); this file adds
// the facade: PerseError, image inputs and the API.

import type * as N from './binding'
import type { CompareResult, DeleteResult, DetectResult, DetectThresholds, EnrollResult, Face, ListResult, Metrics } from './results'

export * from './results'

export type { PrepareOptions, PreparedImage } from './binding'
// The local server's types, copied from perse-node-local's binding (scripts/local-types.js), so
// that perse-node typechecks without perse-node-local installed.
import type * as L from './local-server'
export type { LocalServerOptions, FaultSpec, RecordedField, RecordedRequest } from './local-server'

/** Client-side and server-side error codes (see docs/errors.md). A server code the SDK does not know (from a newer server, say) arrives as `'unexpected_error'`. */
export type PerseErrorCode =
  | 'consent_required'
  | 'invalid_argument'
  | 'file_not_found'
  | 'empty_file'
  | 'invalid_file_type'
  | 'file_too_large'
  | 'network_error'
  | 'timeout'
  | 'aborted'
  | 'server_error'
  | 'rate_limited'
  | 'unexpected_error'
  | 'token_refresh_failed'
  | 'client_closed'
  | 'response_too_large'
  | 'internal_error'
  | 'local_server_unavailable'
  | 'unauthorized'
  | 'content_type_header_missing'
  | 'no_face_detected'
  | 'form_key_missing'
  | 'not_similar'
  | 'bad_image_quality'
  | 'image_underexposed'
  | 'image_overexposed'
  | 'user_token_not_found'
  | 'no_face_biometric_data'

/** Every failure of this SDK. */
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
  /** For `token_refresh_failed`: the refresh callback's message. */
  readonly cause?: unknown
  constructor(info: { message: string; code: PerseErrorCode | string; httpStatus?: number; retryable?: boolean; attempts?: number; cause?: string })
}

/** True for a PerseError from any realm (works where `instanceof` fails, e.g. across jest module registries). */
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
}

export interface Enrollment {
  /** Same as `enroll`. */
  create(image: ImageInput, options: BiometricOptions): Promise<EnrollResult>
  list(options?: CallOptions): Promise<ListResult>
  /** Same as `list` (the browser SDK's name). */
  read(options?: CallOptions): Promise<ListResult>
  update(userToken: string, image: ImageInput, options: BiometricOptions): Promise<EnrollResult>
  delete(userToken: string, options?: CallOptions): Promise<DeleteResult>
}

export declare class PerseClient {
  constructor(options?: ClientOptions)
  readonly enrollment: Enrollment
  readonly closed: boolean
  readonly baseUrl: string
  setToken(jwt: string | null): Promise<void>
  login(privateKey: string, options?: CallOptions): Promise<string>
  onTokenRefresh(callback: TokenRefreshCallback | null): void
  configure(options: ClientOptions): void
  detect(image: ImageInput, options: BiometricOptions): Promise<DetectResult>
  compare(a: CompareInput, b: CompareInput, options: BiometricOptions): Promise<CompareResult>
  enroll(image: ImageInput, options: BiometricOptions): Promise<EnrollResult>
  isSimilar(a: CompareInput, b: CompareInput, options: BiometricOptions): Promise<SimilarityVerdict>
  quality(image: ImageInput, options: BiometricOptions): Promise<QualityVerdict>
  qualityWithSpoofCheck(image: ImageInput, options: BiometricOptions): Promise<QualityVerdict>
  close(): void
  toJSON(): { baseUrl: string; hasToken: boolean; closed: boolean }
}

export declare function getDefaultClient(): PerseClient
export declare function configure(options: ClientOptions): void
export declare function setToken(jwt: string | null): Promise<void>
export declare function login(privateKey: string, options?: CallOptions): Promise<string>
export declare function onTokenRefresh(callback: TokenRefreshCallback | null): void
export declare function detect(image: ImageInput, options: BiometricOptions): Promise<DetectResult>
export declare function compare(a: CompareInput, b: CompareInput, options: BiometricOptions): Promise<CompareResult>
export declare function enroll(image: ImageInput, options: BiometricOptions): Promise<EnrollResult>
export declare function isSimilar(a: CompareInput, b: CompareInput, options: BiometricOptions): Promise<SimilarityVerdict>
export declare function quality(image: ImageInput, options: BiometricOptions): Promise<QualityVerdict>
export declare function qualityWithSpoofCheck(image: ImageInput, options: BiometricOptions): Promise<QualityVerdict>
export declare function close(): void
export declare const enrollment: Enrollment
/** The browser SDK's `Perse.face` namespace. */
export declare const face: {
  detect: typeof detect
  compare: typeof compare
  isSimilar: typeof isSimilar
  quality: typeof quality
  qualityWithSpoofCheck: typeof qualityWithSpoofCheck
  enrollment: Enrollment
}

/** A running local Perse-compatible server (see docs/local-server.md). */
export declare class LocalServer {
  /** Base URL to pass as `baseUrl` as it is (ends in `/v0`). */
  readonly url: string
  readonly port: number
  /** The private key this server's `/login` accepts. */
  readonly privateKey: string
  readonly closed: boolean
  /** Answers the next `times` (default 1) matching requests with `status`/`body`, after `delayMs`. */
  injectFault(fault: L.FaultSpec): void
  /** Every token issued so far stops working now. */
  expireTokens(): void
  /** Requests seen so far (names and sizes, never image bytes or tokens). */
  requests(): L.RecordedRequest[]
  /** Forgets enrollments, injected faults and the request log. */
  reset(): void
  /** A PerseClient pointed at this server, logging in with its private key. */
  client(options?: ClientOptions): PerseClient
  close(): Promise<void>
  toJSON(): { url: string; closed: boolean }
}

/** Starts a local Perse-compatible server (default: 127.0.0.1, a free port, 15-minute tokens). */
export declare function startLocalServer(options?: L.LocalServerOptions): Promise<LocalServer>

/** The test controls of a local server this process did not start, over HTTP. */
export interface LocalServerControl {
  injectFault(fault: L.FaultSpec): Promise<void>
  expireTokens(): Promise<void>
  reset(): Promise<void>
  requests(): Promise<L.RecordedRequest[]>
}

/** Controls a local server started elsewhere (jest's global setup); defaults: PERSE_BASE_URL and PERSE_PRIVATE_KEY. */
export declare function controlLocalServer(server?: { url?: string; privateKey?: string }): LocalServerControl

/** What an upload would send for `image` (`prepare: 'auto'` by default). */
export declare function prepareImage(image: ImageInput, options?: N.PrepareOptions): Promise<N.PreparedImage>
