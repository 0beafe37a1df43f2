"""One finding: what was expected and what is missing, the trace as a waterfall with the lie
marked, the selected span's attributes and events, nearest misses, other findings of the same
job or key, and the triage keys. The detail is read in a worker; triage writes in a worker
and re-reads the finding and the findings table when it is done."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from auditor.findings.model import Severity
from auditor.findings.report import Report
from auditor.findings.table import finding_json
from auditor.reports import markdown
from auditor.store.triage import Action
from tui.screens.prompt import Prompt
from tui.source import Detail, SourceError
from tui.trace import Row, broken_notes, explain, lie_index, nearest_misses, waterfall_rows
from tui.waterfall import Waterfall


class DetailScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,backspace", "app.pop_screen", "Back"),
        Binding("l", "lie", "Jump to the lie"),
        Binding("c", "compare", "Compare"),
        Binding("a", "triage('acknowledge')", "Ack"),
        Binding("f", "triage('false_positive')", "False positive"),
        Binding("o", "triage('reopen')", "Reopen"),
        Binding("n", "triage('note')", "Note"),
        Binding("m", "mute", "Mute rule"),
        Binding("y", "copy('trace')", "Copy trace id"),
        Binding("Y", "copy('fingerprint')", "Copy fingerprint"),
        Binding("e", "export('md')", "Export md"),
        Binding("E", "export('json')", "Export JSON"),
        Binding("question_mark", "app.help", "Help"),
    ]

    def __init__(self, fingerprint: str) -> None:
        super().__init__()
        self.fingerprint = fingerprint
        self.detail: Detail | None = None
        self.rows: list[Row] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("loading…", id="words")
        with Horizontal(id="trace-box"):
            yield Waterfall(id="waterfall")
            with VerticalScroll(id="span-box"):
                yield Static("", id="span")
        yield Static("", id="related")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.fingerprint
        self.load()

    @work(thread=True, exclusive=True, group="detail", exit_on_error=False)
    def load(self) -> None:
        try:
            detail = self.app.source.detail(self.fingerprint)  # type: ignore[attr-defined]
        except SourceError as exc:
            self.app.call_from_thread(
                self.query_one("#words", Static).update, f"[red]{escape(str(exc))}[/]"
            )
            return
        self.app.call_from_thread(self.show, detail)

    def show(self, detail: Detail) -> None:
        self.detail = detail
        f = detail.finding
        expected, missing = explain(f)
        lines = [
            f"[b]{escape(f.severity.upper())}[/b]  {escape(f.rule_id)}  ·  {f.kind}  ·  "
            f"state {f.state}  ·  triage [b]{f.triage}[/b]"
            + (f" (rule muted until {detail.muted_until})" if detail.muted_until else ""),
            f"[b]Expected:[/b] {escape(expected)}",
            f"[b]Missing:[/b]  [red]{escape(missing)}[/red]",
        ]
        for note in broken_notes(detail.spans, f, detail.truncated):
            lines.append(f"[yellow]Trace:[/yellow] {escape(note)}")
        for miss in nearest_misses(f):
            lines.append(f"[magenta]Nearest miss:[/magenta] {escape(miss)}")
        for note in detail.notes[-3:]:
            lines.append(
                f"[dim]{note.get('at', '')} {escape(str(note.get('author', '')))}"
                f" {note.get('triage') or 'note'}: {escape(str(note.get('text', '')))}[/dim]"
            )
        self.query_one("#words", Static).update("\n".join(lines))
        self.rows = waterfall_rows(detail.spans, f)
        self.query_one(Waterfall).set_rows(self.rows)
        self.query_one(Waterfall).focus()
        self.query_one("#related", Static).update(self._related())

    def _related(self) -> str:
        table = self.app.findings_table()  # type: ignore[attr-defined]
        f = self.detail.finding if self.detail else None
        if table is None or f is None:
            return ""
        same = pc.equal(table.column("job_id"), f.job_id) if f.job_id else None
        if f.effect_key:
            key = pc.equal(table.column("effect_key"), f.effect_key)
            same = key if same is None else pc.or_(same, key)
        if same is None:
            return ""
        others = table.filter(
            pc.and_(
                pc.fill_null(same, False), pc.not_equal(table.column("fingerprint"), f.fingerprint)
            )
        )
        if not others.num_rows:
            return "[dim]No other finding for this job or key.[/dim]"
        items = [
            f"{r['kind']} by {r['rule_id']} ({r['fingerprint'][:10]})"
            for r in others.select(["kind", "rule_id", "fingerprint"]).slice(0, 5).to_pylist()
        ]
        return "[b]Same job or key:[/b] " + escape("; ".join(items))

    @on(Waterfall.Selected)
    def _span(self, event: Waterfall.Selected) -> None:
        row = event.row
        if row.ghost:
            text = f"[red]{escape(row.name)}[/red]\n\nNo span like this exists in the trace."
        else:
            lines = [
                f"[b]{escape(row.name)}[/b]  {row.kind} {row.status}",
                f"service {escape(row.service)}  span {row.span_id}",
                f"{(row.end_ns - row.start_ns) / 1e6:.2f} ms",
                "",
            ]
            lines += [
                f"{escape(str(k))} = {escape(str(val))}"
                for k, val in sorted(row.attributes.items())
            ]
            if row.events:
                lines += ["", "[b]events[/b]"]
                base = row.start_ns
                lines += [f"+{(t - base) / 1e6:.2f} ms {escape(n)}" for t, n in row.events]
            text = "\n".join(lines)
        self.query_one("#span", Static).update(text)

    def action_lie(self) -> None:
        if self.rows:
            self.query_one(Waterfall).cursor = lie_index(self.rows)

    def action_compare(self) -> None:
        if self.detail is not None:
            self.app.open_compare(self.detail)  # type: ignore[attr-defined]

    def action_triage(self, name: str) -> None:
        action = Action(name)
        if action in (Action.FALSE_POSITIVE, Action.NOTE):
            question = "Why is it a false positive?" if action is Action.FALSE_POSITIVE else "Note"

            def noted(answer: str | None) -> None:
                if answer and answer.strip():
                    self._triage(action, answer.strip())
                elif answer is not None:
                    self.notify("a note is needed", severity="error")

            self.app.push_screen(Prompt(question), noted)
        else:
            self._triage(action, "")

    @work(thread=True, group="triage", exit_on_error=False)
    def _triage(self, action: Action, note: str) -> None:
        try:
            self.app.source.triage(self.fingerprint, action, note)  # type: ignore[attr-defined]
        except SourceError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self._after_write, f"{action.value.replace('_', ' ')}: done")

    def _after_write(self, message: str) -> None:
        self.notify(message)
        self.load()
        self.app.reload()  # type: ignore[attr-defined]

    def action_mute(self) -> None:
        if self.detail is None:
            return
        rule_id = self.detail.finding.rule_id

        def chosen(answer: str | None) -> None:
            if answer:
                self._mute(rule_id, answer.strip())

        self.app.push_screen(Prompt(f"Mute rule {rule_id} for (e.g. 30m, 2h, 1d)", "1h"), chosen)

    @work(thread=True, group="triage", exit_on_error=False)
    def _mute(self, rule_id: str, duration: str) -> None:
        from auditor.rules.durations import DurationError, parse_duration

        try:
            seconds = parse_duration(duration, "mute")
            if not 0 < seconds <= 366 * 86400:
                raise DurationError("a mute lasts more than 0s and at most 366d")
            self.app.source.mute(rule_id, seconds, "muted from the TUI")  # type: ignore[attr-defined]
        except (SourceError, DurationError) as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self._after_write, f"muted {rule_id} for {duration}")

    def action_copy(self, what: str) -> None:
        if self.detail is None:
            return
        f = self.detail.finding
        value = f.trace_id if what == "trace" else f.fingerprint
        self.app.copy_to_clipboard(value)
        self.notify(f"copied {what}: {value}")

    def action_export(self, fmt: str) -> None:
        if self.detail is None:
            return
        f = self.detail.finding
        if fmt == "json":
            text = finding_json(f) + "\n"
        else:
            text = markdown.render(Report(findings=[f], rules={}, fail_on=Severity.INFO))
        path = Path(f"finding-{f.fingerprint[:12]}.{fmt}")

        def chosen(answer: str | None) -> None:
            if not answer:
                return
            try:
                Path(answer).expanduser().write_text(text, encoding="utf-8")
            except OSError as exc:
                self.notify(f"export failed: {exc}", severity="error")
                return
            self.notify(f"wrote {answer}")

        self.app.push_screen(Prompt(f"Export this finding ({fmt}) to", str(path)), chosen)
