"""Fixtures shared by the test files: the lab's 3 x 3 matrix and Q3's mask."""

from __future__ import annotations

import pytest

import labmf


@pytest.fixture
def A():
    return labmf.lab_matrix()


@pytest.fixture
def M():
    return labmf.lab_mask()
