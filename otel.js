'use strict'

// perse-node/otel: OpenTelemetry spans from the `perse-node:call` tracing channel
// (lib/observe.js; the contract is docs/observability.md). Opt-in: nothing here loads unless
// this subpath is required, and @opentelemetry/api is an optional peer dependency.

const dc = require('node:diagnostics_channel')
const { version } = require('./package.json')
const { fail } = require('./lib/errors.js')

let api = null
function otelApi() {
  if (api === null) {
    try {
      api = require('@opentelemetry/api')
    } catch (e) {
      throw fail('invalid_argument', 'perse-node/otel needs @opentelemetry/api: npm install @opentelemetry/api', { cause: e })
    }
  }
  return api
}

/**
 * Turns every perse-node call into an OpenTelemetry CLIENT span, a child of the context active
 * when the call started, and sends its W3C trace context (`traceparent`, `tracestate`) with the
 * call's requests. Returns a function that stops it.
 */
function instrumentPerse(options) {
  const o = options ?? {}
  if (typeof o !== 'object') throw fail('invalid_argument', 'instrumentPerse(options): options must be an object')
  const { trace, context, propagation, SpanKind, SpanStatusCode } = otelApi()
  const tracer = (o.tracerProvider ?? trace.getTracerProvider()).getTracer('perse-node', version)
  const propagator = o.propagator === undefined ? propagation : o.propagator
  const spans = new WeakMap()

  const handlers = {
    start(ctx) {
      const parent = context.active()
      let host = ctx.origin
      let port
      try {
        const u = new URL(ctx.origin)
        host = u.hostname
        port = Number(u.port || (u.protocol === 'https:' ? 443 : 80))
      } catch {
        // an origin that is no URL: keep it as it is
      }
      const span = tracer.startSpan(
        `perse ${ctx.operation}`,
        {
          kind: SpanKind.CLIENT,
          attributes: { 'http.request.method': ctx.method, 'server.address': host, 'server.port': port, 'perse.operation': ctx.operation },
        },
        parent,
      )
      spans.set(ctx, span)
      if (propagator) propagator.inject(trace.setSpan(parent, span), ctx.headers)
    },
    end() {},
    asyncStart() {},
    error() {},
    asyncEnd(ctx) {
      const span = spans.get(ctx)
      if (span === undefined) return
      spans.delete(ctx)
      const attempts = ctx.attempts ?? []
      span.setAttribute('perse.attempts', attempts.length)
      if (ctx.status !== undefined) span.setAttribute('http.response.status_code', ctx.status)
      if (ctx.requestId !== undefined) span.setAttribute('perse.request_id', ctx.requestId)
      if (ctx.refreshed) span.setAttribute('perse.token_refreshed', true)
      attempts.forEach((a, i) => {
        const attrs = { 'perse.attempt': i + 1, 'perse.duration_ms': a.ms, 'perse.next': a.next }
        if (a.status !== undefined) attrs['http.response.status_code'] = a.status
        if (a.code !== undefined) attrs['error.type'] = a.code
        span.addEvent('perse.attempt', attrs)
      })
      if (ctx.error !== undefined) {
        span.setAttribute('error.type', ctx.code ?? 'unknown')
        span.setStatus({ code: SpanStatusCode.ERROR, message: ctx.error?.message })
      }
      span.end()
    },
  }
  const channel = dc.tracingChannel('perse-node:call')
  channel.subscribe(handlers)
  let on = true
  return function uninstrument() {
    if (on) channel.unsubscribe(handlers)
    on = false
  }
}

module.exports = { instrumentPerse }
