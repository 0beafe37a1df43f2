"""The probes version, reported as the instrumentation scope version of every span they emit."""

__version__ = "0.1.0"
