"""The project's user-facing errors: problems a user can fix, phrased to say how.

The command line prints these without a traceback (exit code 2); anything else is a bug and keeps
its traceback. Each also derives from the built-in type callers would expect (ValueError, ...).
"""

from __future__ import annotations

__all__ = ["CheckpointError", "ConfigError", "DataError", "LDDBMError"]


class LDDBMError(Exception):
    """Base of every error a user can cause and fix (bad input, option, checkpoint or data folder)."""


class ConfigError(LDDBMError, ValueError):
    """An option, preset override or sampling setting that is unknown, out of range or does not apply."""


class DataError(LDDBMError, FileNotFoundError):
    """A data set, folder or file that is missing or not built; the message names the command that makes it."""


class CheckpointError(LDDBMError, RuntimeError):
    """A pipeline folder that cannot be found or loaded; the message names the file and what to do."""
