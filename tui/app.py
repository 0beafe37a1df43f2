"""The Textual app: ``AuditApp(source)`` and ``make_app``, the one factory the CLI and the
tests use.

The app owns the source and the findings table; screens ask it for both. Every call into
the source runs in a thread worker (``exclusive`` per group, so a refresh replaces the one
before it); results come back through ``call_from_thread`` and only then touch widgets.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from tui.screens.compare import CompareScreen
from tui.screens.detail import DetailScreen
from tui.screens.findings import FindingsScreen
from tui.screens.help import HelpScreen
from tui.screens.rules import RulesScreen, StatsScreen
from tui.source import Detail, Source, SourceError
from tui.view import with_age

CSS_PATH = Path(__file__).with_name("app.tcss")


class AuditApp(App[None]):
    TITLE = "audit"
    CSS_PATH = CSS_PATH
    SCREENS = {"rules": RulesScreen, "stats": StatsScreen}
    BINDINGS = [
        Binding("question_mark", "help", "Help"),
        Binding("ctrl+t", "toggle_theme", "Light/dark"),
        Binding("ctrl+q", "quit", "Quit", show=False),
    ]

    def __init__(self, source: Source, *, theme: str = "textual-dark", now_ns: int | None = None):
        super().__init__()
        self.source = source
        self.start_theme = theme
        self.now_ns = now_ns  # tests pin the clock the ages are computed against
        self._table: pa.Table | None = None

    def on_mount(self) -> None:
        self.theme = self.start_theme
        self.push_screen(FindingsScreen())
        self.reload()

    # ------------------------------------------------------------------ data

    def findings_table(self) -> pa.Table | None:
        return self._table

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def reload(self) -> None:
        import time

        try:
            loaded = self.source.findings()
        except SourceError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error", timeout=10)
            return
        table = with_age(loaded.table, self.now_ns or time.time_ns())
        self.call_from_thread(self._loaded, table, loaded.total)

    def action_reload(self) -> None:
        self.reload()

    def _loaded(self, table: pa.Table, total: int) -> None:
        self._table = table
        for screen in self.screen_stack:
            if isinstance(screen, FindingsScreen):
                screen.show_table(table, total)

    # ------------------------------------------------------------------ navigation

    def open_detail(self, fingerprint: str) -> None:
        self.push_screen(DetailScreen(fingerprint))

    def open_compare(self, detail: Detail) -> None:
        self.push_screen(CompareScreen(detail))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "Rules", "Each rule's YAML, SQL and counts", lambda: self.push_screen("rules")
        )
        yield SystemCommand(
            "Stats", "Ingest rate, evaluation lag, outbox depth", lambda: self.push_screen("stats")
        )
        yield SystemCommand("Refresh findings", "Read the findings again", self.reload)
        yield SystemCommand("Light / dark theme", "Toggle the theme", self.action_toggle_theme)
        yield SystemCommand("Help", "Every key of this screen", self.action_help)

    def on_unmount(self) -> None:
        self.source.close()


def make_app(source: Source, *, theme: str = "textual-dark", now_ns: int | None = None) -> AuditApp:
    """The app over ``source`` (the CLI and the tests build it here, the same way)."""
    return AuditApp(source, theme=theme, now_ns=now_ns)
