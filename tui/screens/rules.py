"""Rules: each rule with its counts, and for the selected one its YAML as written and the SQL
``audit rules explain`` prints for it. Stats: what the source knows of ingest, evaluation
and alerting, and what it cannot know, said in words. Both read in a worker."""

from __future__ import annotations

from rich.markup import escape
from rich.syntax import Syntax
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from tui.source import RuleRow, SourceError, Stats


class RulesScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,backspace", "app.pop_screen", "Back"),
        Binding("question_mark", "app.help", "Help"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rules: list[RuleRow] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield OptionList(id="rule-list")
            with VerticalScroll(id="rule-box"):
                yield Static("loading rules…", id="rule-text")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "rules"
        self.load()

    @work(thread=True, exclusive=True, group="rules", exit_on_error=False)
    def load(self) -> None:
        try:
            rules = self.app.source.rules()  # type: ignore[attr-defined]
        except SourceError as exc:
            self.app.call_from_thread(self.query_one("#rule-text", Static).update, escape(str(exc)))
            return
        self.app.call_from_thread(self.show, rules)

    def show(self, rules: list[RuleRow]) -> None:
        self.rules = rules
        options = self.query_one(OptionList)
        options.clear_options()
        for rule in rules:
            open_ = rule.counts.get("open", 0) + rule.counts.get("pending", 0)
            label = f"{open_:>5} {rule.rule_id}" + (" (muted)" if rule.muted_until else "")
            options.add_option(Option(label, id=rule.rule_id))
        if rules:
            options.highlighted = 0
        options.focus()

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        rule = next((r for r in self.rules if r.rule_id == event.option.id), None)
        if rule is None:
            return
        counts = ", ".join(f"{k} {n}" for k, n in rule.counts.items()) or "no findings"
        triage = ", ".join(f"{k} {n}" for k, n in rule.triage.items() if n) or "-"
        head = (
            f"[b]{escape(rule.rule_id)}[/b] {escape(rule.severity)}: {escape(rule.title)}\n"
            f"findings: {escape(counts)}; triage: {escape(triage)}"
            + (f"\nmuted until {rule.muted_until}" if rule.muted_until else "")
        )
        box = self.query_one("#rule-box")
        box.remove_children()
        box.mount(Static(head))
        box.mount(Static("\n[b]YAML[/b]"))
        box.mount(
            Static(
                Syntax(rule.yaml, "yaml")
                if rule.yaml
                else "(not known here: the rule lives on the server)"
            )
        )
        box.mount(Static("\n[b]compiled SQL (audit rules explain)[/b]"))
        box.mount(Static(Syntax(rule.sql, "sql") if rule.sql else "(not known here)"))


class StatsScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,backspace", "app.pop_screen", "Back"),
        Binding("ctrl+r", "reload", "Refresh"),
        Binding("question_mark", "app.help", "Help"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("loading…", id="stats")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "stats"
        self.action_reload()

    @work(thread=True, exclusive=True, group="stats", exit_on_error=False)
    def action_reload(self) -> None:
        try:
            stats = self.app.source.stats()  # type: ignore[attr-defined]
        except SourceError as exc:
            stats = Stats((), str(exc))
        self.app.call_from_thread(self.show, stats)

    def show(self, stats: Stats) -> None:
        lines = [f"{what:<36} {escape(value)}" for what, value in stats.lines]
        if stats.missing:
            lines += ["", f"[yellow]Not available:[/] {escape(stats.missing)}"]
        self.query_one("#stats", Static).update("\n".join(lines))
