// Result shapes of perse-node's calls. lib/decode.js builds them from the native completion
// batches (the flat layout is written by src/queue/batch.rs and checked by
// __test__/layout.spec.js); index.d.ts re-exports every name here.

/** Quality metrics of a face crop or of the whole image. */
export interface Metrics {
  /** 0..1, loss of shadow detail (closer to 0 is better). */
  underexposure: number
  /** 0..1, loss of highlight detail (closer to 0 is better). */
  overexposure: number
  /** 0..1, absence of blur (closer to 1 is better). */
  sharpness: number
  /** 0..1, colour degradation (newer API versions only). */
  color?: number
  /** 0..360, head rotation away from the camera (newer API versions only). */
  rotation?: number
}

/**
 * Five facial points, each `[x, y]` in pixels of the photo the caller passed, as a viewer
 * displays it (EXIF orientation applied, full resolution).
 */
export interface Landmarks {
  rightEye: [number, number]
  leftEye: [number, number]
  nose: [number, number]
  mouthRight: [number, number]
  mouthLeft: [number, number]
}

/** One detected face. */
export interface Face {
  /**
   * `[x, y, width, height]` in pixels of the photo the caller passed, as a viewer displays it
   * (EXIF orientation applied, full resolution), whatever was uploaded: draw it on that photo.
   */
  boundingBox: [number, number, number, number]
  /** Absent when the server does not compute landmarks. */
  landmarks?: Landmarks
  faceMetrics: Metrics
  /** 0..1, confidence that the face is a live person (1 = live). */
  livenessScore: number
}

/** Recommended limits for a detection. */
export interface DetectThresholds {
  underexposure: number
  overexposure: number
  sharpness: number
  liveness: number
}

/** Result of `detect`. */
export interface DetectResult {
  status: boolean
  code: 'success'
  message: string
  totalFaces: number
  faces: Array<Face>
  imageMetrics: Metrics
  /** Seconds the server spent. */
  timeTaken: number
  defaultThresholds: DetectThresholds
  /** What was uploaded for the image. */
  uploaded: Uploaded | null
}

/** What was uploaded for one image (after `prepare`). */
export interface Uploaded {
  width: number
  height: number
  format: 'jpeg' | 'png'
  /** Size of the uploaded file. */
  bytes: number
  /** Uploaded pixels per displayed pixel of the original photo (1 when sent as it is). */
  scale: number
  /** The photo's EXIF orientation was applied to the uploaded pixels. */
  orientationApplied: boolean
}

/** Recommended similarity limit. */
export interface CompareThresholds {
  similarity: number
}

/** Result of `compare`. */
export interface CompareResult {
  status: boolean
  code: 'success'
  message: string
  /** 0..1; compare with `defaultThresholds.similarity`. */
  similarity: number
  timeTaken: number
  defaultThresholds: CompareThresholds
  /** What was uploaded for each side (`null` for a `{ userToken }` side). */
  uploaded: { a: Uploaded | null; b: Uploaded | null }
}

/** Result of `enroll` and `enrollment.update`. */
export interface EnrollResult {
  status: boolean
  code: 'success'
  message: string
  /** The enrolled user's token; store it to compare, update or delete later. */
  userToken: string
  timeTaken: number
  /** What was uploaded for the image. */
  uploaded: Uploaded | null
}

/** Result of `enrollment.list`. */
export interface ListResult {
  status: boolean
  code: 'success'
  message: string
  userTokens: Array<string>
  totalUsers: number
  timeTaken: number
}

/** Result of `enrollment.delete`. */
export interface DeleteResult {
  status: boolean
  code: 'success'
  message: string
  timeTaken: number
}
