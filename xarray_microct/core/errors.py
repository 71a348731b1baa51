"""Errors whose fix is said one way in Python and another on the ``microct`` command line.

A replay that needs the input chunked otherwise is fixed by ``volume.chunk(32)`` (or
``chunks=32`` to ``open_volume``) in Python and by ``--chunks 32`` under ``microct run``.
Such an error is an :class:`OptionError`: its message (``str(err)``) names the Python
fix, its :attr:`~OptionError.command_line` the option, and the command prints the
latter (:func:`command_line_message`), also where the error was wrapped in another
whose message quotes it.
"""

from __future__ import annotations


class OptionError(ValueError):
    """A :class:`ValueError` saying its fix in Python words (its message) and in the
    ``microct`` command's (:attr:`command_line`).

    Examples
    --------
    >>> err = OptionError("chunks must be positive, got 0", "--chunks must be positive, got 0")
    >>> str(err), err.command_line
    ('chunks must be positive, got 0', '--chunks must be positive, got 0')
    """

    def __init__(self, message: str, command_line: str) -> None:
        super().__init__(message)
        self.command_line = command_line


def command_line_message(error: BaseException, message: str | None = None) -> str:
    """The message of ``error`` (or ``message``, the text to print) as the ``microct``
    command says it: the words of every :class:`OptionError` in its chain of causes (an
    error wrapped as ``raise ValueError(f"step 2: {err}") from err``) replaced by their
    command-line words.

    Examples
    --------
    >>> inner = OptionError("rechunk it: volume.chunk(32)", "run with --chunks 32")
    >>> try:
    ...     try:
    ...         raise inner
    ...     except ValueError as err:
    ...         raise ValueError(f"step 0 (pyramid): {err}") from err
    ... except ValueError as outer:
    ...     command_line_message(outer)
    'step 0 (pyramid): run with --chunks 32'
    """
    text = str(error) if message is None else message
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, OptionError):
            text = text.replace(str(cause), cause.command_line)
        cause = cause.__cause__ or cause.__context__
    return text


__all__ = ["OptionError", "command_line_message"]
