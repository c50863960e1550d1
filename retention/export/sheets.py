"""Pure: the disc's documents — MANIFEST.json, SHA256SUMS, the label sheet and README.txt.

The manifest is written *before* the EXPORT entries, which log its SHA-256:
so it holds everything known then (recordings, labels, findings, the request)
and nothing that comes later (the checkpoint, the EXPORT entry indexes). The
label sheet is made last and shows the checkpoint's root, the verifier key in
full, its fingerprint and how to check the key against the one the bureau
publishes; it is covered by SHA256SUMS, and the printed copy travels with the
case file.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from retention.export import verify_disc
from retention.export.launcher import disc_verifier

README_TEXT = resources.files("retention.export").joinpath("disc_readme.txt").read_bytes()
VERIFIER_TEXT = disc_verifier(resources.files("retention.export").joinpath("verify_disc.py").read_bytes())
"""The disc's VERIFY.py: a version guard, then verify_disc.py verbatim (retention.export.launcher)."""


@dataclass(frozen=True)
class ExportFacts:
    """What is the same on every disc of one export."""

    export_id: str
    case_number: str  # 案号
    parties: tuple[str, ...]  # 当事人, as the request may disclose them
    handler: str | None  # 承办人
    maker: str  # 制作人
    extractor: str  # 提取人
    extracted_at: datetime  # UTC
    tz: ZoneInfo  # shown times
    station: str
    log_origin: str
    media: str
    selection: str  # "case": every recording of the case; "recordings": those the person named
    request: Mapping[str, Any]  # id, approver, category, document reference
    discs: int


@dataclass(frozen=True)
class DiscFile:
    """A file listed on the label: its path on the disc, size and SHA-256."""

    path: str
    size: int
    sha256: str


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_text(moment: datetime, tz: ZoneInfo) -> str:
    return f"{moment.astimezone(tz).strftime('%Y-%m-%d %H:%M:%S')} ({tz.key})"


def support_files() -> dict[str, str]:
    """The disc's fixed files and their SHA-256, listed in the manifest (so the log vouches for them)."""
    return {
        verify_disc.VERIFY_NAME: hashlib.sha256(VERIFIER_TEXT).hexdigest(),
        verify_disc.README: hashlib.sha256(README_TEXT).hexdigest(),
    }


def manifest(
    facts: ExportFacts, *, disc: int, recordings: Sequence[Mapping[str, Any]], others: Mapping[int, Sequence[str]]
) -> bytes:
    """MANIFEST.json of disc ``disc``: ``recordings`` are its entries; ``others`` the ids on the other discs."""
    value = {
        "format": verify_disc.FORMAT,
        "export_id": facts.export_id,
        "disc": disc,
        "discs": facts.discs,
        "media": facts.media,
        "case_number": facts.case_number,
        "selection": facts.selection,
        "parties": list(facts.parties),
        "handler": facts.handler,
        "maker": facts.maker,
        "extractor": facts.extractor,
        "extracted_at": utc_text(facts.extracted_at),
        "extracted_at_local": local_text(facts.extracted_at, facts.tz),
        "station": facts.station,
        "log_origin": facts.log_origin,
        "request": dict(facts.request),
        "recordings": [dict(r) for r in recordings],
        "other_discs": [{"disc": n, "recordings": list(ids)} for n, ids in sorted(others.items())],
        "files": support_files(),
    }
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def sha256sums(files: Sequence[DiscFile]) -> bytes:
    """``sha256sum -c`` input: ``<hex>  <path>`` per line, sorted by path."""
    return "".join(f"{f.sha256}  {f.path}\n" for f in sorted(files, key=lambda f: f.path)).encode("utf-8")


@dataclass(frozen=True)
class LabelFacts:
    """What the label sheet shows besides the export's facts."""

    disc: int
    files: Sequence[DiscFile]  # the originals
    checkpoint_size: int
    checkpoint_root: str  # hex
    vkey: str  # the verifier key, in full (note vkey form)
    witnesses: Sequence[WitnessRow] = ()  # the configured witnesses (见证人), none: the station has none
    quorum: int = 0  # cosignatures required (log.witness_quorum)
    timestamps: Sequence[tuple[str, datetime]] = ()  # (TSA name, genTime UTC) of each token (可信时间戳)


@dataclass(frozen=True)
class WitnessRow:
    """A witness as the label shows it: who runs it, its key, whether it cosigned the disc's checkpoint."""

    name: str
    vkey: str
    cosigned: bool


