"""What the access tables and the ACCESS, REQUEST and APPROVAL entries say: actions, categories, request states.

Kept in ``storage`` beside the tables (``storage.schema``) because the log's
entries carry these values and the projection (``storage.projection_access``)
replays them; the rules that use them are in the ``access`` package.
"""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    """The ``action`` of an ACCESS entry."""

    METADATA = "metadata"  # one recording's facts and labels
    LIST = "list"  # a search listing recordings; the ids listed are in ``access_results``
    QUERY = "query"  # an overview (findings, timeline, incidents, log entries) with its query
    AUDIT = "audit"  # a read of the audit trail
    VIEW = "view"
    STREAM = "stream"
    DOWNLOAD = "download"
    COPY = "copy"
    EXPORT = "export"

    @property
    def with_article(self) -> str:
        """The action as a noun in a message: "a copy", "an export"."""
        return f"{'an' if self.value[0] in 'aeiou' else 'a'} {self.value}"


CONTENT_ACTIONS = frozenset({Action.VIEW, Action.STREAM, Action.DOWNLOAD, Action.COPY, Action.EXPORT})
APPROVED_ACTIONS = frozenset({Action.DOWNLOAD, Action.COPY, Action.EXPORT})  # need an approved request


class Category(StrEnum):
    """Who the access is for (art. 29)."""

    INTERNAL = "internal"  # this bureau
    COURT = "court"  # 人民法院, by official letter
    SUPERVISION = "supervision"  # 监察机关
    AUDIT = "audit"  # 审计机关
    LAWYER = "lawyer"  # with a court investigation order (律师调查令)
    PARTY = "party"  # the party concerned (当事人): only their own recordings, no third-party data


EXTERNAL_CATEGORIES = frozenset(Category) - {Category.INTERNAL}


class RequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
