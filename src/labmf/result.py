"""The one result type every factorisation returns, and its file: a plain ``.npz`` of the tensors and
one JSON record (format, version, fields, a SHA-256 digest), read with ``allow_pickle=False``."""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import dataclass, field

import numpy as np
import torch

from .validation import check_index

__all__ = ["FactorisationResult", "FORMAT", "VERSION"]

#: The file format's name and version, written into every saved result and checked on load.
FORMAT, VERSION = "labmf.FactorisationResult", 1
_ARRAYS = ("U", "V", "losses", "singular_values")
_FIELDS = ("method", "rank", "lr", "num_epochs", "seed", "elapsed", "info")


@dataclass(frozen=True, eq=False)
class FactorisationResult:
    """A fitted rank-r factorisation ``A ~ U @ V.T`` and how it was obtained.

    Attributes
    ----------
    U : Tensor, shape (m, r)
        Row factors.
    V : Tensor, shape (n, r)
        Column factors.
    losses : Tensor, shape (num_epochs + 1,), float64
        Training SSE over the observed entries: ``losses[0]`` at the random start,
        ``losses[k]`` after epoch ``k``. A closed-form method (truncated SVD) has a
        single entry.
    method : str
        Name of the algorithm (``"sgd"``, ``"gd"``, ``"autograd-adam"``, ``"svd"``, ...).
    rank : int
    lr : float or None
        Learning rate (``None`` for closed-form methods).
    num_epochs : int
    seed : int or None
        Seed of the initialisation, when one was given.
    elapsed : float
        Wall time of the fit in seconds (not part of any regression check).
    singular_values : Tensor, shape (min(m, n),), optional
        All singular values of ``A`` (truncated SVD only).
    info : dict
        Method-specific extras (backend, optimiser, ...).
    """

    U: torch.Tensor
    V: torch.Tensor
    losses: torch.Tensor
    method: str
    rank: int
    lr: float | None = None
    num_epochs: int = 0
    seed: int | None = None
    elapsed: float = 0.0
    singular_values: torch.Tensor | None = None
    info: dict = field(default_factory=dict)

    @property
    def reconstruction(self) -> torch.Tensor:
        """``U @ V.T``, shape (m, n)."""
        return self.U @ self.V.T

    @property
    def loss(self) -> float:
        """Final training SSE over the observed entries."""
        return float(self.losses[-1])

    def predict(self, row: int, col: int) -> float:
        """Predicted value of entry ``(row, col)`` of the ``(m, n)`` reconstruction (negative
        indices refused: :func:`labmf.validation.check_index`)."""
        m, n = self.U.shape[0], self.V.shape[0]
        row = check_index(row, f"row (of a {m} x {n} reconstruction)", m)
        col = check_index(col, f"col (of a {m} x {n} reconstruction)", n)
        return float(self.U[row] @ self.V[col])

    def __repr__(self) -> str:
        m, n = self.U.shape[0], self.V.shape[0]
        parts = [f"method={self.method!r}", f"shape=({m}, {n})", f"rank={self.rank}"]
        if self.lr is not None:
            parts.append(f"lr={self.lr:g}")
        parts.append(f"num_epochs={self.num_epochs}")
        if self.seed is not None:
            parts.append(f"seed={self.seed}")
        parts.append(f"loss={self.loss:.6g}")
        return f"FactorisationResult({', '.join(parts)})"

    def save(self, path) -> None:
        """Write this result to ``path`` (``.npz``, no pickle; format :data:`VERSION`). ``info`` must hold
        JSON values only, as the factorisations' does; tensors keep their dtype."""
        arrays = {name: _to_numpy(getattr(self, name)) for name in _ARRAYS if getattr(self, name) is not None}
        meta = {name: getattr(self, name) for name in _FIELDS} | {"format": FORMAT, "version": VERSION, "dtypes": {
            name: str(getattr(self, name).dtype).removeprefix("torch.") for name in arrays}}
        try:
            meta["sha256"] = _digest(arrays, meta)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"info must hold JSON values only to be saved, got {self.info!r} ({exc})") from None
        with open(os.fspath(path), "wb") as fh:
            np.savez(fh, meta=np.array(json.dumps(meta)), **arrays)

    @classmethod
    def load(cls, path) -> FactorisationResult:
        """Read a result written by :meth:`save`; ValueError naming ``path`` for another file or version,
        or one that fails its digest (modified after saving)."""
        where = os.fspath(path)
        try:
            with np.load(where, allow_pickle=False) as z:
                arrays = {name: z[name] for name in z.files}
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            raise ValueError(f"{where} is not a saved FactorisationResult (not a readable .npz: {exc})") from None
        meta = _meta(arrays.pop("meta", None), where)
        if meta.get("sha256") != _digest(arrays, meta):
            raise ValueError(f"{where} fails its SHA-256 check: it was modified after saving (or is corrupt); "
                             "refit, or save the result again")
        tensors = {name: torch.from_numpy(arrays[name].copy()).to(getattr(torch, meta["dtypes"][name]))
                   for name in arrays}
        return cls(**tensors, **{name: meta[name] for name in _FIELDS})


def _to_numpy(t: torch.Tensor) -> np.ndarray:  # numpy has no bfloat16: stored as float32, restored on load
    return (t.float() if t.dtype == torch.bfloat16 else t).detach().cpu().numpy()


def _digest(arrays: dict, meta: dict) -> str:
    """SHA-256 of the fields (JSON, sorted, less the digest) and each array's name, dtype, shape and bytes."""
    h = hashlib.sha256(json.dumps({k: v for k, v in meta.items() if k != "sha256"}, sort_keys=True,
                                  allow_nan=False).encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _meta(raw, where: str) -> dict:
    """The JSON fields of a saved result, checked for the format and version."""
    try:
        meta = json.loads(str(raw[()])) if raw is not None and raw.dtype.kind == "U" else None
    except ValueError:
        meta = None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{where} is not a saved FactorisationResult (no {FORMAT!r} record)")
    if meta.get("version") != VERSION:
        raise ValueError(f"{where} is a FactorisationResult file of version {meta.get('version')!r}; this labmf "
                         f"reads version {VERSION} only (load it with the labmf that wrote it, and refit)")
    return meta
