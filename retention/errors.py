"""Errors raised by the retention package.

    chain.errors.EvidockError
    └── RetentionError             anything the retention rules refuse
        ├── PolicyError            the configured retention policy breaks art. 27
        └── CalendarError          the working-day calendar configuration is unusable

Both children are configuration errors: the service refuses to start and the
message names the ``config.toml`` key, the value found and what to set instead.
Misuse by a caller (a naive datetime, a negative day count) raises the usual
``ValueError``/``TypeError`` instead.
"""

from chain.errors import EvidockError


class RetentionError(EvidockError):
    """A retention rule cannot be applied as configured."""


class PolicyError(RetentionError):
    """The retention policy in config.toml breaks art. 27 (第二十七条) or is inconsistent."""


class CalendarError(RetentionError):
    """The working-day calendar (config.toml ``[calendar]``) cannot answer."""
