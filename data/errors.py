"""The one error type users see, with the culprit as fields.

Every bad input (file, option, config key) raises `RlrecError`. Besides its one-line message it
carries the culprit as data — `file`, `line` or `row`, `key` (a column or config key), `value`,
`allowed` and `option`, the name of the use-case parameter the bad input came from (`user_col`,
`out`, `n_users`; never a CLI flag) — so each face can say it its own way: the CLI names its
flag, the TUI marks the form field whose key is `option` (or `key`). No face parses the text.

Where a message mentions an option, the message is given as parts and the option as an
`Option`; `worded(word)` lets a face choose how an option is spelled (the CLI: `--user-col`),
`str(error)` spells it with the parameter name:

    RlrecError([Option("sep", "'::'"), ": must be one character"], option="sep")
    str(...)                                   -> "sep '::': must be one character"
    ....worded(lambda o: "--sep " + o.shown)   -> "--sep '::': must be one character"

The CLI prints it as `rlrec: error: <message>` and exits with status 2, without a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Option:
    """A use-case parameter named inside a message; `shown` is its value as the message shows
    it (already formatted, e.g. "'u'" or "50"), or None to name the option alone."""

    name: str
    shown: str | None = None


def plain_wording(option: Option) -> str:
    """The face-neutral spelling: the parameter name, then the value if shown."""
    return option.name if option.shown is None else f"{option.name} {option.shown}"


Part = str | Option


class RlrecError(Exception):
    """A user-facing error: one line, names the culprit, maps to exit status 2.

    Args:
        message: the text, or a sequence of text and `Option` parts.
        file: the file (or folder) at fault.
        line: 1-based line in `file` (text files).
        row: 1-based data row in `file` (tables without lines, e.g. Parquet).
        key: the column name or dotted config key at fault.
        value: the offending value.
        allowed: what would have been accepted (a range tuple, a list of choices, or text).
        option: the use-case parameter the bad input came from; defaults to the first
            `Option` in `message`.
    """

    exit_code = 2

    def __init__(
        self,
        message: str | Sequence[Part],
        *,
        file: str | Path | None = None,
        line: int | None = None,
        row: int | None = None,
        key: str | None = None,
        value: Any = None,
        allowed: Any = None,
        option: str | None = None,
    ) -> None:
        self.parts: tuple[Part, ...] = (message,) if isinstance(message, str) else tuple(message)
        self.file = None if file is None else Path(file)
        self.line = line
        self.row = row
        self.key = key
        self.value = value
        self.allowed = allowed
        named = [part.name for part in self.parts if isinstance(part, Option)]
        self.option = option if option is not None else (named[0] if named else None)
        super().__init__(self.worded(plain_wording))

    def worded(self, word: Callable[[Option], str]) -> str:
        """The message with each option spelled by `word`, kept to one line."""
        text = "".join(part if isinstance(part, str) else word(part) for part in self.parts)
        return " ".join(text.split())

    def __str__(self) -> str:
        return self.worded(plain_wording)

    def __reduce__(self) -> Any:  # keyword-only fields survive pickling (worker processes)
        return (_rebuild, (self.parts, self.__dict__.copy()))


def _rebuild(parts: tuple[Part, ...], state: dict[str, Any]) -> RlrecError:
    error = RlrecError(parts)
    error.__dict__.update(state)
    return error


def error_line(exc: BaseException | None, path: str | Path | None = None) -> str:
    """One line for any error a face shows: an `RlrecError`'s message; an `OSError` as
    "<path>: <reason>" ("/x/out: Permission denied", "/x/out: No space left on device"),
    naming `path` when the error names none (a failed write to an open file); anything else
    (a bug) as "unexpected <Type>: <first line>", cut to 200 characters — never a traceback
    or a multi-line library message. None (a failed worker that kept no error) says so."""
    if exc is None:
        return "unexpected error (no details were kept)"
    if isinstance(exc, RlrecError):
        return str(exc)
    if isinstance(exc, OSError):
        reason = exc.strerror or (os.strerror(exc.errno) if exc.errno else None)
        reason = reason or _first_line(exc) or type(exc).__name__
        where = exc.filename if exc.filename is not None else path
        if where is None:
            return reason
        text = os.fsdecode(os.fspath(where))
        if exc.filename2 is not None:
            text += f" -> {os.fsdecode(exc.filename2)}"
        return f"{text}: {reason}"
    return f"unexpected {type(exc).__name__}: {_first_line(exc)}".rstrip(": ")


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else ""
