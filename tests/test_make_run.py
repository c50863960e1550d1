"""`make run` / `make test`: ports checked before the install, the service told the S3 server that was started.

The two-server test starts a second, throwaway Ceph (scripts/s3-up.sh with its own
EVIDOCK_S3_DIR and port) and stops and deletes only that one at the end.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from evidock import settings as settings_mod
from evidock.app import connect_store
from evidock.settings import S3_ENDPOINT_ENV
from tests import media
from tests.conftest import REPO, free_port, raw_config, sqlite_only, station_env, write_config

SCRIPTS = REPO / "scripts"
MON_OFFSET = 4180  # s3-up.sh: the Ceph monitor's port is the S3 port minus this


def _check_ports(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPTS / "check-ports.sh"), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def _held() -> socket.socket:
    """A listening socket on a free loopback port: "another program"."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    return holder


def _free_pair() -> int:
    """A port P with P and P - MON_OFFSET free (a second S3 server and its monitor)."""
    for _ in range(200):
        port = free_port()
        if port - MON_OFFSET < 1024:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port - MON_OFFSET))
            except OSError:
                continue
        return port
    raise AssertionError("no free pair of ports")


def test_a_taken_s3_port_is_reported_with_a_free_one_to_use(tmp_path: Path) -> None:
    with _held() as holder:
        port = holder.getsockname()[1]
        done = _check_ports({"EVIDOCK_S3_DIR": str(tmp_path / "s3"), "EVIDOCK_S3_PORT": str(port)})
    assert done.returncode == 1
    assert done.stdout == ""
    assert f"port {port} (S3) on 127.0.0.1 is in use by another program" in done.stderr
    suggested = int(done.stderr.split("EVIDOCK_S3_PORT=")[1].split()[0])
    assert suggested != port
    assert not (tmp_path / "s3").exists(), "a check creates nothing"


def test_a_taken_monitor_port_is_reported(tmp_path: Path) -> None:
    with _held() as holder:
        mon = holder.getsockname()[1]
        if mon + MON_OFFSET > 65535:
            pytest.skip("the port the system gave cannot be a monitor port")
        done = _check_ports({"EVIDOCK_S3_DIR": str(tmp_path / "s3"), "EVIDOCK_S3_PORT": str(mon + MON_OFFSET)})
    assert done.returncode == 1
    assert f"port {mon} (the S3 server's Ceph monitor)" in done.stderr


def test_a_taken_http_port_is_reported_and_free_ports_pass(tmp_path: Path) -> None:
    s3_port = _free_pair()
    env = {"EVIDOCK_S3_DIR": str(tmp_path / "s3"), "EVIDOCK_S3_PORT": str(s3_port)}
    with _held() as holder:
        http = holder.getsockname()[1]
        done = _check_ports(env, str(http))
    assert done.returncode == 1
    assert f"port {http} (the service's HTTP) on 127.0.0.1 is in use" in done.stderr
    assert f"EVIDOCK_HTTP_PORT={http + 1} make run" in done.stderr
    free = _check_ports(env, str(free_port()))
    assert (free.returncode, free.stdout, free.stderr) == (0, "", "")


@pytest.mark.s3
def test_the_running_server_of_this_checkout_does_not_count_as_taken(s3_env: dict[str, str]) -> None:
    """s3-up.sh reuses it: `make test` twice in a row must not refuse its own server."""
    port = s3_env["S3_ENDPOINT"].rsplit(":", 1)[1]
    done = _check_ports({"EVIDOCK_S3_PORT": port})  # EVIDOCK_S3_DIR as the suite runs with
    assert done.returncode == 0, done.stderr


