"""Fitted models saved and loaded as plain ``.npz`` + JSON: no pickle, nothing executed on load.

``model.save(path)`` writes one ``numpy.savez`` file: the model's fitted arrays (an
:class:`~labrec.Ensemble`'s members under ``m0.``, ``m1.``, ...; the id maps as
``ids.users`` / ``ids.items``) and ``header``, a JSON text holding the format name and
``version``, the class, its constructor parameters, the fitted scalars, the titles, and the
sha256 of the header and of every array (name, dtype, shape, bytes). ``BiasedMF.load(path)``
(or :func:`load_model`, any class) opens it with ``numpy.load(allow_pickle=False)`` and
refuses a file of another format version, of another class, or whose sha256 does not match
(altered or damaged after saving). A ``numpy.random.Generator`` seed is saved as ``None``.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from ._base import FittedIds, check_fitted
from .table import IdMap

__all__ = ["save_model", "load_model", "FORMAT", "VERSION"]

FORMAT = "labrec-model"
#: Bumped whenever what a file holds changes; a file of another version is refused.
VERSION = 1


def _classes() -> dict:
    from .baselines import BiasBaseline, GlobalMean, ItemMean
    from .ensemble import Ensemble
    from .model import BiasedMF

    return {c.__name__: c for c in (BiasedMF, GlobalMean, ItemMean, BiasBaseline, Ensemble)}


def save_model(model, path) -> Path:
    """Write the fitted ``model`` to ``path`` (the name is kept as given); returns the path."""
    arrays, header = _flatten(model, "")
    header = {"format": FORMAT, "version": VERSION, **header}
    header["sha256"] = _digest(header, arrays)
    path = Path(os.fsdecode(path))
    with open(path, "wb") as fh:
        np.savez(fh, header=np.array(json.dumps(header)), **arrays)
    return path


def _flatten(model, prefix: str) -> tuple[dict, dict]:
    name = type(model).__name__
    if name not in _classes():
        raise TypeError(f"cannot save a {name}: save works for {', '.join(_classes())}")
    check_fitted(model, "fit_time_")
    params = {k: v.item() if isinstance(v, np.generic) else v for k, v in model.get_params().items()}
    plain = (bool, int, float, str, type(None))
    header = {"class": name, "params": {k: v if isinstance(v, plain) else None for k, v in params.items()
                                        if k != "members"}, "scalars": {}, "members": []}
    arrays = {}
    for key, value in vars(model).items():
        if key in params or key in ("ids_", "members_"):
            continue
        value = value.item() if isinstance(value, np.generic) else value
        if isinstance(value, np.ndarray):
            arrays[prefix + key] = value
        elif isinstance(value, (*plain, tuple)):
            header["scalars"][key] = value
        else:
            raise TypeError(f"cannot save {name}.{key}, a {type(value).__name__}")
    ids = getattr(model, "ids_", None)
    if ids is not None:
        arrays[prefix + "ids.users"], arrays[prefix + "ids.items"] = ids.users.ids, ids.items.ids
        header["titles"] = [[k, t] for k, t in ids.titles.items()]
    for k, member in enumerate(getattr(model, "members_", [])):
        member_arrays, member_header = _flatten(member, f"{prefix}m{k}.")
        arrays.update(member_arrays)
        header["members"].append(member_header)
    return arrays, header


def _digest(header: dict, arrays: dict) -> str:
    h = hashlib.sha256(json.dumps({k: v for k, v in header.items() if k != "sha256"}, sort_keys=True).encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def load_model(path, cls=None):
    """The model saved at ``path`` by :func:`save_model`; with ``cls``, it must be one.

    Raises
    ------
    ValueError
        Not a labrec model file, another format version, or a failed sha256 check.
    TypeError
        The file holds another class than ``cls``.
    """
    path = Path(os.fsdecode(path))
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} not found")
    try:
        with np.load(path, allow_pickle=False) as z:
            header = json.loads(str(z["header"][()]))
            arrays = {k: z[k] for k in z.files if k != "header"}
    except (ValueError, KeyError, OSError, AttributeError, TypeError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path.name} is not a labrec model file (an .npz written by model.save(path); "
                         f"{type(exc).__name__} on reading it)") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"{path.name} is not a labrec model file (no {FORMAT!r} header)")
    if header.get("version") != VERSION:
        raise ValueError(f"{path.name} is labrec model format version {header.get('version')!r}, but this labrec "
                         f"reads version {VERSION}; refit the model and save it again")
    digest = _digest(header, arrays)
    if header.get("sha256") != digest:
        raise ValueError(f"{path.name} fails its sha256 check (contents {digest[:12]}..., header says "
                         f"{str(header.get('sha256'))[:12]}...): it was altered or damaged after saving")
    model = _build(header, arrays, "")
    if cls is not None and not isinstance(model, cls):
        raise TypeError(f"{path.name} holds a {type(model).__name__}, not a {cls.__name__}; load it with "
                        f"{type(model).__name__}.load or labrec.load_model")
    return model


def _build(header: dict, arrays: dict, prefix: str):
    model = object.__new__(_classes()[header["class"]])
    for key, value in {**header["params"], **header["scalars"]}.items():
        setattr(model, key, tuple(value) if isinstance(value, list) else value)
    for key, value in arrays.items():
        if key.startswith(prefix) and "." not in key[len(prefix):]:
            value.setflags(write=False)
            setattr(model, key[len(prefix):], value)
    if prefix + "ids.users" in arrays:
        titles = {k: t for k, t in header.get("titles", [])}
        model.ids_ = FittedIds(IdMap(arrays[prefix + "ids.users"], "user"),
                               IdMap(arrays[prefix + "ids.items"], "item"), titles)
    else:
        model.ids_ = None
    if header["class"] == "Ensemble":
        model.members = model.members_ = [_build(h, arrays, f"{prefix}m{k}.") for k, h in
                                          enumerate(header["members"])]
    return model
