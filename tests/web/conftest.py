"""Fixtures of the page tests: one station per module, the pages served by TestClient or by uvicorn."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from evidock.app import App
from tests.web.world import World, build, opened


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, s3_env: dict[str, str]) -> World:
    keys = {"EVIDOCK_S3_ACCESS_KEY": s3_env["S3_ACCESS_KEY"], "EVIDOCK_S3_SECRET_KEY": s3_env["S3_SECRET_KEY"]}
    return build(tmp_path_factory.mktemp("web"), s3_env["S3_ENDPOINT"], keys)


@pytest.fixture(scope="module")
def evi(world: World) -> Iterator[App]:
    with opened(world) as app:
        yield app
