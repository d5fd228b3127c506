"""How a transform job splits a file into requests and assembles the answers (`batch`)."""

from __future__ import annotations

import gzip
import threading
from pathlib import Path

import pytest

from mlinfra.emulator.containers import JobFailure, Stopped
from mlinfra.emulator.services.jobs.batch import MB, Options, input_files, transform_file


def run(tmp_path: Path, data: bytes, options: Options) -> tuple[list[bytes], bytes]:
    """The request bodies sent, and the .out file's content."""
    source = tmp_path / "in.csv"
    source.write_bytes(data)
    sent: list[bytes] = []

    def invoke(body: bytes, content_type, accept) -> bytes:
        sent.append(body)
        return b"".join(b"s\n" for line in body.splitlines() if line.strip())

    target = tmp_path / "out" / "in.csv.out"
    transform_file(source, target, options, invoke, threading.Event())
    return sent, target.read_bytes()


def test_multirecord_packs_whole_lines_up_to_the_payload_limit(tmp_path):
    data = b"".join(b"%06d\n" % i for i in range(1000))  # 7 bytes a line
    options = Options(split="Line", strategy="MultiRecord", max_payload=700)
    sent, out = run(tmp_path, data, options)
    assert [len(body) for body in sent] == [700] * 10
    assert b"".join(sent) == data
    assert out == b"s\n" * 1000


def test_singlerecord_sends_each_line_and_skips_blank_ones(tmp_path):
    sent, out = run(tmp_path, b"1,2\n\n3,4\n5,6", Options(split="Line", strategy="SingleRecord"))
    assert sent == [b"1,2\n", b"3,4\n", b"5,6"]
    assert out == b"s\n" * 3


def test_assemble_with_none_concatenates_answers_as_they_are(tmp_path):
    source = tmp_path / "in.csv"
    source.write_bytes(b"a\nb\n")
    target = tmp_path / "in.csv.out"
    options = Options(split="Line", strategy="SingleRecord", assemble="None")
    transform_file(
        source, target, options, lambda b, c, a: b"[" + b.strip() + b"]", threading.Event()
    )
    assert target.read_bytes() == b"[a][b]"
    options = Options(split="Line", strategy="SingleRecord", assemble="Line")
    transform_file(
        source, target, options, lambda b, c, a: b"[" + b.strip() + b"]", threading.Event()
    )
    assert target.read_bytes() == b"[a]\n[b]\n"


def test_a_gzip_file_is_decompressed_first(tmp_path):
    sent, _ = run(tmp_path, gzip.compress(b"1\n2\n"), Options(split="Line", gzip=True))
    assert sent == [b"1\n2\n"]


def test_too_large_a_record_or_file_fails_naming_the_limit(tmp_path):
    with pytest.raises(JobFailure, match="MaxPayloadInMB"):
        run(tmp_path, b"x" * 20 + b"\n", Options(split="Line", max_payload=10))
    with pytest.raises(JobFailure, match="set SplitType to Line"):
        run(tmp_path, b"1\n" * 10, Options(split="None", max_payload=10))
    assert not (tmp_path / "out" / "in.csv.out").exists()
    assert MB == 1024 * 1024


def test_a_stop_ends_the_file_before_its_next_request(tmp_path):
    stopped = threading.Event()
    source = tmp_path / "in.csv"
    source.write_bytes(b"1\n2\n3\n")

    def invoke(body, content_type, accept):
        stopped.set()
        return b"s\n"

    with pytest.raises(Stopped):
        transform_file(source, tmp_path / "o.out", Options(split="Line", strategy="SingleRecord"),
                       invoke, stopped)  # fmt: skip
    assert not (tmp_path / "o.out").exists()


def test_an_s3_prefix_names_a_file_a_folder_or_the_names_it_starts(tmp_path):
    (tmp_path / "data" / "deep").mkdir(parents=True)
    for name in ("data/x.csv", "data/deep/y.csv", "data-2.csv", "other.csv"):
        (tmp_path / name).write_text("1\n")
    assert [k for _, k in input_files(tmp_path / "data")] == ["deep/y.csv", "x.csv"]
    assert [k for _, k in input_files(tmp_path / "data" / "x.csv")] == ["x.csv"]
    assert [k for _, k in input_files(tmp_path / "dat")] == ["data-2.csv", "data/deep/y.csv",
                                                              "data/x.csv"]  # fmt: skip
