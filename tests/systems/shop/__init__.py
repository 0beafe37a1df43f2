"""The Python "shop": a tiny order-confirmation job application run by Celery and by RQ.

Modules:

* ``config``     - settings the harness passes through environment variables (``SHOP_*``).
* ``telemetry``  - OpenTelemetry SDK setup for a worker or producer process (SDK + batch
  processor + OTLP/HTTP protobuf exporter). Only process entry points call it.
* ``store``      - the shop's own state in Redis: order status, confirmation counter, and
  "first time" markers that make the lying scenarios deterministic.
* ``mailer``     - sends the confirmation email over real SMTP, hand-instrumented with the
  OpenTelemetry *API* only: ``smtp.send`` (CLIENT) and ``side_effect.confirm`` (INTERNAL).
* ``behaviour``  - what the job does in each scenario of ``tests/systems/scenarios.py``.
* ``celery_app`` / ``celery_producer`` - the Celery worker app and the producer script.
* ``rq_jobs`` / ``rq_worker`` / ``rq_producer`` - the same for RQ.
"""
