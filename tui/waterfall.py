"""The waterfall: a trace's spans as bars on a time axis, drawn with Textual's Line API.

Only the visible lines are rendered (``render_line`` per row on screen), so a trace of
thousands of spans scrolls like a short one. Each line: the tree gutter and span name, then
the bar over the trace's time range; events are marks (``◆``) on the bar; the span that said
"done" carries ``✓done``, the ghost row of a missing confirmation is drawn dashed in red.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.trace import Row

NAME_WIDTH = 34
_STYLES = {
    "ghost": Style(color="red", italic=True),
    "failed": Style(color="red"),
    "done": Style(color="yellow", bold=True),
    "effect": Style(color="green"),
    "miss": Style(color="magenta"),
}


class Waterfall(ScrollView, can_focus=True):
    """A virtualized waterfall of ``Row`` values; ``cursor`` is the selected row."""

    BINDINGS = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup", "move(-10)", "Page up", show=False),
        Binding("pagedown", "move(10)", "Page down", show=False),
    ]
    DEFAULT_CSS = "Waterfall { height: 1fr; border: round $primary-background; }"
    cursor: reactive[int] = reactive(0)

    class Selected(Message):
        def __init__(self, row: Row) -> None:
            self.row = row
            super().__init__()

    def __init__(self, rows: Sequence[Row] = (), *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[Row] = []
        self.set_rows(rows)

    def set_rows(self, rows: Sequence[Row]) -> None:
        self.rows = list(rows)
        spans = [r for r in self.rows if not r.ghost] or self.rows
        self._lo = min((r.start_ns for r in spans), default=0)
        self._hi = max((r.end_ns for r in spans), default=1)
        self.virtual_size = Size(self.size.width or 80, len(self.rows))
        self.cursor = 0
        if self.rows:
            self.post_message(self.Selected(self.rows[0]))
        self.refresh()

    def watch_cursor(self, cursor: int) -> None:
        if self.rows:
            self.scroll_to_region_row(cursor)
            self.post_message(self.Selected(self.rows[cursor]))
        self.refresh()

    def scroll_to_region_row(self, row: int) -> None:
        top = int(self.scroll_offset.y)
        height = max(1, self.scrollable_content_region.height)
        if row < top:
            self.scroll_to(y=row, animate=False)
        elif row >= top + height:
            self.scroll_to(y=row - height + 1, animate=False)

    def action_move(self, delta: int) -> None:
        if self.rows:
            self.cursor = max(0, min(len(self.rows) - 1, self.cursor + delta))

    def on_click(self, event: object) -> None:
        y = getattr(event, "y", None)
        if isinstance(y, int) and self.rows:
            self.cursor = max(0, min(len(self.rows) - 1, y + int(self.scroll_offset.y)))

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.rows))

    def render_line(self, y: int) -> Strip:
        index = y + int(self.scroll_offset.y)
        width = self.scrollable_content_region.width
        if index >= len(self.rows) or width <= 0:
            return Strip.blank(width)
        row = self.rows[index]
        return Strip(self._segments(row, width, index == self.cursor)).crop(0, width)

    def _segments(self, row: Row, width: int, selected: bool) -> list[Segment]:
        base = Style(reverse=True) if selected else Style()
        mark_style = next(
            (_STYLES[m] for m in ("ghost", "failed", "done", "effect", "miss") if m in row.marks),
            Style(),
        )
        name_width = min(NAME_WIDTH, max(12, width // 3))
        label = (row.gutter + row.name)[: name_width - 1].ljust(name_width)
        tag = ""
        if "done" in row.marks:
            tag = " ✓done"
        elif "failed" in row.marks:
            tag = " ✗"
        bar_width = max(4, width - name_width - 16)
        cells = [" "] * bar_width
        span = max(1, self._hi - self._lo)

        def at(ns: int) -> int:
            return max(0, min(bar_width - 1, int((ns - self._lo) * (bar_width - 1) / span)))

        a, b = at(row.start_ns), at(row.end_ns)
        fill = "┄" if row.ghost else "━"
        for i in range(a, b + 1):
            cells[i] = fill
        if row.ghost:
            cells[a] = "◌"
        for time_ns, _ in row.events:
            cells[at(time_ns)] = "◆"
        ms = (row.end_ns - row.start_ns) / 1e6
        took = " " * 10 if row.ghost else f"{ms:8.1f}ms"
        return [
            Segment(label, base + mark_style),
            Segment("".join(cells), base + (mark_style or Style(color="cyan"))),
            Segment(f"{took}{tag}", base + mark_style),
        ]
