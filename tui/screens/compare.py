"""The lying run beside a typical honest run of the same job: spans paired by name, the ones
that differ (missing on one side, or another status) highlighted. The honest run is chosen by
the source (``Source.honest_trace``: the run of the same span name and service nearest the
median duration, with no open finding); both traces are read in a worker."""

from __future__ import annotations

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from tui.source import Detail, SourceError
from tui.trace import align, waterfall_rows


class CompareScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,backspace", "app.pop_screen", "Back"),
        Binding("question_mark", "app.help", "Help"),
    ]

    def __init__(self, detail: Detail) -> None:
        super().__init__()
        self.detail = detail

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll():
            yield Static("finding an honest run of this job…", id="compare")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"compare {self.detail.finding.fingerprint}"
        self.load()

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def load(self) -> None:
        source = self.app.source  # type: ignore[attr-defined]
        try:
            trace_id, why = source.honest_trace(self.detail.finding)
            honest = source.trace(trace_id) if trace_id else ()
        except SourceError as exc:
            trace_id, why, honest = None, str(exc), ()
        self.app.call_from_thread(self.show, trace_id, why, honest)

    def show(self, trace_id: str | None, why: str, honest: tuple[dict, ...]) -> None:  # type: ignore[type-arg]
        f = self.detail.finding
        if trace_id is None:
            self.query_one("#compare", Static).update(
                f"[yellow]Nothing to compare:[/] {escape(why)}"
            )
            return
        lying = waterfall_rows(self.detail.spans, f)
        pairs = align(lying, waterfall_rows(honest, None))
        width = 38
        lines = [
            f"[b]{'lying run ' + f.trace_id[:16]:<{width}}  honest run {trace_id[:16]}[/b]",
            "",
        ]
        for pair in pairs:
            left = _cell(pair.lying, width)
            right = _cell(pair.honest, width)
            text = f"{escape(left)}  {escape(right)}"
            if pair.lying is None:
                text = f"[green]{escape(' ' * width)}  {escape(right)}  ← only the honest run has it[/]"
            elif pair.honest is None:
                text = f"[yellow]{escape(left)}  {' ' * width}  ← only the lying run has it[/]"
            elif pair.differs:
                text = f"[red]{text}  ← status differs[/]"
            lines.append(text)
        ghosts = [r for r in lying if r.ghost]
        for ghost in ghosts:
            lines.append(f"\n[red]The lying run lacks: {escape(ghost.name)}[/]")
        self.query_one("#compare", Static).update("\n".join(lines))


def _cell(row: object, width: int) -> str:
    if row is None:
        return " " * width
    name = getattr(row, "gutter", "") + getattr(row, "name", "")
    ms = (getattr(row, "end_ns", 0) - getattr(row, "start_ns", 0)) / 1e6
    status = getattr(row, "status", "")
    text = f"{name[: width - 16]} {ms:7.1f}ms {status[:5]}"
    return text[:width].ljust(width)
