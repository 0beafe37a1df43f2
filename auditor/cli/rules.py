"""``audit rules list|lint|explain|test|schema``: tooling for rule authors.

- ``list``: every rule that would run (built-in packs and ``--rules``), where it is defined;
- ``lint``: load and compile rule files, and bind every query (so a ``where:`` naming a
  column that does not exist is reported at its ``file:line:col``) without any spans;
- ``explain ID``: the statement ``audit scan`` runs for the rule (every check at once, the
  first column of each row naming its check), pretty, with its bound parameters, and the
  shared effects table it reads when other rules accept the same effects;
- ``test PATH…``: rule unit tests (``auditor.rules.testing``) of the files given, and of the
  rule test files in the folders given (named as ``auditor.rules.loader`` says): exit 0 all
  pass, 1 a test failed, 2 a rule or test file is broken;
- ``schema``: the JSON Schema of rule files (with the system profile schema inside);
- ``suggest``: propose rules from traffic (``cli.suggest``).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import duckdb
import typer

from auditor.cli.help import typer_app
from auditor.cli.suggest import suggest_command
from auditor.engine.catalog import Catalog, load_catalog
from auditor.engine.derive import derive
from auditor.engine.lint import traffic_warnings, unknown_system_warnings
from auditor.engine.scan import ScanRequest, run_scan
from auditor.errors import ExitCode, InputError, RuleError, UsageError
from auditor.profiles.schema import profile_schema
from auditor.rules.compiler import shared_effect_tables, statement_for
from auditor.rules.loader import RULE_FILE_SUFFIXES, is_rule_test_file
from auditor.rules.model import Rule
from auditor.rules.schema import rule_file_schema
from auditor.rules.testing import TEST_FILE_SCHEMA, compare, spans_to_request
from auditor.store.duck import DuckStore
from auditor.store.sandbox import sandbox
from auditor.yamlloc import load_located, validate

rules_app = typer_app(help="List, lint, explain, test and suggest rules.", add_completion=False)


def register(app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules")


@rules_app.command("list")
def list_command(
    rules: list[Path] = typer.Option(
        [], "--rules", metavar="PATH", help="Rule files or folders to add."
    ),
    packs: bool = typer.Option(True, "--packs/--no-packs", help="Include the built-in packs."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per rule."),
) -> None:
    """List the rules that would run."""
    catalog = load_catalog(rules, packs=packs)
    for rule in catalog.rules.rules:
        origin = "built-in" if catalog.is_builtin(rule) else "user"
        if as_json:
            print(json.dumps({
                "id": rule.id, "title": rule.title, "severity": str(rule.severity),
                "kinds": [str(k) for k in rule.finding_kinds()], "enabled": rule.enabled,
                "origin": origin, "source": f"{rule.location.file}:{rule.location.line}",
            }))  # fmt: skip
        else:
            kinds = ",".join(str(k) for k in rule.finding_kinds())
            state = "" if rule.enabled else " (disabled)"
            print(f"{rule.id:34} {rule.severity!s:8} {origin:8} {kinds}{state}")


def _bind_all(catalog: Catalog, only_user: bool = True) -> list[str]:
    """Bind every rule's statement against an empty store; problems as file:line:col."""
    problems: list[str] = []
    with DuckStore(":memory:") as store:
        derive(store.con, catalog.profiles)
        sandbox(store.con)  # the walls rules run behind in scan and serve
        for rule in catalog.rules.rules:
            if only_user and catalog.is_builtin(rule):
                continue
            sql, params = statement_for(rule, judged="rows")  # every check and judged query
            try:
                store.con.execute("EXPLAIN " + sql, params).fetchall()
            except duckdb.Error as exc:
                where = rule.location
                text = str(exc).splitlines()[0]
                for field in ("jobs.where", "expect.span.where"):
                    if dict(rule.field_locations).get(field):
                        where = rule.location_of(field)
                        break
                problems.append(f"{where}: rule '{rule.id}' does not run: {text}")
    return problems


@rules_app.command("lint")
def lint_command(
    paths: list[Path] = typer.Argument(
        ..., metavar="PATH", help="Rule files or folders (rule test files in them are skipped)."
    ),
    spans: list[Path] = typer.Option(
        [],
        "--spans",
        metavar="FILE",
        help="Span files to try the rules on: warn about rules that judge no job there.",
    ),
    db: Path | None = typer.Option(
        None, "--db", metavar="PATH", help="A store to try the rules on, as --spans."
    ),
    strict: bool = typer.Option(False, "--strict", help="Exit 2 when there is a warning."),
) -> int:
    """Check rule files: schema, semantics, and that every query runs; warn about selectors
    that can match nothing (a system no profile names; given traffic, rules judging no job)."""
    catalog = load_catalog(paths, packs=False)
    problems = _bind_all(catalog)
    if problems:
        raise RuleError(problems)
    warnings = unknown_system_warnings(catalog)
    if spans or db is not None:
        if db is not None and not db.exists():
            raise InputError(f"no store at {db}")
        request = ScanRequest(files=tuple(str(p) for p in spans), db=db, evidence=False)
        warnings += traffic_warnings(load_catalog(paths, packs=True), request)
    for warning in warnings:
        print(f"audit: warning: {warning}", file=sys.stderr)
    user = [r for r in catalog.rules.rules if not catalog.is_builtin(r)]
    note = f", {len(warnings)} warning(s)" if warnings else ""
    print(f"{len(user)} rule(s) OK{note}", file=sys.stderr)
    return int(ExitCode.USAGE) if strict and warnings else 0


