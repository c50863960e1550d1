"""Which files some process holds open for writing, from ``/proc/<pid>/fd`` (Linux).

inotify's close-write tells when a writer closed a file, but not that a writer
which opened it before the service started still holds it, nor one whose
events were lost. A writer that pauses longer than ``stable_seconds`` would
otherwise have a cut-off prefix taken. So before taking a stable file the
watcher asks the kernel: any descriptor on this inode opened for writing
(``flags`` in ``/proc/<pid>/fdinfo/<fd>`` with O_WRONLY or O_RDWR)?

Processes of other users are visible only to root (or with CAP_SYS_PTRACE); the
service runs as the dock's user, who owns the writers of its folders. Where
``/proc`` is missing the answer is "none known" and stability alone decides.
"""

from __future__ import annotations

import os
from collections.abc import Collection

PROC = "/proc"
_ACCESS_MODE = 0o3  # O_ACCMODE
_READ_ONLY = 0o0


def held_for_writing(inodes: Collection[tuple[int, int]]) -> set[tuple[int, int]]:
    """The (device, inode) pairs among ``inodes`` that some process has open for writing."""
    if not inodes:
        return set()
    wanted = set(inodes)
    held: set[tuple[int, int]] = set()
    try:
        pids = [p for p in os.listdir(PROC) if p.isdigit()]
    except OSError:
        return held
    me = str(os.getpid())
    for pid in pids:
        if pid == me:
            continue  # the service reads, never writes, dock files
        fd_dir = f"{PROC}/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue  # gone, or not ours to see
        for fd in fds:
            try:
                st = os.stat(f"{fd_dir}/{fd}")
            except OSError:
                continue
            pair = (st.st_dev, st.st_ino)
            if pair in wanted and pair not in held and _writable(pid, fd):
                held.add(pair)
    return held


def _writable(pid: str, fd: str) -> bool:
    try:
        with open(f"{PROC}/{pid}/fdinfo/{fd}", encoding="ascii") as info:
            for line in info:
                if line.startswith("flags:"):
                    return int(line.split()[1], 8) & _ACCESS_MODE != _READ_ONLY
    except (OSError, ValueError):
        return False
    return False
