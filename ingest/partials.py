# ruff: noqa: RUF001 - the Chinese message uses full-width punctuation on purpose
"""A file taken while its writer paused, then stored again complete: the earlier one is a partial.

The watcher waits for writers to close (``ingest.writers``), but a writer that
opens, appends and closes in turns leaves quiet, closed moments. Both stored
copies are kept (WORM; art. 28 forbids destroying either), and a
SUPERSEDED_PARTIAL finding links them, so nobody takes the cut-off prefix for
an independent recording: the complete file at the same dock path begins with
exactly the partial's bytes (its SHA-256 over that many bytes is the partial's).

Pure: the caller hashes the prefix (during the one read of the upload).
"""

from __future__ import annotations

from ingest.findings import Finding, FindingKind, display_text


def superseded_partial_finding(
    partial: str, complete: str, *, path: str, partial_size: int, complete_size: int, device: str | None = None
) -> Finding:
    shown = display_text(path)
    return Finding(
        kind=FindingKind.SUPERSEDED_PARTIAL,
        recordings=(partial, complete),
        device=device,
        detail={
            "path": display_text(path, limit=500),
            "partial_size": partial_size,
            "complete_size": complete_size,
        },
        message=(
            f"recording {partial} ({partial_size} bytes) was taken from {shown} while it was still being "
            f"written: recording {complete} ({complete_size} bytes), docked later at the same path, begins "
            "with exactly its bytes. Both are kept unchanged; use the complete one, and explain why the "
            "writer paused."
        ),
        message_zh=(
            f"第二十八条：录像 {partial}（{partial_size} 字节）取自写入尚未完成的文件 {shown}；之后同一路径的"
            f"录像 {complete}（{complete_size} 字节）以其全部内容开头。两者均原样保存；请以完整文件为准，"
            "并说明写入中断的原因。"
        ),
    )
