"""labmf: low-rank matrix factorisation and matrix completion in PyTorch.

The flat public API::

    import labmf
    res = labmf.factorise_sgd(labmf.lab_matrix(), rank=2, seed=0)
    res.U, res.V, res.losses
"""

from ._validation import DivergenceError
from .data import blog_matrix, lab_mask, lab_matrix
from .factorise import (
    OPTIMISERS,
    factorise_autograd,
    factorise_gd,
    factorise_sgd,
    gd_factorise_masked,
    sgd_factorise,
    sgd_factorise_masked,
    truncated_svd,
)
from .metrics import mae, mse, reconstruction_sse, rmse, sse
from .plot import plot_loss_curves, plot_seed_spread
from .result import FactorisationResult

__version__ = "0.1.0"

__all__ = [
    "DivergenceError",
    "FactorisationResult",
    "OPTIMISERS",
    "blog_matrix",
    "factorise_autograd",
    "factorise_gd",
    "factorise_sgd",
    "gd_factorise_masked",
    "lab_mask",
    "lab_matrix",
    "mae",
    "mse",
    "plot_loss_curves",
    "plot_seed_spread",
    "reconstruction_sse",
    "rmse",
    "sgd_factorise",
    "sgd_factorise_masked",
    "sse",
    "truncated_svd",
]
