"""What `evidock verify` found: counts of what it checked, failures, and notes.

A failure names its check (a stable name an auditor's tooling may match on),
its subject (an entry index, a recording id, an object key and version) and
what is wrong. A note is something an auditor should see that is not (yet) a
failure, such as entries not yet covered by a signed checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Failure:
    check: str
    subject: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"check": self.check, "subject": self.subject, "message": self.message}


@dataclass
class Report:
    checked: dict[str, int] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    notes: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def fail(self, check: str, subject: str | int, message: str) -> None:
        self.failures.append(Failure(check, str(subject), message))

    def note(self, check: str, subject: str | int, message: str) -> None:
        self.notes.append(Failure(check, str(subject), message))

    def count(self, what: str, n: int = 1) -> None:
        self.checked[what] = self.checked.get(what, 0) + n

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "failures": [f.as_json() for f in self.failures],
            "notes": [n.as_json() for n in self.notes],
        }
