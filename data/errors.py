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

Every message is tidied where it is worded (`tidy`), whoever built it: numpy scalars read as
the plain values they hold (`np.str_('2')` -> `'2'`), and a value too long to read — a 2 MB
field echoed from a file, a header of thousands of columns — is cut to its ends with an
ellipsis and its original length.
"""

from __future__ import annotations

import os
import re
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
        return tidy(text)

    def __str__(self) -> str:
        return self.worded(plain_wording)

    def __reduce__(self) -> Any:  # keyword-only fields survive pickling (worker processes)
        return (_rebuild, (self.parts, self.__dict__.copy()))


def _rebuild(parts: tuple[Part, ...], state: dict[str, Any]) -> RlrecError:
    error = RlrecError(parts)
    error.__dict__.update(state)
    return error


def require_file(
    path: str | Path, missing: str = "no such file", needs: str = "", option: str | None = None
) -> None:
    """RlrecError (file=`path`) unless `path` is a regular file, saying what is there instead:
    nothing (`missing`), a folder where a file was expected (a folder named `u.data`), a
    broken link or something else; `needs` (what the caller needs the file for) follows in
    parentheses; `option` is the use-case parameter that named the file."""
    path = Path(path)
    if path.is_file():
        return
    if path.is_dir():
        what = "is a folder, expected a file"
    elif path.is_symlink() and not path.exists():
        what = "a broken link, expected a file"
    elif path.exists():
        what = "not a regular file"
    else:
        what = missing
    raise RlrecError(f"{path}: {what}" + (f" ({needs})" if needs else ""), file=path, option=option)


def error_line(exc: BaseException | None, path: str | Path | None = None) -> str:
    """One line for any error a face shows: an `RlrecError`'s message; an `OSError` as
    "<path>: <reason>" ("/x/out: Permission denied", "/x/out: No space left on device"),
    naming `path` when the error names none (a failed write to an open file); anything else
    (a bug) as "unexpected <Type>: <first line>" — never a traceback or a multi-line library
    message, and tidied like every message (see `tidy`). None (a failed worker that kept no
    error) says so."""
    if exc is None:
        return "unexpected error (no details were kept)"
    if isinstance(exc, RlrecError):
        return str(exc)
    return tidy(_os_or_other_line(exc, path))


def _os_or_other_line(exc: BaseException, path: str | Path | None) -> str:
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
    return lines[0] if lines else ""


# -- tidying a message: plain numpy values, long values cut -------------------------------------
VALUE_LIMIT = 200  # longer quoted values or unbroken runs are cut to their two ends
LINE_LIMIT = 1000  # a longer whole line (many shorter values) is cut in its middle
_KEEP_HEAD, _KEEP_TAIL = 80, 60  # what a cut value keeps: its start, and its end (a file name)

# Reprs numpy 2 gives its scalars: np.str_('2'), np.int64(3), np.float32(nan), np.True_.
_NUMPY_REPR = re.compile(
    r"\bnp\.(?:(True_|False_)|(?:str_|bytes_|bool_?|u?int\d*|float\d*|longdouble|"
    r"complex\d*|clongdouble|datetime64|timedelta64)\()"
)
_LONG = "{" + str(VALUE_LIMIT) + ",}"  # a regex count: at least VALUE_LIMIT
_LONG_QUOTED = re.compile(rf"'(?:[^'\\\n]|\\.){_LONG}'|\"(?:[^\"\\\n]|\\.){_LONG}\"")
_LONG_RUN = re.compile(r"\S" + "{" + str(VALUE_LIMIT + 1) + ",}")


def tidy(text: str) -> str:
    """`text` as one readable line: whitespace runs (newlines too) become one space, numpy
    scalar reprs their plain values, and any quoted value or unbroken run longer than
    `VALUE_LIMIT` characters — and a whole line longer than `LINE_LIMIT` — is cut to its
    start and end around "…", with its original length:
    "'aaaa…aaaa' (2,000,000 characters)"."""
    text = _plain_numpy(text)
    text = _LONG_QUOTED.sub(lambda m: cut(m.group(0)), text)
    text = _LONG_RUN.sub(lambda m: cut(m.group(0)), text)
    text = " ".join(text.split())
    if len(text) > LINE_LIMIT:
        keep = LINE_LIMIT // 2
        text = f"{text[:keep]} … [{len(text) - 2 * keep:,} characters cut] … {text[-keep:]}"
    return text


def cut(value: str) -> str:
    """`value` itself when short, else its first and last characters around "…" and its
    length in characters (a quoted value keeps its quotes)."""
    if len(value) <= VALUE_LIMIT:
        return value
    quote = value[0] if value[0] in "'\"" and value[-1] == value[0] else ""
    inner = value[1:-1] if quote else value
    head, tail = inner[:_KEEP_HEAD], inner[-_KEEP_TAIL:]
    return f"{quote}{head}…{tail}{quote} ({len(inner):,} characters)"


def _plain_numpy(text: str) -> str:
    """Each numpy scalar repr in `text` replaced by the plain repr of its value."""
    if "np." not in text:
        return text
    out: list[str] = []
    done = 0
    for match in _NUMPY_REPR.finditer(text):
        if match.start() < done:
            continue
        if match.group(1):  # np.True_ / np.False_
            out += [text[done : match.start()], match.group(1)[:-1]]
            done = match.end()
            continue
        end = _closing(text, match.end())
        if end is None:
            continue
        out += [text[done : match.start()], text[match.end() : end]]
        done = end + 1
    out.append(text[done:])
    return "".join(out)


def _closing(text: str, start: int) -> int | None:
    """Index of the ")" closing a numpy repr whose argument starts at `start`: after one
    quoted literal (escapes skipped), or at the first ")" for a number."""
    if start < len(text) and text[start] in "'\"":
        quote, i = text[start], start + 1
        while i < len(text) and text[i] != quote:
            i += 2 if text[i] == "\\" else 1
        end = i + 1
        return end if end < len(text) and text[end] == ")" else None
    end = text.find(")", start)
    return None if end < 0 else end