@rules_app.command("explain")
def explain_command(
    rule_id: str = typer.Argument(..., metavar="RULE_ID", help="The id of the rule."),
    rules: list[Path] = typer.Option(
        [], "--rules", metavar="PATH", help="Rule files or folders to add."
    ),
    packs: bool = typer.Option(
        True, "--packs/--no-packs", help="Include the built-in packs, as audit scan does."
    ),
    profiles: bool = typer.Option(
        False, "--profiles", help="Also print the SQL deriving job_runs, effects, …"
    ),
) -> None:
    """Print the SQL statement audit scan runs for a rule."""
    catalog = load_catalog(rules, packs=packs)
    rule = catalog.rules.get(rule_id)
    if rule is None:
        import difflib

        close = difflib.get_close_matches(rule_id, [r.id for r in catalog.rules.rules], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UsageError(f"no rule {rule_id!r}{hint}")
    if profiles:
        from auditor.profiles.compiler import compile_profiles
        from auditor.sqlbuild import DUCKDB

        for name, query in compile_profiles(catalog.profiles).items():
            print(f"-- derived table {name}\n{DUCKDB.render(query)};\n")
    print(explain_text(catalog, rule), end="")


def explain_text(catalog: Catalog, rule: Rule) -> str:
    """What ``audit rules explain`` prints for ``rule``: the statement ``audit scan`` runs
    for it among the catalog's enabled rules (a rule accepting the same effects as another
    reads the effects table made for both, printed first), pretty."""
    shared, made = shared_effect_tables(catalog.enabled_rules())
    table = shared.get(rule.id) if rule.enabled else None
    # audit scan counts the jobs every rule judges (only --format junit lists them)
    sql, params = statement_for(
        rule, judged="count", tables={"e": table} if table else None, pretty=True
    )
    out = [f"-- rule {rule.id} ({rule.location})\n"]
    for name, select, values in made:
        if name == table:
            others = ", ".join(sorted(r for r, t in shared.items() if t == name and r != rule.id))
            shown = ", ".join(repr(v) for v in values)
            out.append(
                f"\n-- the effects table it reads, made once for it and {others}"
                + (f"; parameters, in order: {shown}" if shown else "")
                + f'\nCREATE OR REPLACE TEMP TABLE "{name}" AS\n{_pretty(select)};\n'
            )
    shown = ", ".join(f"${k} = {v!r}" for k, v in params.items())
    out.append(
        "\n-- every check at once; the first column of each row names its check"
        + (f"; parameters: {shown}" if shown else "")
        + f"\n{sql};\n"
    )
    return "".join(out)


def _pretty(sql: str) -> str:
    import sqlglot

    return sqlglot.transpile(sql, read="duckdb", write="duckdb", pretty=True)[0]


@rules_app.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of rule files."""
    print(json.dumps(rule_file_schema(profile_schema()), indent=2))


def _load_test_file(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    document = load_located(text, str(path))
    problems = [*document.problems, *validate(document, TEST_FILE_SCHEMA)]
    if problems:
        raise RuleError([str(p) for p in problems])
    return document.value


def _test_files(paths: list[Path]) -> list[Path]:
    """Files as given; folders expanded to the rule test files below them, sorted."""
    files: list[Path] = []
    for path in paths:
        if not path.is_dir():
            files.append(path)
            continue
        found = sorted(
            p
            for p in path.rglob("*")
            if p.suffix in RULE_FILE_SUFFIXES and p.is_file() and is_rule_test_file(p, path)
        )
        if not found:
            raise UsageError(f"no rule test files in {path} (*_test.yaml, *.test.yaml, tests/)")
        files += found
    return files


@rules_app.command("test")
def test_command(
    files: list[Path] = typer.Argument(
        ...,
        metavar="PATH",
        help="Rule test files (the rules to load, spans in, findings expected), or folders: "
        "their *_test.yaml, *.test.yaml and tests/ files.",
    ),
    rules: list[Path] = typer.Option(
        [],
        "--rules",
        metavar="PATH",
        help="Rule files or folders to test, for test files without rule_files.",
    ),
    packs: bool = typer.Option(False, "--packs/--no-packs", help="Also run the built-in packs."),
) -> int:
    """Run rule unit tests: spans in, expected findings out."""
    failed = total = 0
    for path in _test_files(files):
        spec = _load_test_file(path)
        rule_paths = [path.parent / p for p in spec.get("rule_files", [])] or list(rules)
        catalog = load_catalog(rule_paths, packs=packs)
        for test in spec["tests"]:
            total += 1
            inputs = [str(path.parent / p) for p in test.get("otlp", [])]
            with tempfile.TemporaryDirectory() as tmp:
                if test.get("spans"):
                    request = Path(tmp) / "spans.jsonl"
                    request.write_text(json.dumps(spans_to_request(test["spans"])) + "\n")
                    inputs.append(str(request))
                as_of = None
                if "as_of" in test:
                    from auditor.cli.scan import parse_as_of

                    as_of = parse_as_of(test["as_of"])
                result = run_scan(
                    ScanRequest(
                        files=tuple(inputs), as_of_ns=as_of, evidence=False, require_spans=False
                    ),
                    catalog,
                )
            if result.input_problem and result.ingest is not None:
                raise InputError(
                    f"{path}: test {test['name']!r}: " + "; ".join(result.ingest.problems)
                )
            evaluation = result.report
            outcome = compare(test["expect"], list(evaluation.findings))
            if outcome.passed:
                print(f"ok    {path}: {test['name']}")
                continue
            failed += 1
            print(f"FAIL  {path}: {test['name']}")
            for want in outcome.missing:
                print(f"        expected, not found: {want}")
            for got in outcome.unexpected:
                print(f"        found, not expected: {got}")
    print(f"{total - failed} passed, {failed} failed", file=sys.stderr)
    return int(ExitCode.FINDINGS) if failed else 0


rules_app.command("suggest")(suggest_command)
