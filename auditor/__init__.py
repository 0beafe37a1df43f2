"""auditor: catches background jobs that say "done" when the work never happened.

The package is laid out along the data path (see docs/design.md):
``otlp`` (decode) → ``receivers`` (I/O) → ``store`` (DuckDB) → ``profiles`` (job runs,
enqueues, effects) → ``rules`` (model, compiler) → ``findings`` → ``reports`` / ``alerts``.
"""

__version__ = "0.1.0"
