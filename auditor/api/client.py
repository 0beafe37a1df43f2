"""The API's client, for ``audit scan --server`` and ``audit findings --server`` (httpx).

``ApiClient(url, token)`` talks to the OTLP/HTTP address of an ``audit serve``
(``http://host:4318``). Every failure becomes the CLI's kind of error, one sentence long:
a server that cannot be reached, or that fails, is an ``InputError`` (exit 3, like an
unreadable input); a missing or wrong token, or a request the server calls bad, is a
``UsageError`` (exit 2). The token is sent as ``Authorization: Bearer`` and never printed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import httpx

from auditor.api.wire import ARROW_TYPE, report_from_arrow, rule_from_json
from auditor.engine.scan import RuleWarning, ScanResult
from auditor.errors import InputError, UsageError
from auditor.findings.baseline import Baseline, apply_baseline
from auditor.findings.model import RuleInfo, Severity
from auditor.findings.report import Report

PAGE = 1000
TIMEOUT_S = 300.0  # a scan of a large store takes a while


class ApiClient:
    def __init__(self, url: str, token: str | None = None, timeout_s: float = TIMEOUT_S) -> None:
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"--server {url!r} is not a URL; give one like http://localhost:4318")
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, path: str, params: Any = None, accept: str = "application/json") -> bytes:
        try:
            response = self._http.get(path, params=params, headers={"Accept": accept})
        except httpx.HTTPError as exc:
            raise InputError(f"cannot reach audit serve at {self.url}: {exc}") from None
        if response.status_code == 200:
            return response.content
        data: bytes = self._fail(path, response)
        return data

    def _send(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """A POST or DELETE with a JSON body; the JSON answer. Errors as ``_get``'s."""
        try:
            response = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise InputError(f"cannot reach audit serve at {self.url}: {exc}") from None
        if response.status_code == 200:
            return response.json()
        return self._fail(path, response)

    def _fail(self, path: str, response: httpx.Response) -> Any:
        try:
            said = str(response.json()["error"])
        except (ValueError, KeyError, TypeError):
            said = response.text[:200] or response.reason_phrase
        if response.status_code == 401:
            raise UsageError(f"{self.url} wants its token (--token or AUDIT_TOKEN): {said}")
        if response.status_code == 404 and path.startswith("/api/"):
            raise InputError(f"{self.url} has no API at {path} (is it audit serve?): {said}")
        if 400 <= response.status_code < 500:
            raise UsageError(f"{self.url}{path}: {said}")
        raise InputError(f"{self.url}{path} answered {response.status_code}: {said}")

    def _json(self, path: str, params: Any = None) -> Any:
        data = self._get(path, params)
        try:
            return json.loads(data)
        except ValueError:
            raise InputError(f"{self.url}{path} did not answer JSON") from None

    def report(self, *, as_of_ns: int | None, checked: bool) -> tuple[Report, list[dict[str, str]]]:
        """A scan of the server's store by its rules (``GET /api/v1/report``)."""
        params = {"checked": "true" if checked else "false"}
        if as_of_ns is not None:
            params["as_of"] = f"{as_of_ns // 10**9}.{as_of_ns % 10**9:09d}"
        data = self._get("/api/v1/report", params, accept=ARROW_TYPE)
        try:
            return report_from_arrow(data)
        except ValueError as exc:
            raise InputError(f"{self.url}: {exc}") from None

    def findings(self, filters: list[tuple[str, str]]) -> Iterator[dict[str, Any]]:
        """Every finding the filters select, page after page."""
        after: str | None = None
        while True:
            params = [*filters, ("limit", str(PAGE))] + ([("after", after)] if after else [])
            page = self._json("/api/v1/findings", params)
            yield from page["findings"]
            after = page.get("next")
            if not after:
                return

    def rules(self) -> dict[str, RuleInfo]:
        return {r["id"]: rule_from_json(r) for r in self._json("/api/v1/rules")["rules"]}

    def rules_json(self) -> list[dict[str, Any]]:
        """The server's rules with their counts and mutes, as it sends them."""
        rules: list[dict[str, Any]] = self._json("/api/v1/rules")["rules"]
        return rules

    def finding(self, fingerprint: str) -> dict[str, Any]:
        """One finding with its notes (``GET /api/v1/findings/{fingerprint}``)."""
        finding: dict[str, Any] = self._json(f"/api/v1/findings/{fingerprint}")
        return finding

    def trace(self, trace_id: str) -> dict[str, Any]:
        """The spans of one trace (``GET /api/v1/traces/{trace_id}``)."""
        trace: dict[str, Any] = self._json(f"/api/v1/traces/{trace_id}")
        return trace

    def triage(self, fingerprint: str, action: str, note: str, author: str) -> dict[str, Any]:
        """Record a triage action; the finding afterwards."""
        body = {"action": action, "note": note, "author": author}
        finding: dict[str, Any] = self._send("POST", f"/api/v1/findings/{fingerprint}/triage", body)
        return finding

    def mute(self, rule_id: str, duration: str, note: str, author: str) -> dict[str, Any]:
        body = {"for": duration, "note": note, "author": author}
        answer: dict[str, Any] = self._send("POST", f"/api/v1/rules/{rule_id}/mute", body)
        return answer

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self._json("/api/v1/stats")
        return stats


def remote_scan(
    url: str,
    token: str | None,
    *,
    as_of_ns: int | None,
    fail_on: Severity,
    fail_on_pending: bool,
    baseline: Baseline,
    list_checked: bool,
) -> ScanResult:
    """``audit scan --server``: the server scans its store with its rules; the baseline and
    the thresholds apply here, as ``run_scan`` applies them to a local store."""
    with ApiClient(url, token) as client:
        report, warnings = client.report(as_of_ns=as_of_ns, checked=list_checked)
    findings = report.table
    shown, suppressed = apply_baseline(findings, baseline)
    report = dataclasses.replace(
        report,
        findings=shown,
        fail_on=fail_on,
        fail_on_pending=fail_on_pending,
        baselined=suppressed,
    )
    told = tuple(RuleWarning(w["rule_id"], w["text"]) for w in warnings)
    return ScanResult(report, findings, None, told)