def test_make_checks_the_ports_before_it_installs_and_runs_evidock_through_with_s3() -> None:
    for target, http in (("run", "8080"), ("test", "")):
        recipe = subprocess.run(
            ["make", "-n", "--no-print-directory", target], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.splitlines()
        assert recipe[0] == f"bash scripts/check-ports.sh {http}".rstrip(), recipe
        assert any("scripts/install.sh" in line for line in recipe[1:])
    with_port = {**os.environ, "EVIDOCK_HTTP_PORT": "8123"}
    recipe = subprocess.run(
        ["make", "-n", "--no-print-directory", "run"],
        cwd=REPO,
        env=with_port,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert recipe[0] == "bash scripts/check-ports.sh 8123"
    assert recipe[-1] == "bash scripts/with-s3.sh .venv/bin/evidock --config config.toml run --http-port 8123"


@pytest.fixture(scope="module")
def second_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A second throwaway Ceph on its own port and data dir; stopped and deleted (only it) at the end."""
    data = tmp_path_factory.mktemp("second-s3") / "s3"
    env = {
        **os.environ,
        "EVIDOCK_S3_DIR": str(data),
        "EVIDOCK_S3_PORT": str(_free_pair()),
        "EVIDOCK_S3_BLOCK_SIZE": "1G",
    }
    env.pop("EVIDOCK_S3_MON_PORT", None)
    try:
        up = subprocess.run(
            ["bash", str(SCRIPTS / "s3-up.sh")], env=env, capture_output=True, text=True, check=False, timeout=600
        )
        assert up.returncode == 0, up.stderr[-3000:]
        yield env
    finally:
        assert Path(env["EVIDOCK_S3_DIR"]) == data  # never the suite's own server
        subprocess.run(
            ["bash", str(SCRIPTS / "s3-down.sh"), "--purge"], env=env, capture_output=True, check=False, timeout=300
        )


@pytest.mark.s3
@pytest.mark.slow
@sqlite_only  # the start line it expects names the SQLite catalog of its config
def test_the_service_writes_to_the_server_it_was_started_with_and_says_so(
    second_s3: dict[str, str], s3_env: dict[str, str], tmp_path: Path, bucket: str
) -> None:
    """config.toml names the suite's server; `with-s3.sh` (as `make run` uses it) sends evidence to the second."""
    main_endpoint = s3_env["S3_ENDPOINT"]
    second_endpoint = f"http://127.0.0.1:{second_s3['EVIDOCK_S3_PORT']}"
    assert second_endpoint != main_endpoint
    (tmp_path / "inbox").mkdir()
    config = write_config(tmp_path / "config.toml", raw_config(tmp_path, bucket, main_endpoint))
    media.clip(
        tmp_path / "inbox" / "CAM01_P1001_20261120080619_0001.mp4",
        seconds=1,
        created=datetime(2026, 11, 20, 0, 6, 19, tzinfo=UTC),
        mark="second-s3",
    )
    env = dict(second_s3)
    env.pop(S3_ENDPOINT_ENV, None)
    evidock = ["bash", str(SCRIPTS / "with-s3.sh"), sys.executable, "-m", "evidock.cli", "--config", str(config)]
    ran = subprocess.run(
        [*evidock, "run", "--once"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    said = [line.split(" ", 1)[1] for line in ran.stderr.splitlines() if " evidock run: " in line]  # after the time
    assert said == [
        f"evidock run: S3 endpoint {second_endpoint} (from ${S3_ENDPOINT_ENV}, overriding s3.endpoint = "
        f"{main_endpoint}), bucket {bucket}, catalog sqlite:///{tmp_path / 'evidock.db'}, config {config}"
    ]

    on_second = settings_mod.load(config, {**station_env(s3_env), S3_ENDPOINT_ENV: second_endpoint})
    store = connect_store(on_second)
    assert store.inspect_bucket().object_lock
    assert len(store.keys("sha256/")) == 1, "the clip is on the second server"
    on_main = settings_mod.load(config, {k: v for k, v in station_env(s3_env).items() if k != S3_ENDPOINT_ENV})
    assert not connect_store(on_main).inspect_bucket().exists, "nothing was written to the server config.toml names"

    check = subprocess.run(
        [*evidock, "config", "check", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert check.returncode == 0, check.stderr
    report = json.loads(check.stdout)
    assert report["settings"]["s3.endpoint"] == second_endpoint
    assert report["settings"]["s3.endpoint_source"] == f"${S3_ENDPOINT_ENV}, overriding s3.endpoint = {main_endpoint}"


def test_a_bad_endpoint_in_the_environment_is_refused_naming_the_variable(tmp_path: Path) -> None:
    raw = raw_config(tmp_path, "evidock", "http://127.0.0.1:7480")
    with pytest.raises(settings_mod.ConfigError, match=r"EVIDOCK_S3_ENDPOINT='127.0.0.1:7600' is not an S3 endpoint"):
        settings_mod.parse(raw, base=tmp_path, source=None, environ={S3_ENDPOINT_ENV: "127.0.0.1:7600"})
    parsed = settings_mod.parse(raw, base=tmp_path, source=None, environ={})
    assert parsed.s3.endpoint_source == "s3.endpoint"
