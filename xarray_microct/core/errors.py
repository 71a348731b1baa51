"""Errors whose fix is said one way in Python and another on the ``microct`` command line.

A replay that needs the input chunked otherwise is fixed by ``volume.chunk(32)`` (or
``chunks=32`` to ``open_volume``) in Python and by ``--chunks 32`` under ``microct run``;
an output that exists is replaced with ``overwrite=True`` or ``--overwrite``. Such an
error is an :class:`OptionError` (a ``ValueError``) or an :class:`OptionExistsError` (a
``FileExistsError``): its message (``str(err)``) names the Python fix, its
``command_line`` the option, and the command prints the latter
(:func:`command_line_message`), also where the error was wrapped in another whose
message quotes it (``xarray_microct.io``'s ``IncompleteStoreError`` is an
:class:`OptionError` too).
"""

from __future__ import annotations


class _TwoWordings(Exception):
    """An error with its message in Python words and its :attr:`command_line` in the
    ``microct`` command's, pickled with both (sent back from a Dask worker whole)."""

    def __init__(self, message: str, command_line: str) -> None:
        super().__init__(message)
        self.command_line = command_line

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return type(self), (str(self), self.command_line)


class OptionError(_TwoWordings, ValueError):
    """A :class:`ValueError` saying its fix in Python words (its message) and in the
    ``microct`` command's (:attr:`command_line`).

    Examples
    --------
    >>> err = OptionError("chunks must be positive, got 0", "--chunks must be positive, got 0")
    >>> str(err), err.command_line
    ('chunks must be positive, got 0', '--chunks must be positive, got 0')
    """


class OptionExistsError(_TwoWordings, FileExistsError):
    """A :class:`FileExistsError` saying its fix in Python words (its message) and in the
    ``microct`` command's (:attr:`command_line`), as :class:`OptionError` does.

    Examples
    --------
    >>> err = OptionExistsError("out.zarr exists; pass overwrite=True", "out.zarr exists; pass --overwrite")
    >>> str(err), err.command_line, isinstance(err, FileExistsError)
    ('out.zarr exists; pass overwrite=True', 'out.zarr exists; pass --overwrite', True)
    """  # noqa: E501


def command_line_message(error: BaseException, message: str | None = None) -> str:
    """The message of ``error`` (or ``message``, the text to print) as the ``microct``
    command says it: the words of every error in its chain of causes (an error wrapped
    as ``raise ValueError(f"step 2: {err}") from err``) that is an :class:`OptionError`
    or an :class:`OptionExistsError` replaced by their ``command_line``.

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
        if isinstance(cause, _TwoWordings):
            text = text.replace(str(cause), cause.command_line)
        cause = cause.__cause__ or cause.__context__
    return text


__all__ = ["OptionError", "OptionExistsError", "command_line_message"]
