"""Framework adapters: each knows when a job of its framework starts and ends.

``CeleryProbes`` (``probes.adapters.celery``), ``RQProbes`` (``.rq``), ``DramatiqProbes``
(``.dramatiq``) and ``ArqProbes`` (``.arq``). Each is a singleton with idempotent
``instrument(tracer_provider=None)`` / ``uninstrument()``, like the OpenTelemetry contrib
instrumentors, and imports its framework only when its module is imported.
"""
