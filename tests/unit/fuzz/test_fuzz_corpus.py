"""Every input under ``tests/data/fuzz/`` (what once broke a decoder or loader) goes through
the fuzz tests' checks again: only the documented errors come out."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.receivers.decoding import JSON, PROTOBUF, decode_body
from tests.unit.fuzz.test_fuzz_otlp import LIMIT, decode_or_refuse
from tests.unit.fuzz.test_fuzz_yaml import load_config, load_rules_and_profiles

CORPUS = Path(__file__).resolve().parents[2] / "data" / "fuzz"


REPLAY = {
    "json": lambda path, tmp: decode_or_refuse(path.read_bytes(), JSON),
    "protobuf": lambda path, tmp: decode_or_refuse(path.read_bytes(), PROTOBUF),
    "rules": lambda path, tmp: load_rules_and_profiles(path.read_text(encoding="utf-8")),
    "config": lambda path, tmp: load_config(tmp, path.read_text(encoding="utf-8")),
}
FILES = sorted(p for p in CORPUS.glob("*/*") if p.is_file())


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_corpus_input_gives_only_documented_errors(path: Path, tmp_path: Path) -> None:
    REPLAY[path.parent.name](path, tmp_path)  # a folder of its own for each target


def test_a_too_deep_attribute_value_rejects_its_span_alone() -> None:
    decoded = decode_body(
        (CORPUS / "json/deep_attribute_value.json").read_bytes(), JSON, None, LIMIT
    )
    assert decoded.rejected == 1
    assert "nests deeper than 64 levels" in decoded.error_message
    assert decoded.table.num_rows == 5


def test_the_corpus_is_not_empty() -> None:
    assert FILES
