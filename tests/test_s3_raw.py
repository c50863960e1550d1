"""The private minio calls of storage.s3_raw: still there, with the parameters used, in the pinned release."""

from __future__ import annotations

import inspect
from importlib.metadata import version
from pathlib import Path

from minio import Minio

from storage import s3_raw

REPO = Path(__file__).resolve().parents[1]


def test_the_pinned_minio_is_the_one_the_raw_calls_were_written_for() -> None:
    pinned = [line for line in (REPO / "requirements.lock").read_text().splitlines() if line.startswith("minio==")]
    assert pinned == [f"minio=={s3_raw.MINIO_VERSION}"]
    assert version("minio") == s3_raw.MINIO_VERSION


def test_minio_execute_takes_the_parameters_the_raw_calls_pass() -> None:
    parameters = inspect.signature(Minio._execute).parameters
    assert list(parameters)[:2] == ["self", "method"]
    assert {"bucket_name", "object_name", "query_params"} <= set(parameters)
