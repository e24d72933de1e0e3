// Next.js runs register() once when the server starts. This sets up OpenTelemetry and turns
// every perse-node call into a span, a child of the route's span, whose traceparent goes
// out with the call's requests. A real app would use @vercel/otel (`registerOTel`) or the
// Node SDK with an exporter to its collector; this example prints finished spans to the
// server's stdout with ConsoleSpanExporter, using the same small packages.
export async function register() {
  if (process.env.NEXT_RUNTIME !== 'nodejs') return // perse-node needs the Node.js runtime
  const { context, propagation, trace } = await import('@opentelemetry/api')
  const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks')
  const { W3CTraceContextPropagator } = await import('@opentelemetry/core')
  const { BasicTracerProvider, ConsoleSpanExporter, SimpleSpanProcessor } = await import('@opentelemetry/sdk-trace-base')
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  propagation.setGlobalPropagator(new W3CTraceContextPropagator())
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new ConsoleSpanExporter())] }))

  const { instrumentPerse } = await import('perse-node/otel')
  instrumentPerse()
}
