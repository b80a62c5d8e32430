"""The errors noiseaug raises on purpose, at its boundary: bad arguments, missing or unreadable files.

Every check the library makes on what it is given (``noiseaug._validation``, the loaders, the CLI's inputs and
outputs) raises a :class:`NoiseaugInputError`. It derives from ``ValueError``, and its flavours also derive from
the built-in class that check raised before, so ``except ValueError``, ``except TypeError`` and
``except FileNotFoundError`` keep working. The ``noiseaug`` command turns these, and only these, into its one-line
``error:`` message; any other exception is a bug and keeps its traceback.

>>> from noiseaug.errors import NoiseaugInputError, NoiseaugTypeError
>>> issubclass(NoiseaugTypeError, TypeError) and issubclass(NoiseaugTypeError, NoiseaugInputError)
True
"""

from __future__ import annotations


class NoiseaugInputError(ValueError):
    """Bad input to noiseaug: a wrong value, shape, file or option. The message names it and what is accepted."""


class NoiseaugTypeError(NoiseaugInputError, TypeError):
    """Bad input of the wrong kind (type or dtype)."""


class NoiseaugFileNotFoundError(NoiseaugInputError, FileNotFoundError):
    """A file or folder noiseaug was pointed at does not exist."""


class NoiseaugFileError(NoiseaugInputError, OSError):
    """A file noiseaug was pointed at cannot be read or written (permissions, a damaged file, a full disk)."""


class NoiseaugFileExistsError(NoiseaugFileError, FileExistsError):
    """An output noiseaug was asked to write exists and may not be replaced."""
