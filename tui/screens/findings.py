"""The findings screen: the Arrow-backed table, the filter bar, the side panel, export.

The source's table arrives in a worker (``AuditApp.load``); filtering and sorting run in an
exclusive thread worker too (a newer keystroke cancels the older pass), and only the finished
view is handed to the widgets. The table widget is textual-fastdatatable over the view's Arrow
columns: it renders the visible rows only and never measures 100k cells up front.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pyarrow as pa
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.suggester import Suggester
from textual.widgets import Footer, Header, Input, Sparkline, Static
from textual.worker import get_current_worker
from textual_fastdatatable import ArrowBackend, DataTable

from tui import view as v
from tui.screens.prompt import Prompt


class FacetSuggester(Suggester):
    """Completes the filter bar's last term from the data's facet values."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.values: dict[str, list[str]] = {}

    async def get_suggestion(self, value: str) -> str | None:
        options = v.complete(value, self.values)
        return options[0] if options and options[0] != value else None


class FilterInput(Input):
    BINDINGS = [
        Binding("tab", "accept", "Complete", show=False),
        Binding("escape", "leave", "Close filter", show=False),
    ]

    def action_accept(self) -> None:
        if self._suggestion:
            self.value = self._suggestion
            self.cursor_position = len(self.value)

    def action_leave(self) -> None:
        self.screen.query_one("#findings-table").focus()

    def on_focus(self) -> None:
        self.screen.typing_ahead = False  # type: ignore[attr-defined]

    def on_blur(self) -> None:
        # focusable only while filtering: a table swap must not hand it the keys
        self.can_focus = False


