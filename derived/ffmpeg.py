"""Running ffmpeg for a derived file: at low priority, with progress, a time limit and a way to stop it.

The recorded arguments (``derived.recipes``) are run as given, with
``{input}`` and ``{output}`` replaced; only options that do not change the
output are added here (no stdin, quiet logging, machine-readable progress on
stdout). A transcode must not slow the dock's ingest: ffmpeg runs under
``nice`` (the kernel gives it only the CPU others leave), and while ``paused``
says the dock is busy it is stopped outright (SIGSTOP, then SIGCONT), so on a
machine of two cores an ingest gets them both.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from chain.errors import EvidockError
from derived.recipes import INPUT, OUTPUT

log = logging.getLogger(__name__)

RUN_OPTIONS = ["-nostdin", "-hide_banner", "-loglevel", "error", "-nostats", "-progress", "pipe:1", "-y"]
STDERR_KEPT = 4000  # characters of ffmpeg's complaint kept for the error message


class FfmpegError(EvidockError):
    """ffmpeg failed, timed out or was stopped; the message carries its last words."""


class Stopped(FfmpegError):
    """The service is stopping: ffmpeg was ended, the work waits for the next start."""


@dataclass(frozen=True)
class RunOptions:
    nice: int = 19  # 0 (normal) .. 19 (only idle CPU)
    timeout_seconds: float = 6 * 3600  # a damaged file must not hold the worker forever


@functools.cache
def ffmpeg_version() -> str:
    """The first line of ``ffmpeg -version``, e.g. ``ffmpeg version 5.1.9-0+deb12u1 Copyright (c) ...``."""
    try:
        done = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise FfmpegError(f"ffmpeg is not usable here ({exc}); install Debian's ffmpeg package") from exc
    return done.stdout.splitlines()[0].strip()


def command(arguments: Sequence[str], *, source: Path, target: Path) -> list[str]:
    """The recorded arguments with the two files put in (never passed through a shell)."""
    placed = {INPUT: os.fspath(source), OUTPUT: os.fspath(target)}
    return [placed.get(a, a) for a in arguments]


def run(
    arguments: Sequence[str],
    *,
    source: Path,
    target: Path,
    options: RunOptions,
    progress: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    paused: Callable[[], bool] = lambda: False,
    heartbeat: Callable[[], None] | None = None,
) -> None:
    """Run ffmpeg with ``arguments``; ``progress(ms)`` as it goes; raise ``FfmpegError`` if it fails.

    ``should_stop`` is asked about once a second; when it says yes ffmpeg is
    ended and ``Stopped`` raised (the partial output is the caller's to delete).
    While ``paused()`` says yes, ffmpeg is stopped (the time limit does not
    run) and ``heartbeat()`` is called every ``HEARTBEAT_SECONDS``.
    """
    argv = ["nice", "-n", str(options.nice), "ffmpeg", *RUN_OPTIONS, *command(arguments, source=source, target=target)]
    try:
        # A fixed program, no shell: the arguments are passed as they are.
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace")
    except OSError as exc:
        raise FfmpegError(f"ffmpeg could not be started: {exc}") from exc
    complaint: list[str] = []
    with process:  # closes the pipes whatever happens
        reader = threading.Thread(target=_collect, args=(process, complaint), daemon=True)
        reader.start()
        limits = _Limits(options.timeout_seconds, should_stop, paused, heartbeat)
        watcher = threading.Thread(target=_watch, args=(process, limits), daemon=True)
        watcher.start()
        assert process.stdout is not None  # noqa: S101 - PIPE was asked for
        for line in process.stdout:
            key, _, value = line.strip().partition("=")
            if key == "out_time_us" and progress is not None and value.isdigit():
                progress(int(value) // 1000)
        code = process.wait()
        reader.join(timeout=5)
        watcher.join(timeout=5)
    said = "".join(complaint)[-STDERR_KEPT:].strip()
    if should_stop():
        raise Stopped("stopped while ffmpeg ran; it is done again at the next start")
    if limits.timed_out:
        raise FfmpegError(f"ffmpeg ran longer than {options.timeout_seconds:.0f} s and was ended")
    if code != 0:
        raise FfmpegError(f"ffmpeg exited with code {code}: {said or 'no message'}")


def _collect(process: subprocess.Popen[str], into: list[str]) -> None:
    assert process.stderr is not None  # noqa: S101 - PIPE was asked for
    into.append(process.stderr.read())


@dataclass
class _Limits:
    """When the watcher ends or pauses ffmpeg, and what it saw."""

    timeout_seconds: float
    should_stop: Callable[[], bool]
    paused: Callable[[], bool]
    heartbeat: Callable[[], None] | None
    timed_out: bool = False


HEARTBEAT_SECONDS = 10.0  # while paused: the caller says it is alive (another station must not take the job over)


def _watch(process: subprocess.Popen[str], limits: _Limits) -> None:
    """End ffmpeg when the service stops or the time limit passes; hold it while the dock is busy."""
    ran = 0.0
    while process.poll() is None:
        if limits.should_stop():
            _end(process)
            return
        if limits.paused():
            _hold(process, limits)
            continue
        time.sleep(1)
        ran += 1
        if ran > limits.timeout_seconds:
            limits.timed_out = True
            _end(process)
            return


def _hold(process: subprocess.Popen[str], limits: _Limits) -> None:
    """SIGSTOP ffmpeg until the dock is idle (or the service stops), then SIGCONT."""
    process.send_signal(signal.SIGSTOP)
    beat = time.monotonic()
    try:
        while limits.paused() and not limits.should_stop() and process.poll() is None:
            time.sleep(0.5)
            if limits.heartbeat is not None and time.monotonic() - beat >= HEARTBEAT_SECONDS:
                limits.heartbeat()
                beat = time.monotonic()
    finally:
        process.send_signal(signal.SIGCONT)


def _end(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