def _label_rows(facts: ExportFacts, label: LabelFacts) -> list[tuple[str, str]]:
    return [
        ("案号 Case number", facts.case_number),
        ("当事人 Party", "、".join(facts.parties) or "—"),
        ("承办人 Handler", facts.handler or "—"),
        ("制作人 Maker", facts.maker),
        ("提取人 Extractor", facts.extractor),
        ("提取时间 Extraction time", local_text(facts.extracted_at, facts.tz)),
        ("光盘编号 Disc", f"{label.disc}/{facts.discs}"),
        ("导出编号 Export id", facts.export_id),
        ("日志检查点 Checkpoint", f"{label.checkpoint_size} 条 entries, root {label.checkpoint_root}"),
        ("验证公钥 Verifier key", label.vkey),
        ("公钥指纹 Key fingerprint", verify_disc.fingerprint(label.vkey)),
        ("核对公钥 Checking the key", verify_disc.KEY_ADVICE),
        *_outside_trust_rows(facts, label),
    ]


def _outside_trust_rows(facts: ExportFacts, label: LabelFacts) -> list[tuple[str, str]]:
    """The witnesses (name, key, fingerprint, cosigned or not) and each token's genTime in the station's zone."""
    rows = [
        (
            "见证人 Witness",
            f"{w.name}：{w.vkey}（指纹 fingerprint {verify_disc.fingerprint(w.vkey)}）"
            + ("已联署 cosigned" if w.cosigned else "未联署 NOT cosigned"),
        )
        for w in label.witnesses
    ]
    if label.witnesses:
        done = sum(w.cosigned for w in label.witnesses)
        rows.append(("见证人联署 Cosignatures", f"{done}/{len(label.witnesses)}，要求 required {label.quorum}"))
    else:
        rows.append(("见证人 Witness", "无 none（仅由采集站密钥签名 signed by the station's key alone）"))
    rows += [("可信时间戳 Trusted timestamp", f"{tsa}：{local_text(at, facts.tz)}") for tsa, at in label.timestamps]
    if not label.timestamps:
        rows.append(("可信时间戳 Trusted timestamp", "无 none"))
    return rows


def label_text(facts: ExportFacts, label: LabelFacts) -> bytes:
    """LABEL.txt: the label sheet as printable plain text (UTF-8 with BOM so Windows Notepad shows Chinese)."""
    lines = ["执法记录仪视音频证据光盘 标签", "Evidence disc label (body-worn camera recordings)", ""]
    lines += [f"{name}：{value}" for name, value in _label_rows(facts, label)]
    lines += ["", f"文件清单 Files ({len(label.files)}):"]
    for number, f in enumerate(label.files, start=1):
        lines += [f"{number:>3}. {f.path}", f"     {f.size} 字节 bytes  SHA-256 {f.sha256}"]
    lines += ["", "校验方法 How to verify: python3 -I VERIFY.py （见 README.txt / see README.txt）", ""]
    return "\ufeff".encode() + "\r\n".join(lines).encode("utf-8")


def label_html(facts: ExportFacts, label: LabelFacts) -> bytes:
    """LABEL.html: the label sheet to print (A4), Chinese first, English beside it."""
    rows = "".join(
        f"<tr><th>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>"
        for name, value in _label_rows(facts, label)
    )
    files = "".join(
        f"<tr><td>{n}</td><td>{html.escape(f.path)}</td><td>{f.size}</td><td class=h>{f.sha256}</td></tr>"
        for n, f in enumerate(label.files, start=1)
    )
    page = f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>证据光盘标签 {html.escape(facts.case_number)} {label.disc}/{facts.discs}</title>
<style>
@page {{ size: A4; margin: 15mm; }}
body {{ font-family: "Noto Sans CJK SC", "Microsoft YaHei", "SimSun", sans-serif; font-size: 11pt; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 1em; }}
th, td {{ border: 1px solid #444; padding: 3px 6px; text-align: left; vertical-align: top; overflow-wrap: anywhere; }}
th {{ width: 30%; background: #eee; }}
.h {{ font-family: monospace; font-size: 8pt; word-break: break-all; }}
</style></head><body>
<h1>执法记录仪视音频证据光盘 标签</h1>
<p>Evidence disc label — body-worn camera recordings</p>
<table>{rows}</table>
<h2>文件清单 Files</h2>
<table><tr><th>#</th><th>文件 File</th><th>字节 Bytes</th><th>SHA-256</th></tr>{files}</table>
<p>校验方法：在光盘上运行 <code>python3 -I VERIFY.py</code>（见 README.txt）。
How to verify: run <code>python3 -I VERIFY.py</code> on the disc (see README.txt).</p>
</body></html>
"""
    return page.encode("utf-8")
