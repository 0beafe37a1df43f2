"""Reconcilers: out-of-band probes that confirm side effects from a system of record.

``audit probe sql`` and ``audit probe http`` poll a PostgreSQL query or an HTTP status
endpoint; each row (a sent email, a captured payment) becomes one ``side_effect.confirm``
span (docs/design.md, "The probe conventions") exported over OTLP/HTTP to ``audit serve`` or a
Collector. Rules correlate these by key (``correlate: key``), not by trace.

Stages, one module each: ``sources`` (rows from PostgreSQL via psycopg 3, or from JSON via
httpx), ``rows`` (a row → the confirmation's identity and attributes; pure), ``state`` (what
was already confirmed, in a small JSON file, so a restart does not confirm again),
``export`` (spans with ids derived from the identity, exported with the OTLP exporter; the
state is saved only after the collector acknowledged), ``loop`` (every N seconds, or once).
"""