class FindingsScreen(Screen[None]):
    BINDINGS = [
        Binding("slash", "filter", "Filter"),
        Binding("enter", "open", "Detail", show=False),
        Binding("s", "sort", "Sort"),
        Binding("x", "export", "Export"),
        Binding("ctrl+r", "app.reload", "Refresh"),
        Binding("R", "app.push_screen('rules')", "Rules"),
        Binding("S", "app.push_screen('stats')", "Stats"),
        Binding("question_mark", "app.help", "Help"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.table: pa.Table | None = None  # the source's rows, with age columns
        self.view: v.View | None = None
        self.query_text = ""
        self.sort = v.DEFAULT_SORT
        self.suggester = FacetSuggester()
        self.capped_at: int | None = None
        self._swap = asyncio.Lock()
        self.typing_ahead = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield FilterInput(
            placeholder="/ filter: words, sev:high rule: kind: system: state: triage: age>1h (tab completes)",
            id="filter",
            suggester=self.suggester,
        )
        with Horizontal(id="body"):
            with Vertical(id="table-box"):
                yield DataTable(id="findings-table", cursor_type="row")
            with Vertical(id="side"):
                yield Static("", id="counts")
                yield Static("findings over time", classes="dim")
                yield Sparkline([], id="spark")
        yield Static("loading findings…", id="caption")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#filter").can_focus = False
        self.query_one("#findings-table").focus()
        self.sub_title = self.app.source.label  # type: ignore[attr-defined]

    def on_resize(self) -> None:
        # the side panel gives way on narrow terminals (80x24 keeps the whole table)
        self.query_one("#side").display = self.size.width >= 100

    # ------------------------------------------------------------------ data in

    def show_table(self, table: pa.Table, total: int) -> None:
        """A new table from the source (first load or refresh)."""
        self.table = table
        self.capped_at = table.num_rows if total > table.num_rows else None
        self.suggester.values = v.facet_values(table)
        self.rebuild()

    def rebuild(self) -> None:
        if self.table is not None:
            self._compute(self.table, self.query_text, self.sort)

    @work(thread=True, exclusive=True, group="view", exit_on_error=False)
    def _compute(self, table: pa.Table, text: str, sort: tuple[tuple[str, str], ...]) -> None:
        try:
            query = v.parse_query(text)
        except v.FilterError as exc:
            self.app.call_from_thread(self._caption_error, str(exc))
            return
        built = v.build_view(table, query, time.time_ns(), sort, self.capped_at)
        display = built.display()
        counts = v.rule_counts(built.rows)
        bins = v.histogram(built.rows)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._apply, built, display, counts, bins)

    def _caption_error(self, text: str) -> None:
        self.query_one("#caption", Static).update(Text(text, style="bold red"))

    async def _apply(
        self, built: v.View, display: pa.Table, counts: list[v.RuleCount], bins: list[int]
    ) -> None:
        # fastdatatable takes a new backend by a new widget; swaps run one at a time
        async with self._swap:
            await self._swap_table(built, display)
        lines = ["[b]findings by rule[/b]"] + [
            f"{c.count:>6,} {c.rule_id[:24]}" for c in counts[:12]
        ]
        if len(counts) > 12:
            lines.append(f"   … {len(counts) - 12} more rules")
        self.query_one("#counts", Static).update("\n".join(lines))
        self.query_one("#spark", Sparkline).data = bins
        caption = built.caption()
        if self.query_text:
            caption += f"  ·  filter: {self.query_text}"
        self.query_one("#caption", Static).update(caption)

    async def _swap_table(self, built: v.View, display: pa.Table) -> None:
        self.view = built
        old = self.query_one("#findings-table", DataTable)
        bar = self.query_one("#filter", FilterInput)
        had_focus = not bar.has_focus
        row = old.cursor_row if old.row_count else 0
        fresh = DataTable(
            backend=ArrowBackend(display),
            id="findings-table",
            cursor_type="row",
            max_column_content_width=40,
        )
        await old.remove()
        await self.query_one("#table-box").mount(fresh)
        if display.num_rows:
            fresh.move_cursor(row=min(row, display.num_rows - 1))
        if had_focus:
            fresh.focus()
            self.call_after_refresh(fresh.focus)

    # ------------------------------------------------------------------ actions

    def action_filter(self) -> None:
        # the bar is always shown (one line), so it takes the keys typed right after "/"
        bar = self.query_one("#filter", FilterInput)
        bar.can_focus = True
        bar.focus()
        # focus moves after the keys already queued (a paste, a fast typist, tmux send-keys):
        # until it has, they are typed into the bar here instead of running bindings
        self.typing_ahead = True

    def on_key(self, event: events.Key) -> None:
        bar = self.query_one("#filter", FilterInput)
        if self.typing_ahead and not bar.has_focus:
            if event.is_printable and event.character:
                bar.insert_text_at_cursor(event.character)
            elif event.key == "enter":
                self.typing_ahead = False
                self.query_one("#findings-table").focus()
            else:
                return
            event.stop()
            event.prevent_default()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.query_text = event.value
        self.rebuild()

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        self.query_one("#findings-table").focus()

    def selected_fingerprint(self) -> str | None:
        if self.view is None or not self.view.rows.num_rows:
            return None
        row = self.query_one("#findings-table", DataTable).cursor_row
        return str(self.view.rows.column("fingerprint")[row].as_py())

    def action_open(self) -> None:
        fingerprint = self.selected_fingerprint()
        if fingerprint:
            self.app.open_detail(fingerprint)  # type: ignore[attr-defined]

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        self.action_open()

    @on(DataTable.HeaderSelected)
    def _header(self, event: DataTable.HeaderSelected) -> None:
        header = v.SHOWN[event.column_index][0]
        self.sort = v.toggled_sort(self.sort, header)
        self.rebuild()

    def action_sort(self) -> None:
        headers = ", ".join(h for h, _ in v.SHOWN)

        def chosen(answer: str | None) -> None:
            if not answer:
                return
            name = answer.strip().lower()
            if name not in dict(v.SHOWN):
                self.notify(f"sort by one of: {headers}", severity="error")
                return
            self.sort = v.toggled_sort(self.sort, name)
            self.rebuild()

        self.app.push_screen(Prompt(f"Sort by ({headers}); again to reverse", "sev"), chosen)

    def action_export(self) -> None:
        def chosen(answer: str | None) -> None:
            if answer and self.view is not None:
                self._export(self.view.rows, Path(answer).expanduser())

        self.app.push_screen(
            Prompt("Export the filtered findings to (.csv, .json or .parquet)", "findings.csv"),
            chosen,
        )

    @work(thread=True, group="export", exit_on_error=False)
    def _export(self, rows: pa.Table, path: Path) -> None:
        try:
            done = v.export(rows, path)
        except (OSError, ValueError) as exc:
            self.app.call_from_thread(self.notify, f"export failed: {exc}", severity="error")
            return
        self.app.call_from_thread(self.notify, f"wrote {done.rows:,} findings to {done.path}")
