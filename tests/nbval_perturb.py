"""Nudge the notebooks' input data by one float32 ulp: the rounding-sensitivity test.

``make test-rounding`` copies this file into a fresh IPython profile's ``startup/`` folder
and re-runs nbval over every notebook with ``LABMF_PERTURB=up`` and again with
``LABMF_PERTURB=down``, comparing against the *stored* outputs. Another CPU (AMD or Intel,
AVX2 or AVX-512, arm64) rounds sums and products differently; here every rating and matrix
entry the notebooks load moves by one float32 ulp instead, so every later operation rounds
differently too, on this one machine. A stored output that changes under either nudge is
one a machine with other rounding may print differently: it must be printed at a precision
that rounding cannot flip, as a bound, or computed in float64 (CONTRIBUTING.md, "Stable to
rounding").

What is nudged: the values the data loaders return, never masks or ids, never exact zeros
(0 means "missing" in the lab's matrices), and ratings stay inside their declared scale.
Each loader is replaced wherever a ``labmf``/``labrec`` module holds it, so
``labmf.lab_matrix`` and ``labmf.data.lab_matrix`` are the same nudged function; a loader
called by another nudged loader is nudged once. Each patched name is appended to the file
``$LABMF_PERTURB_LOG``, so the Makefile can check the nudge was really in force.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import pkgutil
import sys

import numpy as np
import torch

#: loader name -> which parts of its return value are data (the rest are masks, ids, sizes)
TARGETS = {
    "lab_matrix": "all",           # the 3 x 3 matrix of Q1-Q3
    "blog_matrix": "first",        # (ratings, mask)
    "load_lab_layout": "ratings",  # LabLayout: its dense Q4 matrix (0 = unrated)
    "load_movielens": "rating",    # Ratings: the rating column
    "synthetic_ratings": ("rating", "test_rating"),
}
PACKAGES = ("labmf", "labrec")


def _nudge_array(x, up: bool, scale=None):
    """Move every non-zero float entry one ulp (of its own dtype) up or down."""
    if isinstance(x, torch.Tensor) and x.is_floating_point():
        target = torch.tensor(float("inf") if up else float("-inf"), dtype=x.dtype)
        y = torch.nextafter(x, target)
        return torch.where(x != 0, y, x)
    if isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.floating):
        y = np.nextafter(x, np.inf if up else -np.inf).astype(x.dtype)
        if scale is not None:  # a rating at the end of its scale moves inwards instead
            lo, hi = scale
            y = np.where((y < lo) | (y > hi), np.nextafter(x, -np.inf if up else np.inf).astype(x.dtype), y)
        return np.where(x != 0, y, x)
    raise TypeError(f"cannot nudge {type(x).__name__}")


def _nudge(value, parts, up: bool):
    if parts == "all":
        return _nudge_array(value, up)
    if parts == "first":
        return (_nudge_array(value[0], up), *value[1:])
    names = (parts,) if isinstance(parts, str) else parts
    scale = getattr(value, "scale", None)
    changes = {n: _nudge_array(getattr(value, n), up, scale) for n in names}
    if dataclasses.is_dataclass(value):
        return dataclasses.replace(value, **changes)
    return value._replace(**changes)  # a NamedTuple


def _wrap(fn, parts, up: bool, depth: list):
    def nudged(*args, **kwargs):
        depth.append(fn.__name__)
        try:
            out = fn(*args, **kwargs)
        finally:
            depth.pop()
        return out if depth else _nudge(out, parts, up)  # nudge once, at the outermost loader

    nudged.__wrapped__ = fn
    nudged.__name__ = fn.__name__
    nudged.__doc__ = fn.__doc__
    return nudged


def install(direction: str, log: str | None = None, setattr=setattr) -> list[str]:
    """Replace every target loader in the labmf/labrec modules; return the names patched.

    ``setattr`` is how a module attribute is replaced (a test passes ``monkeypatch.setattr``,
    so the loaders are restored after it).
    """
    if direction not in ("up", "down"):
        raise ValueError(f"LABMF_PERTURB must be 'up' or 'down', got {direction!r}")
    for pkg in PACKAGES:  # every submodule, so a loader is found wherever it is re-exported
        try:
            root = importlib.import_module(pkg)
        except ImportError:
            continue
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{pkg}."):
            importlib.import_module(info.name)
    modules = [m for n, m in list(sys.modules.items()) if n.split(".")[0] in PACKAGES and m is not None]
    depth: list = []
    patched = []
    for target, parts in TARGETS.items():
        originals = {getattr(m, target) for m in modules if callable(getattr(m, target, None))}
        if len(originals) != 1:
            raise RuntimeError(f"nbval_perturb: expected one function {target!r} in {PACKAGES}, found "
                               f"{len(originals)}; update TARGETS")
        (fn,) = originals
        wrapped = _wrap(fn, parts, direction == "up", depth)
        for m in modules:
            for attr, val in list(vars(m).items()):
                if val is fn:
                    setattr(m, attr, wrapped)
                    patched.append(f"{m.__name__}.{attr}")
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"{direction} pid {os.getpid()}: {len(patched)} names patched\n")
    return patched


if os.environ.get("LABMF_PERTURB"):  # run as an IPython startup file
    install(os.environ["LABMF_PERTURB"], os.environ.get("LABMF_PERTURB_LOG"))
