// perse-node/otel: OpenTelemetry spans for perse-node calls (docs/observability.md).
import type { TextMapPropagator, TracerProvider } from '@opentelemetry/api'

export interface InstrumentPerseOptions {
  /** Where the spans go; default: the global tracer provider (`trace.getTracerProvider()`). */
  tracerProvider?: TracerProvider
  /**
   * Writes the trace context into each call's request headers; default: the global propagator
   * (`propagation`, W3C `traceparent`/`tracestate` once an SDK registers it). `null` sends none.
   */
  propagator?: TextMapPropagator | null
}

/**
 * Turns every perse-node call into an OpenTelemetry CLIENT span (`perse detect`, ...), a child
 * of the context active when the call started, with the HTTP client attributes
 * (`http.request.method`, `server.address`, `server.port`, `http.response.status_code`,
 * `error.type`) and `perse.operation`, `perse.attempts`, `perse.request_id`, and sends the
 * trace context with the call's requests. Needs `@opentelemetry/api` (an optional peer
 * dependency). Sends no request itself. Consent: not involved.
 * @throws {PerseError} `invalid_argument` when `@opentelemetry/api` is not installed or `options` is not an object.
 * @returns A function that stops the instrumentation.
 * @example const stop = instrumentPerse({ tracerProvider }) // later: stop()
 */
export declare function instrumentPerse(options?: InstrumentPerseOptions): () => void
