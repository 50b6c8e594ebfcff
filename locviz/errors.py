"""The one family of user-facing errors.

Every error a person can act on (bad input, a missing or damaged bundle, a
malformed data set, an export that cannot run) derives from :class:`LocvizError`,
so the command line and the app catch exactly one class and print its message;
anything else is a bug and keeps its traceback. Each kind also subclasses the
built-in it refines (``ValueError``, ``RuntimeError``), as pyhmmer's errors do,
so ``except ValueError`` in user code keeps working.
"""

from __future__ import annotations


class LocvizError(Exception):
    """Something the user can fix; the message says what, where and how."""


class InputError(LocvizError, ValueError):
    """A sequence, variant, window or option the user gave is not usable."""


class BundleError(LocvizError, RuntimeError):
    """A model bundle (weights + card) is missing, damaged or inconsistent."""


class DatasetError(LocvizError, ValueError):
    """A data-set file or folds table is missing or malformed."""


class ExportError(LocvizError, RuntimeError):
    """A figure could not be rendered to a static format."""


class SearchError(LocvizError, RuntimeError):
    """The homology search's aligner (DIAMOND) is missing or failed; the message says how to fix it."""


class ClusterError(LocvizError, RuntimeError):
    """The Dask cluster went away mid-run (its scheduler was lost); finished partitions are kept for a rerun."""


def check(condition: bool, message: str, kind: type[LocvizError] = InputError) -> None:
    """Raise ``kind(message)`` unless ``condition``; messages repeat the bad value and the allowed range."""
    if not condition:
        raise kind(message)
