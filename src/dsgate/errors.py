"""The one base of dsgate's own errors: a failure the user can act on, not a crash.

Every exception class dsgate raises for a bad input, a missing tool or a set-up problem derives from
`DsgateError`. Its message is one line that names the cause and the fix; `exit_code` is what the
command exits with when the error ends it (2: usage or infrastructure, never a policy verdict). The
CLI turns a DsgateError into that exit in one place (`dsgate.cli.main`); anything else that escapes
is a crash, reported as an internal error.
"""

from __future__ import annotations

from typing import ClassVar


class DsgateError(RuntimeError):
    """A failure with a one-line message (cause and fix) and the exit code that ends the command."""

    exit_code: ClassVar[int] = 2

    @property
    def message(self) -> str:
        """The message the CLI prints after `dsgate: error: `."""
        return str(self)
