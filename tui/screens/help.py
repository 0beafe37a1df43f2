"""``?``: every key of the screen underneath and of the app, read from their bindings, so the
help never disagrees with the keys."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from tui.view import FACETS

FILTER_HELP = (
    "Filter (/): words match rule, job, id, key, service, message; facets "
    + ", ".join(f"{f}:" if f != "age" else "age>10m age<2h" for f in FACETS)
    + "; sev>=medium; globs in rule:; tab completes."
)


def binding_lines(screen: Screen[object]) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for holder in (screen, screen.app):
        for item in getattr(holder, "BINDINGS", []):
            binding = item if isinstance(item, Binding) else Binding(*item)
            if binding.description and binding.key not in seen:
                seen[binding.key] = binding.description
    return list(seen.items())


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 80; max-width: 98%; height: 90%; border: thick $accent;
                                  background: $surface; padding: 0 1; }
    """

    def __init__(self, under: Screen[object]) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        lines = [f"[b]{type(self.under).__name__.removesuffix('Screen')} keys[/b]", ""]
        for key, description in binding_lines(self.under):
            lines.append(f"  [b]{key:<18}[/b] {description}")
        lines += [
            "",
            FILTER_HELP,
            "",
            "ctrl+p opens the command palette (themes, screens, export).",
        ]
        with VerticalScroll():
            yield Static("\n".join(lines), id="help-text")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
