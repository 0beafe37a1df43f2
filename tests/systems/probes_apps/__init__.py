"""Job applications instrumented only through the documented probes API (docs/instrument-your-jobs.md).

One tiny "send the order confirmation email" job per framework — Celery, RQ and arq on Redis,
Dramatiq on RabbitMQ — with the same scenarios (``behaviour.SCENARIOS``): honest, effect
skipped, failing effect swallowed, retry repeating the effect, worker SIGKILLed mid-job.
The jobs use ``probes.expects`` / ``probes.confirm`` and the framework adapter; nothing else
emits spans about them except, optionally, the framework's own OpenTelemetry instrumentation
(``PROBES_OFFICIAL=1``; for Dramatiq the third-party opentelemetry-instrumentor-dramatiq). ``runner.run_app`` drives one run end to end.
"""
