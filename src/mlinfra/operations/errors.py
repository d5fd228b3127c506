"""What an operation raises when it cannot go on: the words the user sees, and what to do."""

from __future__ import annotations

from mlinfra.diagnostics import Diagnostic


class OperationError(Exception):
    """An operation stopped; `str(error)` says why, `suggestion` what to do about it.

    `diagnostics`, when there are any, are shown first, with excerpts of `source` (the text
    of the spec they point into).
    """

    def __init__(
        self,
        message: str,
        suggestion: str | None = None,
        diagnostics: tuple[Diagnostic, ...] = (),
        source: str | None = None,
    ) -> None:
        super().__init__(message)
        self.suggestion = suggestion
        self.diagnostics = diagnostics
        self.source = source


class Declined(Exception):  # noqa: N818 - the user's answer, not an error
    """The user answered no when asked to go ahead: nothing was changed."""
