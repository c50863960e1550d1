"""Why the access gate refused.

Errors::

    EvidockError
     └── AccessDenied               refused; the message says why and what to do
          ├── NotAuthenticated      unknown or disabled user, wrong or missing credentials
          ├── NotPermitted          the role may not do this
          ├── InvalidAccessInput    a reason, name or reference is empty, too long or has control characters
          ├── ApprovalError         no, pending, denied, expired or used approval; self-approval
          └── AccessNotRecorded     the ACCESS entry could not be written, so nothing was read
"""

from __future__ import annotations

from chain.errors import EvidockError


class AccessDenied(EvidockError):
    """The access gate refused; nothing was read and nothing changed (except where said)."""


class NotAuthenticated(AccessDenied):
    """No user, an unknown or disabled one, or wrong credentials."""


class NotPermitted(AccessDenied):
    """The person's role does not allow this."""


class InvalidAccessInput(AccessDenied):
    """A reason, name or document reference is empty, too long or holds control characters."""


class ApprovalError(AccessDenied):
    """The request or approval does not allow this: missing, pending, denied, expired, used, or self-approved."""


class AccessNotRecorded(AccessDenied):
    """The ACCESS entry could not be written; the read was refused (fail closed)."""
