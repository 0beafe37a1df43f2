"""``Content-Encoding`` handling (``auditor.receivers.decoding.inflate``): gzip is undone within
the body limit, so a gzip bomb costs at most the limit, never its inflated size."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import pytest

from auditor.otlp.batch import OtlpDecodeError
from auditor.receivers.decoding import PayloadTooLarge, UnsupportedMedia, inflate
from tests.unit.otlp.builders import gzip_bomb, job_request

BODY = job_request().SerializeToString()
MIB = 1 << 20


@pytest.mark.parametrize("encoding", ["gzip", "GZIP", " gzip ", "x-gzip"])
def test_a_gzip_body_inflates_to_the_original(encoding: str) -> None:
    assert inflate(gzip.compress(BODY), encoding, MIB) == BODY


@pytest.mark.parametrize("encoding", [None, "", "identity", "Identity"])
def test_an_identity_body_is_returned_as_is(encoding: str | None) -> None:
    assert inflate(BODY, encoding, MIB) == BODY


def test_a_body_exactly_at_the_limit_passes_and_one_byte_more_does_not() -> None:
    data = b"x" * 1000
    assert inflate(data, None, 1000) == data
    assert inflate(gzip.compress(data), "gzip", 1000) == data
    with pytest.raises(PayloadTooLarge):
        inflate(data + b"x", None, 1000)
    with pytest.raises(PayloadTooLarge, match="inflates past the 1000 byte limit"):
        inflate(gzip.compress(data + b"x"), "gzip", 1000)


def test_the_bomb_is_a_valid_gzip_of_zeros() -> None:
    assert gzip.decompress(gzip_bomb(3)) == bytes(3 * MIB)


def test_a_gzip_bomb_of_1_gib_raises_payload_too_large_after_allocating_about_the_limit() -> None:
    bomb = gzip_bomb(1024)  # 1 GiB of zeros in ~1 MiB
    assert len(bomb) < 1.1 * MIB
    limit = 4 * MIB
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge):
            inflate(bomb, "gzip", limit)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Measured: ~2.2x the limit (the output buffer, plus the last chunk of up to the limit that
    # zlib returns before it is appended, plus the unconsumed input). A small multiple of the
    # limit, where decompress-then-check would have needed the whole GiB.
    assert peak < 3 * limit, f"peak {peak / MIB:.1f} MiB for a {limit / MIB:.0f} MiB limit"


def test_a_gzip_bomb_is_refused_at_a_small_limit_too() -> None:
    with pytest.raises(PayloadTooLarge):
        inflate(gzip_bomb(64), "gzip", 64 * 1024)


@pytest.mark.parametrize("cut", [10, 4, 1])
def test_a_truncated_gzip_body_is_a_decode_error(cut: int) -> None:
    compressed = gzip.compress(BODY)
    with pytest.raises(OtlpDecodeError, match="truncated"):
        inflate(compressed[: len(compressed) // cut if cut > 1 else -1], "gzip", MIB)


def test_a_body_that_is_not_gzip_is_a_decode_error() -> None:
    with pytest.raises(OtlpDecodeError, match="not valid gzip"):
        inflate(BODY, "gzip", MIB)


def test_a_corrupt_gzip_body_is_a_decode_error() -> None:
    compressed = bytearray(gzip.compress(BODY))
    compressed[len(compressed) // 2] ^= 0xFF
    with pytest.raises(OtlpDecodeError):
        inflate(bytes(compressed), "gzip", MIB)


def test_concatenated_gzip_members_inflate_to_their_concatenation() -> None:
    # RFC 1952: a gzip file is a series of members; `gzip -c a b` and some proxies make them
    first, second = BODY[:100], BODY[100:]
    assert inflate(gzip.compress(first) + gzip.compress(second), "gzip", MIB) == BODY


def test_the_limit_holds_across_concatenated_members() -> None:
    member = gzip.compress(b"x" * 600)
    assert len(inflate(member, "gzip", 1000)) == 600
    with pytest.raises(PayloadTooLarge):
        inflate(member + member, "gzip", 1000)


def test_garbage_after_a_gzip_member_is_a_decode_error() -> None:
    with pytest.raises(OtlpDecodeError):
        inflate(gzip.compress(BODY) + b"trailing", "gzip", MIB)


@pytest.mark.parametrize("encoding", ["br", "deflate", "zstd", "compress", "gzip, br", "snappy"])
def test_an_unsupported_content_encoding_raises_unsupported_media(encoding: str) -> None:
    body = zlib.compress(BODY) if encoding == "deflate" else BODY
    with pytest.raises(UnsupportedMedia, match="unsupported content encoding"):
        inflate(body, encoding, MIB)
