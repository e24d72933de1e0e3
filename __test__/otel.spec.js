'use strict'

// perse-node/otel with the real OpenTelemetry SDK and its in-memory exporter: spans for a
// success, a retried call, a 401 refresh and a failure, their parent, and the W3C trace
// context on the wire (checked by the contract server).

const test = require('ava')
const path = require('node:path')
const { trace, context, propagation, SpanKind, SpanStatusCode } = require('@opentelemetry/api')
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks')
const { W3CTraceContextPropagator } = require('@opentelemetry/core')
const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base')

const { PerseClient } = require('..')
const { instrumentPerse } = require('../otel')
const { startContractServer } = require('./helpers/contract-server')
const { rejects } = require('./helpers/assert')

const ASTRONAUT = path.join(__dirname, 'fixtures', 'astronaut.jpg')
const CONSENT = { enduserConsent: true }

let server
let exporter
let provider
let stop
test.before(async () => {
  server = await startContractServer()
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  propagation.setGlobalPropagator(new W3CTraceContextPropagator())
  exporter = new InMemorySpanExporter()
  provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  stop = instrumentPerse({ tracerProvider: provider })
})
test.after.always(async () => {
  stop?.()
  await server.close()
})
test.beforeEach(() => exporter.reset())

function client(extra = {}) {
  return new PerseClient({ baseUrl: server.url, token: server.mintToken(), maxRetries: 0, retryBaseDelayMs: 1, retryMaxDelayMs: 5, ...extra })
}

async function seen(fn) {
  const before = server.requests.length
  const value = await fn()
  return [value, server.requests.slice(before)]
}

test.serial('a success: a CLIENT span under the active span, its traceparent on the wire', async (t) => {
  const c = client()
  const parent = provider.getTracer('test').startSpan('route')
  const [r, reqs] = await seen(() => context.with(trace.setSpan(context.active(), parent), () => c.detect(ASTRONAUT, CONSENT)))
  parent.end()
  const spans = exporter.getFinishedSpans()
  const span = spans.find((s) => s.name === 'perse detect')
  t.truthy(span, spans.map((s) => s.name).join())
  t.is(span.kind, SpanKind.CLIENT)
  t.is(span.spanContext().traceId, parent.spanContext().traceId)
  t.is(span.parentSpanContext?.spanId ?? span.parentSpanId, parent.spanContext().spanId)
  t.like(span.attributes, {
    'http.request.method': 'POST',
    'server.address': '127.0.0.1',
    'server.port': Number(new URL(server.url).port),
    'http.response.status_code': 200,
    'perse.operation': 'detect',
    'perse.attempts': 1,
    'perse.request_id': r.requestId,
  })
  t.is(span.status.code, SpanStatusCode.UNSET)
  t.is(reqs[0].headers.traceparent, `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`)
})

test.serial('a retried call: one span, two attempts as events', async (t) => {
  const c = client({ maxRetries: 1 })
  server.script({ status: 503, body: '' })
  const [, reqs] = await seen(() => c.enrollment.list())
  const [span] = exporter.getFinishedSpans()
  t.is(span.name, 'perse enrollment.list')
  t.like(span.attributes, { 'http.request.method': 'GET', 'perse.attempts': 2, 'http.response.status_code': 200 })
  t.deepEqual(
    span.events.map((e) => [e.name, e.attributes['perse.attempt'], e.attributes['http.response.status_code'], e.attributes['perse.next']]),
    [
      ['perse.attempt', 1, 503, 'retry'],
      ['perse.attempt', 2, 200, 'done'],
    ],
  )
  t.is(reqs[0].headers.traceparent, reqs[1].headers.traceparent, 'both attempts carry the span')
  t.is(span.parentSpanContext?.spanId ?? span.parentSpanId, undefined, 'no active span: a root span')
})

test.serial('a 401 refresh: the span records the refresh and the resend', async (t) => {
  const c = new PerseClient({ baseUrl: server.url, privateKey: server.privateKey, maxRetries: 0 })
  await c.enrollment.list()
  server.revokeAllTokens()
  exporter.reset()
  await c.enrollment.list()
  const [span] = exporter.getFinishedSpans()
  t.like(span.attributes, { 'perse.attempts': 2, 'perse.token_refreshed': true, 'http.response.status_code': 200 })
  t.deepEqual(
    span.events.map((e) => e.attributes['perse.next']),
    ['refresh', 'done'],
  )
})

test.serial('a failure: error.type and an ERROR status; stop() ends the spans', async (t) => {
  const c = client()
  server.script({ status: 500, body: '' })
  const e = await rejects(t, c.enrollment.list(), 'server_error')
  const [span] = exporter.getFinishedSpans()
  t.like(span.attributes, { 'error.type': 'server_error', 'http.response.status_code': 500, 'perse.request_id': e.requestId })
  t.is(span.status.code, SpanStatusCode.ERROR)
  t.is(span.status.message, e.message)

  const local = await rejects(t, c.detect(ASTRONAUT), 'consent_required')
  const refused = exporter.getFinishedSpans()[1]
  t.is(refused.attributes['error.type'], 'consent_required', local.message)
  t.is(refused.attributes['perse.attempts'], 0)

  const off = instrumentPerse({ tracerProvider: provider })
  off()
  off()
  stop()
  exporter.reset()
  const [, reqs] = await seen(() => c.enrollment.list())
  t.is(exporter.getFinishedSpans().length, 0)
  t.is(reqs[0].headers.traceparent, undefined)
  stop = instrumentPerse({ tracerProvider: provider })
})
