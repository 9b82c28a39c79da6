"""FactorisationResult.save / load (issue 21, item 12): a safe, versioned file that refuses tampering."""

from __future__ import annotations

import json
import pickle
import zipfile

import numpy as np
import pytest
import torch

import labmf
from labmf.result import FORMAT, VERSION, FactorisationResult


def _same(a: FactorisationResult, b: FactorisationResult) -> None:
    for name in ("U", "V", "losses", "singular_values"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None)
        if x is not None:
            assert x.dtype == y.dtype and torch.equal(x, y)
    for name in ("method", "rank", "lr", "num_epochs", "seed", "elapsed", "info"):
        assert getattr(a, name) == getattr(b, name), name


@pytest.mark.parametrize("fit", [
    lambda: labmf.factorise_sgd(labmf.lab_matrix(), labmf.lab_mask(), rank=2, seed=0, num_epochs=20),
    lambda: labmf.factorise_gd(labmf.lab_matrix().double(), rank=2, seed=3, lr=0.01, num_epochs=20, sparse=True),
    lambda: labmf.factorise_autograd(labmf.lab_matrix(), rank=1, lr=0.05, num_epochs=5),
    lambda: labmf.factorise_svd(labmf.lab_matrix(), rank=2),
])
def test_round_trip_is_exact(tmp_path, fit):
    res = fit()
    res.save(tmp_path / "fit.npz")
    back = FactorisationResult.load(tmp_path / "fit.npz")
    _same(res, back)
    assert back.predict(1, 2) == res.predict(1, 2) and repr(back) == repr(res)


def test_the_file_is_plain_npz_and_json_without_pickle(tmp_path):
    labmf.factorise_svd(labmf.lab_matrix()).save(tmp_path / "svd.npz")
    with np.load(tmp_path / "svd.npz", allow_pickle=False) as z:  # loads with pickle refused
        meta = json.loads(str(z["meta"]))
        assert sorted(z.files) == ["U", "V", "losses", "meta", "singular_values"]
    assert meta["format"] == FORMAT and meta["version"] == VERSION == 1 and len(meta["sha256"]) == 64


def _rewrite(path, edit):
    """Rewrite the saved file with ``edit(arrays, meta)`` applied, keeping the stored digest."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays.pop("meta")))
    edit(arrays, meta)
    np.savez(path, meta=np.array(json.dumps(meta)), **arrays)


@pytest.mark.parametrize("edit", [
    lambda a, m: a.__setitem__("U", a["U"] + 1e-6),               # a factor nudged
    lambda a, m: m.__setitem__("lr", 0.5),                         # a field changed
    lambda a, m: m["info"].__setitem__("masked", False),           # an info value changed
    lambda a, m: a.__setitem__("losses", a["losses"][:-1]),        # the history cut
])
def test_tampered_file_refused(tmp_path, edit):
    path = tmp_path / "fit.npz"
    labmf.factorise_sgd(labmf.lab_matrix(), labmf.lab_mask(), rank=2, seed=0, num_epochs=20).save(path)
    _rewrite(path, edit)
    with pytest.raises(ValueError, match=r"fit\.npz fails its SHA-256 check: it was modified after saving"):
        FactorisationResult.load(path)


def test_other_version_refused(tmp_path):
    path = tmp_path / "fit.npz"
    labmf.factorise_svd(labmf.lab_matrix()).save(path)
    _rewrite(path, lambda a, m: m.__setitem__("version", 2))
    with pytest.raises(ValueError, match=r"fit\.npz is a FactorisationResult file of version 2; this labmf reads "
                       r"version 1 only"):
        FactorisationResult.load(path)


def test_other_files_refused(tmp_path):
    res = labmf.factorise_svd(labmf.lab_matrix())
    with open(tmp_path / "pickled.npz", "wb") as fh:
        pickle.dump(res, fh)
    np.savez(tmp_path / "arrays.npz", U=np.zeros((3, 2)))
    (tmp_path / "text.npz").write_text("hello")
    with zipfile.ZipFile(tmp_path / "cut.npz", "w") as zf:
        zf.writestr("U.npy", b"\x93NUMPY")
    for name in ("pickled", "arrays", "text", "cut"):
        with pytest.raises(ValueError, match=rf"{name}\.npz is not a saved FactorisationResult"):
            FactorisationResult.load(tmp_path / f"{name}.npz")
    with pytest.raises(FileNotFoundError):
        FactorisationResult.load(tmp_path / "missing.npz")


def test_info_must_be_json(tmp_path):
    res = labmf.factorise_svd(labmf.lab_matrix())
    odd = FactorisationResult(U=res.U, V=res.V, losses=res.losses, method="svd", rank=2, info={"f": object()})
    with pytest.raises(TypeError, match="info must hold JSON values only"):
        odd.save(tmp_path / "odd.npz")


def test_bfloat16_round_trip(tmp_path):
    res = labmf.factorise_svd(labmf.lab_matrix())
    half = FactorisationResult(U=res.U.bfloat16(), V=res.V.bfloat16(), losses=res.losses, method="svd", rank=2)
    half.save(tmp_path / "h.npz")
    _same(half, FactorisationResult.load(tmp_path / "h.npz"))
