"""The one base of dsgate's own errors: a failure the user can act on, not a crash.

Every exception class dsgate raises for a bad input, a missing tool or a set-up problem derives from
`DsgateError`. Its message is one line that names the cause and the fix; `exit_code` is what the
command exits with when the error ends it (2: usage or infrastructure, never a policy verdict). The
CLI turns a DsgateError into that exit in one place (`dsgate.cli.main`); anything else that escapes
is a crash, reported as an internal error.
"""

from __future__ import annotations

from typing import ClassVar

# dsgate's exit codes, every command: 0 nothing to report, 1 a verdict (findings, an uncovered node, a
# rollout over its budget, a tool gap), 2 an error (usage, input, infrastructure), never a verdict.
EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2


class DsgateError(RuntimeError):
    """A failure with a one-line message (cause and fix) and the exit code that ends the command."""

    exit_code: ClassVar[int] = EXIT_ERROR

    @property
    def message(self) -> str:
        """The message the CLI prints after `dsgate: error: `."""
        return str(self)
