"""Framework adapters: each knows when a job of its framework starts and ends.

``CeleryProbes`` (``probes.adapters.celery``), ``RQProbes`` (``.rq``), ``DramatiqProbes``
(``.dramatiq``) and ``ArqProbes`` (``.arq``) are singletons with idempotent
``instrument(tracer_provider=None)`` / ``uninstrument()``, like the OpenTelemetry contrib
instrumentors; ``TemporalProbes`` (``.temporal``) is a worker interceptor, since Temporal takes
interceptors per worker. Each imports its framework only when its module is imported.
"""
