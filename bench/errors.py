"""The one exception type users see, the exit codes the CLI maps errors to, and reading a
user's file with its failures as those one-line errors."""

from __future__ import annotations

import difflib
import errno
import os
import stat
from collections.abc import Iterable
from pathlib import Path

# Exit codes are a contract with CI scripts: keep them stable and documented (README, docs/cli.md).
EXIT_OK = 0
EXIT_REGRESSION = 1  # `fbench compare`: a significant slowdown
EXIT_USAGE = 2  # bad flags, config or result files
EXIT_NOT_COMPARABLE = 3  # `fbench compare`: the runs cannot be judged against each other
# The command could not finish, though its input was good: a worker process died and left
# rows short of their planned processes, rows of a run failed (`fbench run` exits 0 only
# when every row was measured), the disk filled, the output could not be written.
# What was measured is kept (`fbench run --resume RUN_ID` finishes a run).
EXIT_INCOMPLETE = 4
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM; finished rows (and processes) are kept


def did_you_mean(name: object, known: Iterable[str], most: int = 2) -> str:
    """ " (did you mean 'pconv'?)" for the known names closest to a mistyped one (difflib),
    "" when none is close: a message puts it right after the name it could not find."""
    if not isinstance(name, str):
        return ""
    close = difflib.get_close_matches(name, list(known), n=most, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(match) for match in close) + "?)"


class FbenchError(Exception):
    """A problem the user can fix: printed as one line, exit code 2, never a traceback.

    The message names the source (a file, a flag, a key) and what is wrong with it.
    """

    exit_code = EXIT_USAGE


class NotComparableError(FbenchError):
    """Two result sets that cannot be judged against each other (different device, config...)."""

    exit_code = EXIT_NOT_COMPARABLE


class IncompleteError(FbenchError):
    """The command could not finish for a reason outside its input (a worker that died, a
    full disk, an output stream that broke); what was measured is kept."""

    exit_code = EXIT_INCOMPLETE


def one_line(error: BaseException) -> str:
    """`TypeName: first line of its message` (the type alone when there is no message): how
    a row, a check or a worker that failed reports the exception, without a traceback."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def odd_file(path: Path) -> str | None:
    """What `path` is when it is there but is no regular file to read (reading a FIFO
    blocks forever), or None: a FIFO or device, a directory, a symlink loop or a symlink
    to nothing."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "a symlink to a missing file" if os.path.islink(path) else None
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "a symlink loop"
        return None  # the read says what stops it
    if stat.S_ISDIR(mode):
        return "a directory"
    if not stat.S_ISREG(mode):
        return "not a regular file (a FIFO or a device?)"
    return None


def read_user_file(path: Path, kind: str, missing: str) -> str:
    """The text of a file the user named (a config, a result, a calibration), or one line
    saying why not: `missing` when there is no such file, what it is when it is no regular
    file, else what stopped the read."""
    odd = odd_file(path)
    if odd:
        raise FbenchError(f"{path}: {odd}, not a {kind} file")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FbenchError(f"{path}: {missing}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise FbenchError(f"{path}: cannot read {kind} file ({error})") from None
