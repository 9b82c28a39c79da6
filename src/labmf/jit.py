"""The one way labmf compiles a numba kernel.

Compiled code is cached on disk (``cache=True``), so a new process loads it
instead of compiling it again. numba picks the first writable of
``NUMBA_CACHE_DIR``, the ``__pycache__`` next to the kernel's file, and a
per-user cache directory. If none is writable numba refuses ``cache=True`` at
decoration time; we then compile in memory once per process (with one warning)
rather than fail.
"""

from __future__ import annotations

import math
import warnings

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["compile_kernel", "all_cached", "prefetch", "compile_unrolled", "MAX_UNROLLED_RANK", "FMA_ONLY"]

_uncached: list[str] = []  # kernels compiled without a cache (warn once, not per kernel)

FMA_ONLY = {"fastmath": {"contract"}}  # may fuse a multiply and an add; never reassociates
MAX_UNROLLED_RANK = 8  # rank-specialised kernels are generated up to this rank

# What each field of a rank-unrolled template expands to, joined by "; " over k = 0 .. R-1:
# "{load_u}" at rank 3 becomes "u0 = U[r, 0]; u1 = U[r, 1]; u2 = U[r, 2]".
_FIELDS = {
    "load_u": "u{k} = U[r, {k}]",
    "load_v": "v{k} = V[c, {k}]",
    "zero_g": "g{k} = 0.0",
    "dot": "dot += u{k} * v{k}",
    "acc_g": "g{k} += ei * v{k}",
    "acc_h": "H[c, {k}] += ei * u{k}",
    "new_u": "u{k} = u{k} + lr * g{k}",
    "store_u": "U[r, {k}] = u{k} + lr * g{k}",
    "step_u": "u{k} += step * v{k}",
    "step_v": "v{k} += step * u{k}",
    "store_u_row": "U[r, {k}] = u{k}",
    "store_v_row": "V[c, {k}] = v{k}",
}


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


def compile_unrolled(template: str, name: str, rank: int, module: str, filename: str, namespace=None, **options):
    """Compile ``template`` for one ``rank``: numba cannot specialise on a runtime value, so the
    rank is written into the source (``{R}`` and the fields of ``_FIELDS``) before compiling.

    Parameters
    ----------
    template : str
        Source of one function, with ``{R}`` and ``{field}`` placeholders.
    name : str
        The function's name in it, e.g. ``f"_gd_epochs_rank{rank}"``.
    rank : int
    module, filename : str
        The calling module's ``__name__`` and ``__file__``: compiled under them, numba's on-disk
        cache keeps the kernel next to the module's other kernels.
    namespace : dict, optional
        Further globals the source uses (``np`` and ``math`` are given).
    **options
        ``njit`` options, as for :func:`compile_kernel`.
    """
    fields = {key: "; ".join(fmt.format(k=k) for k in range(rank)) for key, fmt in _FIELDS.items()}
    scope = {"np": np, "math": math, "__name__": module, **(namespace or {})}
    exec(compile(template.format(R=rank, **fields), filename, "exec"), scope)  # noqa: S102 - our own templates
    return compile_kernel(scope[name], **options)


def all_cached() -> bool:
    """True when every kernel compiled so far is cached on disk."""
    return not _uncached


@intrinsic
def prefetch(typingctx, arr, row, col):
    """``prefetch(arr, row, col)`` in a kernel: ask the CPU to start loading the cache
    line of ``arr[row, col]`` (a 2-D C-contiguous array), without waiting for it.

    A hint only (``llvm.prefetch``, read, keep in all cache levels): it changes no
    value and cannot fault. The recommender's SGD visits the factor rows in a
    random order, so each rating waits on a cache miss; prefetching the rows of a
    rating a few steps ahead overlaps those waits (``make bench`` measures the gain).
    """
    sig = types.void(arr, row, col)

    def codegen(context, builder, signature, args):
        index = [context.cast(builder, v, t, types.intp) for v, t in zip(args[1:], signature.args[1:], strict=True)]
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, signature.args[0], ary, index, wraparound=False)
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                                            "llvm.prefetch.p0i8")
        # (address, 0 = read, 3 = keep in every cache level, 1 = data cache)
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen
