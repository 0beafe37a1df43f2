"""The forking RQ ``Worker`` the test apps run, with one change: the span exporter is flushed
before each work-horse is forked.

A fork taken while the batch span processor's thread is in the middle of an export hands the
horse a copy of the HTTP connection pool whose lock that thread held; nothing in the horse
ever releases it, so the horse's own export (the RQ instrumentation force-flushes at the end
of each job) blocks until the flush times out, and the job's spans never leave. That is the
likely cause of a confirmation span once missing from a run on a loaded machine. Flushing
first leaves no export in flight when the horse is forked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rq import Worker


class FlushingWorker(Worker):
    flush: Callable[[], object] = staticmethod(lambda: None)  # set to the provider's force_flush

    def fork_work_horse(self, job: Any, queue: Any) -> None:
        self.flush()
        super().fork_work_horse(job, queue)
