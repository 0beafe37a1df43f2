"""Opening a store: migrations, schema versions, read-only opening, and the one-writer rule."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from auditor.errors import ExitCode, StoreError
from auditor.otlp.batch import COLUMNS
from auditor.store.duck import DuckStore
from auditor.store.schema import LATEST_VERSION


def test_a_new_store_is_migrated_through_every_version_starting_with_the_spans(
    tmp_path: Path,
) -> None:
    path = tmp_path / "nested" / "dir" / "auditor.duckdb"
    with DuckStore(path) as store:
        assert store.schema_version() == LATEST_VERSION
        versions = store.con.execute(
            "SELECT version, description FROM auditor_schema ORDER BY version"
        ).fetchall()
        assert [v for v, _ in versions] == list(range(1, LATEST_VERSION + 1))
        assert versions[0] == (1, "spans and commit batches")
        columns = [
            r[0]
            for r in store.con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'otel_traces' ORDER BY ordinal_position"
            ).fetchall()
        ]
        assert columns == [*COLUMNS, "BatchId", "IngestedAt"]
        assert store.span_count() == 0


def test_reopening_a_migrated_store_runs_no_migration_again(tmp_path: Path) -> None:
    path = tmp_path / "auditor.duckdb"
    DuckStore(path).close()
    with DuckStore(path) as store:
        assert store.con.execute("SELECT count(*) FROM auditor_schema").fetchall() == [
            (LATEST_VERSION,)
        ]
    with DuckStore(path, read_only=True) as store:
        assert store.schema_version() == LATEST_VERSION


def _duckdb_file_with_version(path: Path, version: int | None) -> None:
    con = duckdb.connect(str(path))
    if version is not None:
        con.execute(
            "CREATE TABLE auditor_schema (version INTEGER, description VARCHAR, applied_at TIMESTAMP)"
        )
        con.execute("INSERT INTO auditor_schema VALUES (?, 'x', now())", [version])
    con.execute("CREATE TABLE unrelated (x INTEGER)")
    con.close()


@pytest.mark.parametrize("version", [None, 0])
def test_opening_an_older_store_read_only_says_how_to_migrate_it(
    tmp_path: Path, version: int | None
) -> None:
    path = tmp_path / "old.duckdb"
    _duckdb_file_with_version(path, version)
    with pytest.raises(StoreError) as error:
        DuckStore(path, read_only=True)
    message = str(error.value)
    assert message.startswith(f"{path} has schema version 0; ")
    assert f"audit ingest --db {path}" in message
    assert error.value.exit_code == ExitCode.INPUT


def test_opening_a_newer_store_read_only_says_to_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "new.duckdb"
    _duckdb_file_with_version(path, LATEST_VERSION + 1)
    with pytest.raises(StoreError) as error:
        DuckStore(path, read_only=True)
    assert str(error.value) == (
        f"{path} has schema version {LATEST_VERSION + 1}; this auditor knows up to "
        f"{LATEST_VERSION}. Upgrade auditor."
    )


def test_opening_a_newer_store_for_writing_refuses_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "new.duckdb"
    _duckdb_file_with_version(path, LATEST_VERSION + 1)
    with pytest.raises(StoreError, match="Upgrade auditor"):
        DuckStore(path)
    con = duckdb.connect(str(path), read_only=True)
    tables = {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    con.close()
    assert "otel_traces" not in tables


def test_an_older_store_opened_for_writing_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    _duckdb_file_with_version(path, None)
    with DuckStore(path) as store:
        assert store.schema_version() == LATEST_VERSION
        # what was there is kept
        assert store.con.execute("SELECT count(*) FROM unrelated").fetchall() == [(0,)]


def test_opening_a_missing_store_read_only_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=f"no store at {tmp_path / 'missing.duckdb'}"):
        DuckStore(tmp_path / "missing.duckdb", read_only=True)
    assert not (tmp_path / "missing.duckdb").exists()


def test_a_text_file_that_is_not_a_duckdb_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database\n")
    with pytest.raises(StoreError, match=f"{path} is not a DuckDB store"):
        DuckStore(path)


@pytest.mark.parametrize("name", ["traces.jsonl", "traces.json", "spans.csv"])
def test_a_data_file_given_as_the_store_is_a_store_error(tmp_path: Path, name: str) -> None:
    # `audit serve --db traces.jsonl` must not acknowledge spans it keeps only in memory
    path = tmp_path / name
    path.write_text('{"resourceSpans": []}\n' * 3)
    with pytest.raises(StoreError, match=str(path)):
        store = DuckStore(path)
        # what happens instead: everything "stored" is gone when the store is closed
        store.insert(spans_table())
        store.close()
        assert DuckStore(path).span_count() == 6


def spans_table():  # type: ignore[no-untyped-def]
    from auditor.otlp.protobuf import decode_protobuf
    from tests.unit.otlp.builders import job_request

    return decode_protobuf(job_request().SerializeToString()).to_arrow()


def test_a_store_that_refuses_to_open_releases_the_file(tmp_path: Path) -> None:
    path = tmp_path / "new.duckdb"
    _duckdb_file_with_version(path, LATEST_VERSION + 1)
    with pytest.raises(StoreError) as refused:
        DuckStore(path, read_only=True)
    # While the error (and its traceback) is alive, the refused store's connection must not
    # keep the file open: here, DuckDB refuses a second configuration of the same file.
    con = duckdb.connect(str(path))
    con.close()
    assert refused.value


HOLD_OPEN = """
import sys
from auditor.store.duck import DuckStore
store = DuckStore(sys.argv[1])
print("open", flush=True)
sys.stdin.read()  # until the test closes our stdin
store.close()
"""


@pytest.fixture
def store_held_by_another_process(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "held.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_OPEN, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        yield path, holder.pid
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        assert holder.wait(timeout=30) == 0


@pytest.mark.parametrize("read_only", [False, True])
def test_a_store_open_in_another_process_is_a_store_error_saying_so(
    store_held_by_another_process: tuple[Path, int], read_only: bool
) -> None:
    path, pid = store_held_by_another_process
    with pytest.raises(StoreError) as error:
        DuckStore(path, read_only=read_only)
    # the holder named by its PID and command line
    assert str(error.value).startswith(f"{path} is open in another process, PID {pid}: python")
    assert "from auditor.store.duck import DuckStore" in str(error.value)
    assert str(error.value).endswith(" (is `audit serve` running on it?)")


def test_a_second_writer_process_exits_with_the_store_error_on_stderr(
    store_held_by_another_process: tuple[Path, int],
) -> None:
    path, pid = store_held_by_another_process
    audit = Path(sys.executable).with_name("audit")
    result = subprocess.run(
        [str(audit), "ingest", "--db", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == ExitCode.INPUT
    assert result.stdout == ""
    assert result.stderr.startswith(
        f"audit: error: {path} is open in another process, PID {pid}: python"
    )
    assert result.stderr.endswith(" (is `audit serve` running on it?)\n")
    assert result.stderr.count("\n") == 1
