"""The rounding-sensitivity harness (``make test-rounding``) nudges what it claims to nudge.

``tests/nbval_perturb.py`` runs as an IPython startup file in every notebook kernel of the
nudged nbval runs; here it is installed in-process, with ``monkeypatch`` undoing it.
"""

from __future__ import annotations

import nbval_perturb
import numpy as np
import pytest
import torch

import labmf
import labmf.data


@pytest.mark.parametrize("direction", ["up", "down"])
def test_lab_matrices_move_one_float32_ulp(direction, monkeypatch):
    A, (R, M) = labmf.lab_matrix(), labmf.blog_matrix()
    patched = nbval_perturb.install(direction, setattr=monkeypatch.setattr)
    assert "labmf.lab_matrix" in patched and "labmf.data.lab_matrix" in patched
    toward = torch.tensor(float("inf") if direction == "up" else float("-inf"))
    assert torch.equal(labmf.lab_matrix(), torch.nextafter(A, toward))
    assert torch.equal(labmf.data.lab_matrix(), torch.nextafter(A, toward))
    R2, M2 = labmf.blog_matrix()
    assert torch.equal(M2, M), "a mask must never move"
    assert torch.equal(R2, torch.where(R != 0, torch.nextafter(R, toward), R)), "zeros (missing) stay zero"


def test_q4_layout_nudged_once_and_zeros_kept(monkeypatch):
    before = labmf.data.load_lab_layout().ratings
    nbval_perturb.install("up", setattr=monkeypatch.setattr)
    after = labmf.data.load_lab_layout().ratings  # it calls load_movielens, also patched: nudged once
    rated = before != 0
    assert torch.equal(after[~rated], before[~rated])
    assert torch.equal(after[rated], torch.nextafter(before[rated], torch.tensor(float("inf"))))


def test_ratings_stay_inside_their_scale():
    rating = np.array([0.5, 3.0, 5.0], dtype=np.float32)
    up = nbval_perturb._nudge_array(rating, True, scale=(0.5, 5.0))
    assert up[0] > 0.5 and up[1] > 3.0 and np.nextafter(np.float32(5.0), np.float32(0)) == up[2]


def test_unknown_direction_is_refused(monkeypatch):
    with pytest.raises(ValueError, match="LABMF_PERTURB must be 'up' or 'down'"):
        nbval_perturb.install("sideways", setattr=monkeypatch.setattr)


def test_the_log_says_where_the_nudge_was_in_force(tmp_path, monkeypatch):
    log = tmp_path / "patched.log"
    nbval_perturb.install("down", str(log), setattr=monkeypatch.setattr)
    assert log.read_text().startswith("down pid ")
