"""The sidecar's HTTP JSON API, its Prometheus metrics, and the client the CLI uses.

``audit serve`` answers ``/api/v1/…``, ``/openapi.json``, ``/metrics`` and ``/readyz`` on its
OTLP/HTTP port (docs/api.md). The modules, from the wire inwards:

- ``frontend``: the aiohttp side, in whichever process receives the request (a front-end
  worker or the store process): the bearer token, request timing, and forwarding;
- ``service``: the store process's side: routing, parameters, answers and errors;
- ``queries``: what the API reads from the store, each on its own DuckDB cursor;
- ``metrics``: request latencies that add up across processes, and the Prometheus text;
- ``openapi``: the OpenAPI 3 document of every endpoint;
- ``wire``: pure conversions both ends share (findings, rules, cursors, the report);
- ``client``: ``audit scan --server`` and ``audit findings --server`` over httpx.
"""
