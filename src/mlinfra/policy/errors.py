"""What goes wrong in an audit that the user can fix: a bad revision, an unknown environment."""

from __future__ import annotations


class AuditError(Exception):
    """Bad input to the audit or a compliance diff, with a message for the user.

    The CLI prints it as `error: ...` and exits 1; it never carries a traceback to the user.
    """


class RuleCrashed(Exception):
    """A rule raised on a resource: a bug in mlinfra (the rule), not in the user's spec."""
