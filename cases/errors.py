"""Why a decision, review or publication step was refused.

    chain.errors.EvidockError
    └── DecisionError            the step breaks a rule or comes in the wrong order; nothing was written
        └── ReviewRequired       the final decision of a major case waits for a completed legal review

The message names the rule (法制审核办法 or 公示办法 and the article) and what
to do next.
"""

from __future__ import annotations

from chain.errors import EvidockError


class DecisionError(EvidockError):
    """A decision, review or publication step is refused; nothing was written."""


class ReviewRequired(DecisionError):
    """A major decision (重大行政执法决定) may not be final before its legal review is completed (art. 4, 11)."""
