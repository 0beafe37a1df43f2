"""The API as the store process answers it: one ``ApiRequest`` in, one ``ApiResponse`` out.

``ApiService.handle`` is synchronous and thread-safe; callers run it on a thread pool (the
hub's for requests forwarded by front-end workers, the server's own with
``--decode-workers 0``), never on the thread that commits spans. Each request reads on a
DuckDB cursor of its own; triage and mutes write through it in short transactions
(``store.triage``).

Routes (docs/api.md, and ``openapi.DOCUMENT``, which a test holds to this table)::

    GET    /readyz                               200 ready | 503 not yet / draining
    GET    /openapi.json                         the OpenAPI 3 document
    GET    /metrics                              Prometheus text
    GET    /api/v1/findings                      filters, keyset pages
    GET    /api/v1/findings/{fingerprint}        one finding, evidence and notes
    POST   /api/v1/findings/{fingerprint}/triage acknowledge | false_positive | reopen | note
    GET    /api/v1/traces/{trace_id}             the spans of a trace
    GET    /api/v1/rules                         rules, findings by state and triage, mutes
    POST   /api/v1/rules/{rule_id}/mute          {"for": "2h"}
    DELETE /api/v1/rules/{rule_id}/mute          end the mute
    GET    /api/v1/stats                         ingest, store, evaluation, alerting
    GET    /api/v1/report                        a scan of the store (audit scan --server)

Every error is ``{"error": "…"}``: 400 for a bad parameter or body, 401 (the front end's:
no or wrong token), 404 for an unknown path or thing, 405 for a method a path does not take,
409 for an ambiguous fingerprint prefix or a triage that does not apply to the finding as it
is. A 500 is a bug, logged with its traceback; bad input never causes one.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from auditor import __version__
from auditor.api import metrics, openapi, queries
from auditor.api.queries import FindingFilter
from auditor.api.wire import (
    ARROW_TYPE,
    ApiRequest,
    ApiResponse,
    decode_cursor,
    encode_cursor,
    report_to_arrow,
    rule_to_json,
)
from auditor.clock import Clock, naive_utc
from auditor.engine.catalog import Catalog
from auditor.engine.evaluate import evaluate
from auditor.engine.scan import idle_rules, rule_infos
from auditor.findings.model import Kind, Severity, State, Triage
from auditor.findings.report import Report
from auditor.reports import json as json_report
from auditor.rules.durations import DurationError, parse_duration
from auditor.store.duck import DuckStore
from auditor.store.triage import (
    Action,
    NoSuchFinding,
    TriageConflict,
    active_mutes,
    apply_triage,
    mute_rule,
    overlay_triage,
    unmute_rule,
)

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_NOTE = 4000
_HEX = re.compile(r"^[0-9a-f]{1,64}$")
# Times a span timestamp (nanoseconds in 64 bits) can hold.
_EPOCH = datetime(1970, 1, 1)
_LATEST = datetime(2262, 1, 1)
_LATEST_S = (_LATEST - _EPOCH).total_seconds()
_LEAP_SECOND = re.compile(r"(T\d\d:\d\d:)60")


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


@dataclass(frozen=True)
class AlertStats:
    outbox_depth: int = 0
    failures: dict[str, int] = field(default_factory=dict)


class Host(Protocol):
    """What the API needs of the running server (``auditor.server.Server``)."""

    store: DuckStore
    catalog: Catalog
    clock: Clock
    latencies: metrics.Latencies

    def health(self) -> dict[str, Any]: ...

    def readiness(self) -> tuple[bool, str]: ...

    def evaluation_stats(self) -> dict[str, Any] | None: ...

    def alert_stats(self) -> AlertStats: ...


Handler = Callable[[ApiRequest, list[str]], ApiResponse]


class ApiService:
    def __init__(self, host: Host) -> None:
        self.host = host
        self._report_lock = threading.Lock()  # one scan of the store at a time
        # (method, path pattern) -> handler; a pattern segment "*" is a parameter
        self._routes: list[tuple[str, tuple[str, ...], Handler]] = [
            ("GET", ("readyz",), self._readyz),
            ("GET", ("openapi.json",), self._openapi),
            ("GET", ("metrics",), self._metrics),
            ("GET", ("api", "v1", "findings"), self._findings),
            ("GET", ("api", "v1", "findings", "*"), self._finding),
            ("POST", ("api", "v1", "findings", "*", "triage"), self._triage),
            ("GET", ("api", "v1", "traces", "*"), self._trace),
            ("GET", ("api", "v1", "rules"), self._rules),
            ("POST", ("api", "v1", "rules", "*", "mute"), self._mute),
            ("DELETE", ("api", "v1", "rules", "*", "mute"), self._unmute),
            ("GET", ("api", "v1", "stats"), self._stats),
            ("GET", ("api", "v1", "report"), self._report),
        ]

    # ------------------------------------------------------------------ dispatch

    def handle(self, request: ApiRequest) -> ApiResponse:
        try:
            handler, args = self._route(request)
            return handler(request, args)
        except ApiError as exc:
            return ApiResponse.error(exc.status, str(exc), exc.headers)
        except Exception:
            log.exception("API request %s %s failed", request.method, request.path)
            return ApiResponse.error(500, "internal error; see the server's log")

    def _route(self, request: ApiRequest) -> tuple[Handler, list[str]]:
        parts = tuple(request.path.strip("/").split("/")) if request.path.strip("/") else ()
        allowed = []
        for method, pattern, handler in self._routes:
            if len(pattern) != len(parts):
                continue
            args = []
            for want, got in zip(pattern, parts, strict=True):
                if want == "*" and got:
                    args.append(got)
                elif want != got:
                    break
            else:
                if method == request.method:
                    return handler, args
                allowed.append(method)
        if allowed:
            raise ApiError(
                405,
                f"{request.method} is not allowed on {request.path}; use {', '.join(allowed)}",
                {"Allow": ", ".join(allowed)},
            )
        raise ApiError(404, f"no such endpoint: {request.path} (see /openapi.json)")

    # ------------------------------------------------------------------ helpers

    def _now(self) -> datetime:
        return naive_utc(self.host.clock.now())

    def _cursor(self) -> Any:
        return self.host.store.cursor()

    def _resolve(self, con: Any, given: str) -> str:
        """The one fingerprint that is, or starts with, ``given``."""
        if not _HEX.match(given):
            raise ApiError(404, f"no finding with fingerprint {given!r}")
        found = queries.find_fingerprints(con, given)
        if not found:
            raise ApiError(404, f"no finding with fingerprint {given!r}")
        if len(found) > 1 and given not in found:
            raise ApiError(409, f"more than one finding's fingerprint starts with {given!r}")
        return given if given in found else found[0]

    # ------------------------------------------------------------------ probes and docs

    def _readyz(self, request: ApiRequest, args: list[str]) -> ApiResponse:
        ready, why = self.host.readiness()
        if ready:
            return ApiResponse.json(200, {"status": "ready"})
        return ApiResponse.json(503, {"status": "not ready", "error": why})

    def _openapi(self, request: ApiRequest, args: list[str]) -> ApiResponse:
        return ApiResponse.json(200, openapi.DOCUMENT)

    def _metrics(self, request: ApiRequest, args: list[str]) -> ApiResponse:
        health = self.host.health()
        evaluation = self.host.evaluation_stats() or {}
        alerts = self.host.alert_stats()
        con = self._cursor()
        try:
            findings = queries.findings_by_rule_kind_state(con)
        finally:
            con.close()
        snapshot = metrics.Snapshot(
            version=__version__,
            spans_received=int(health["spans_accepted"]),
            spans_rejected=int(health["spans_rejected"]),
            spans_deduplicated=int(health["spans_deduplicated"]),
            spans_stored=int(health["spans_stored"]),
            export_requests=int(health["requests"]),
            commits=int(health["commits"]),
            pending_spans=int(health["pending_spans"]),
            store_bytes=queries.store_bytes(self.host.store.path),
            ready=self.host.readiness()[0],
            latencies=self.host.latencies.snapshot(),
            findings=findings,
            evaluation_passes=int(evaluation.get("passes", 0)),
            evaluation_seconds=float(evaluation.get("last_seconds", 0.0)),
            evaluation_lag_seconds=float(evaluation.get("lag_s", 0.0)),
            evaluation_waiting_seconds=float(evaluation.get("waiting_s", 0.0)),
            outbox_depth=alerts.outbox_depth,
            alert_failures=dict(alerts.failures),
        )
        return ApiResponse(200, metrics.render(snapshot), metrics.CONTENT_TYPE)

    # ------------------------------------------------------------------ findings

    def _findings(self, request: ApiRequest, args: list[str]) -> ApiResponse:
        which = FindingFilter(
            states=_choices(request, "state", [str(s) for s in State]),
            min_severity=_severity(request.param("severity")),
            rules=tuple(request.params("rule")),
            kinds=_choices(request, "kind", [str(k) for k in Kind]),
            systems=tuple(request.params("system")),
            triages=_choices(request, "triage", [str(t) for t in Triage]),
            since=_time(request.param("since"), "since"),
        )
        limit = _int(request.param("limit"), "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        after_text = request.param("after")
        try:
            after = decode_cursor(after_text) if after_text else None
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        con = self._cursor()
        try:
            findings, last = queries.list_findings(
                con, which, now=self._now(), limit=limit, after=after
            )
        finally:
            con.close()
        return ApiResponse.json(
            200, {"findings": findings, "next": encode_cursor(*last) if last else None}
        )

    def _finding(self, request: ApiRequest, args: list[str]) -> ApiResponse:
        con = self._cursor()
        try:
            fingerprint = self._resolve(con, args[0])
            finding = queries.get_finding(con, fingerprint, now=self._now())
        finally:
            con.close()
        if finding is None:  # resolved a moment ago, gone now: cannot happen (never deleted)
            raise ApiError(404, f"no finding with fingerprint {args[0]!r}")
        return ApiResponse.json(200, finding)

    def _triage(self, request: ApiRequest, args: list[str]) -> ApiResponse:
        body = _body(request)
        action_text = body.get("action")
        try:
            action = Action(str(action_text))
        except ValueError:
            raise ApiError(
                400,
                f"'action' must be one of {', '.join(a.value for a in Action)}, "
                f"not {json.dumps(action_text)}",
            ) from None
        note = _text(body, "note", MAX_NOTE)
        author = _text(body, "author", 200) or "api"
        con = self._cursor()
        try:
            fingerprint = self._resolve(con, args[0])
            try:
                apply_triage(con, fingerprint, action, note=note, author=author, now=self._now())
            except ValueError as exc:
                raise ApiError(400, str(exc)) from None
            except NoSuchFinding:
                raise ApiError(404, f"no finding with fingerprint {args[0]!r}") from None
            except TriageConflict as exc:
                raise ApiError(409, str(exc)) from None
            finding = queries.get_finding(con, fingerprint, now=self._now())
        finally:
            con.close()
        return ApiResponse.json(200, finding)

    def _trace(self, request: ApiRequest, args: list[str]) -> ApiResponse:
        trace_id = args[0]
        con = self._cursor()
        try:
            spans, truncated = queries.trace_spans(con, trace_id)
        finally:
            con.close()
        if not spans:
            raise ApiError(404, f"no spans of trace {trace_id!r} in the store")
        return ApiResponse.json(200, {"trace_id": trace_id, "spans": spans, "truncated": truncated})

    # ------------------------------------------------------------------ rules

    def _rule_id(self, given: str) -> str:
        if given not in rule_infos(self.host.catalog):
            raise ApiError(404, f"no enabled rule {given!r} (see /api/v1/rules)")
        return given

    def _rules(self, request: ApiRequest, args: list[str]) -> ApiResponse:
        now = self._now()
        con = self._cursor()
        try:
            counts = queries.rule_counts(con, now=now)
            mutes = active_mutes(con, now)
        finally:
            con.close()
        rules = []
        for rule_id, info in sorted(rule_infos(self.host.catalog).items()):
            counted = counts.get(rule_id, {"state": {}, "triage": {}})
            rules.append(
                {
                    **rule_to_json(info),
                    "findings": {str(s): counted["state"].get(str(s), 0) for s in State},
                    "triage": {str(t): counted["triage"].get(str(t), 0) for t in Triage},
                    "muted_until": queries.iso(mutes.get(rule_id)),
                }
            )
        return ApiResponse.json(200, {"rules": rules})

    def _mute(self, request: ApiRequest, args: list[str]) -> ApiResponse:
        rule_id = self._rule_id(args[0])
        body = _body(request)
        if "for" not in body:
            raise ApiError(400, 'say how long: {"for": "2h"}')
        try:
            seconds = parse_duration(body["for"], "'for'")
        except DurationError as exc:
            raise ApiError(400, str(exc)) from None
        if not 0 < seconds <= 366 * 86400:
            raise ApiError(400, "'for' must be more than 0s and at most 366d")
        note = _text(body, "note", MAX_NOTE)
        author = _text(body, "author", 200) or "api"
        con = self._cursor()
        try:
            until = mute_rule(con, rule_id, seconds, author=author, note=note, now=self._now())
        except TriageConflict as exc:
            raise ApiError(409, str(exc)) from None
        finally:
            con.close()
        return ApiResponse.json(200, {"rule_id": rule_id, "muted_until": queries.iso(until)})

    def _unmute(self, request: ApiRequest, args: list[str]) -> ApiResponse:
        rule_id = self._rule_id(args[0])
        con = self._cursor()
        try:
            unmute_rule(con, rule_id, now=self._now())
        except TriageConflict as exc:
            raise ApiError(409, str(exc)) from None
        finally:
            con.close()
        return ApiResponse.json(200, {"rule_id": rule_id, "muted_until": None})

    # ------------------------------------------------------------------ stats

    def _stats(self, request: ApiRequest, args: list[str]) -> ApiResponse:
        health = self.host.health()
        alerts = self.host.alert_stats()
        con = self._cursor()
        try:
            ingest = queries.ingest_stats(con, now=self._now())
        finally:
            con.close()
        ready, why = self.host.readiness()
        document = {
            "version": __version__,
            "ready": ready,
            "uptime_s": health["uptime_s"],
            "store": {
                "path": health["store"],
                "bytes": queries.store_bytes(self.host.store.path),
                "spans": ingest.pop("spans_stored"),
            },
            "ingest": {
                **ingest,
                "requests": health["requests"],
                "spans_received": health["spans_accepted"],
                "spans_rejected": health["spans_rejected"],
                "spans_stored": health["spans_stored"],
                "commits": health["commits"],
                "pending_spans": health["pending_spans"],
                "workers": health["workers"],
            },
            "evaluation": self.host.evaluation_stats(),
            "alerts": {"outbox_depth": alerts.outbox_depth, "failures": alerts.failures},
        }
        if not ready:
            document["not_ready"] = why
        return ApiResponse.json(200, document)

    # ------------------------------------------------------------------ a scan

    def _report(self, request: ApiRequest, args: list[str]) -> ApiResponse:
        as_of = request.param("as_of")
        as_of_ns = None
        if as_of:
            moment = _time(as_of, "as_of")
            assert moment is not None
            as_of_ns = round((moment - _EPOCH).total_seconds() * 1e6) * 1000
        checked = _flag(request.param("checked"), "checked")
        catalog = self.host.catalog
        with self._report_lock:
            con = self._cursor()
            try:
                spans = int(con.execute("SELECT count(*) FROM otel_traces").fetchall()[0][0])
                evaluation = evaluate(con, catalog, as_of_ns=as_of_ns, list_checked=checked)
                findings = overlay_triage(con, evaluation.findings, self._now())
            finally:
                con.close()
        report = Report(
            findings=findings,
            rules=rule_infos(catalog),
            checked=evaluation.checked,
            jobs_checked=evaluation.jobs_checked,
            inputs=(self.host.store.path,),
            spans=spans,
            tool_version=__version__,
            job_runs=evaluation.job_runs,
            judged=evaluation.judged,
        )
        warnings = [{"rule_id": w.rule_id, "text": w.text} for w in idle_rules(catalog, evaluation)]
        if ARROW_TYPE in request.accept:
            return ApiResponse(200, report_to_arrow(report, warnings), ARROW_TYPE)
        document = json_report.document(report)
        document["warnings"] = warnings
        return ApiResponse.json(200, document)


# ---------------------------------------------------------------------- parameters


def _choices(request: ApiRequest, name: str, allowed: list[str]) -> tuple[str, ...]:
    values = request.params(name)
    for value in values:
        if value not in allowed:
            raise ApiError(400, f"'{name}' must be one of {', '.join(allowed)}, not {value!r}")
    return tuple(values)


def _severity(text: str | None) -> Severity | None:
    if text is None:
        return None
    try:
        return Severity(text)
    except ValueError:
        raise ApiError(
            400, f"'severity' must be one of {', '.join(s.value for s in Severity)}, not {text!r}"
        ) from None


def _int(text: str | None, name: str, default: int, lo: int, hi: int) -> int:
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiError(400, f"'{name}' must be a whole number, not {text!r}") from None
    if not lo <= value <= hi:
        raise ApiError(400, f"'{name}' must be between {lo} and {hi}, not {value}")
    return value


def _flag(text: str | None, name: str) -> bool:
    if text is None or text in ("false", "0"):
        return False
    if text in ("true", "1"):
        return True
    raise ApiError(400, f"'{name}' must be true or false, not {text!r}")


def _time(text: str | None, name: str) -> datetime | None:
    """ISO 8601 / RFC 3339 (UTC unless it says otherwise) or epoch seconds, as naive UTC.
    A time before 1970 or after 2261 reads as that bound: no span or finding is outside."""
    if text is None:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if math.isnan(seconds):
            raise ApiError(400, f"'{name}' is not a time: {text!r}")
        seconds = min(max(seconds, 0.0), _LATEST_S - 1)
        return _EPOCH + timedelta(seconds=seconds)
    written = _LEAP_SECOND.sub(r"\g<1>59", text.upper().replace("Z", "+00:00"))
    try:
        moment = datetime.fromisoformat(written)
    except ValueError:
        raise ApiError(
            400, f"'{name}' must be ISO 8601 like 2026-11-28T10:00:00Z or epoch seconds"
        ) from None
    if moment.tzinfo is not None:
        offset = moment.utcoffset() or timedelta()
        naive = moment.replace(tzinfo=None)
        if naive - _EPOCH < offset:  # before 1970 in UTC (or before year 1)
            return _EPOCH
        if _LATEST - naive <= -offset:
            return _LATEST - timedelta(seconds=1)
        moment = naive - offset
    return min(max(moment, _EPOCH), _LATEST - timedelta(seconds=1))


def _body(request: ApiRequest) -> dict[str, Any]:
    if not request.body.strip():
        raise ApiError(400, "the request needs a JSON object body")
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    return body


def _text(body: dict[str, Any], name: str, limit: int) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise ApiError(400, f"'{name}' must be a string")
    if len(value) > limit:
        raise ApiError(400, f"'{name}' is longer than {limit} characters")
    return value
