'use strict';
// OpenTelemetry SDK setup for one shop process: NodeTracerProvider + BatchSpanProcessor + the
// OTLP/HTTP protobuf exporter. The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT (and appends
// /v1/traces); the batch processor reads OTEL_BSP_SCHEDULE_DELAY. register() installs the
// AsyncLocalStorage context manager and the W3C propagator that bullmq-otel relies on.
// Call provider.shutdown() before exiting, or the last batch is lost.

const { NodeTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-node');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { BullMQOtel } = require('bullmq-otel');

function setupTracing(serviceName) {
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  provider.register();
  return provider;
}

// BullMQ creates its own spans through this telemetry adapter (scope "bullmq" / "6").
function bullmqTelemetry() {
  return new BullMQOtel({ tracerName: 'bullmq', version: '6' });
}

module.exports = { setupTracing, bullmqTelemetry };
