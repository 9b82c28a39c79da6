"""The one way labmf compiles a numba kernel.

Compiled code is cached on disk (``cache=True``), so a new process loads it in
~0.1 s instead of compiling for ~1-2 s. numba picks the first writable of
``NUMBA_CACHE_DIR``, the ``__pycache__`` next to the kernel's file, and a
per-user cache directory. If none is writable numba refuses ``cache=True`` at
decoration time; we then compile in memory once per process (with one warning)
rather than fail.
"""

from __future__ import annotations

import warnings

import numba

__all__ = ["compile_kernel", "all_cached"]

_uncached: list[str] = []  # kernels compiled without a cache (warn once, not per kernel)


def compile_kernel(fn, **options):
    """``numba.njit(fn, cache=True, nogil=True, **options)``, in memory if no cache is writable.

    Parameters
    ----------
    fn : function
        The kernel's Python source (numba's nopython subset).
    **options
        Further ``njit`` options, e.g. ``fastmath={"contract"}``.

    Returns
    -------
    numba dispatcher
    """
    try:
        return numba.njit(cache=True, nogil=True, **options)(fn)
    except RuntimeError as exc:  # "cannot cache function ...: no locator available"
        if not _uncached:
            warnings.warn(
                f"numba cannot write its cache ({exc}); compiling in memory instead "
                "(~1-2 s per process). Set NUMBA_CACHE_DIR to a writable directory "
                "to keep compiled code.",
                RuntimeWarning,
                stacklevel=2,
            )
        _uncached.append(fn.__name__)
        return numba.njit(cache=False, nogil=True, **options)(fn)


def all_cached() -> bool:
    """True when every kernel compiled so far is cached on disk."""
    return not _uncached
