"""labmf: low-rank matrix factorisation and matrix completion in PyTorch.

The flat public API::

    import labmf
    res = labmf.factorise_sgd(labmf.lab_matrix(), rank=2, seed=0)
    res.U, res.V, res.losses

Modules, one concern each: ``factorise`` (algorithms), ``kernels`` / ``sparse``
(inner loops, sparse inputs), ``metrics`` (SSE/RMSE over masks), ``data`` (lab
matrices, MovieLens, course files, downloads), ``evaluate`` (splits, hold-out
curves), ``baselines``, ``recommender`` (biased MF, cross-validation), ``plot``,
``answers`` and ``report`` (the lab report).
"""

from . import data, evaluate, lab, metrics, plot, recsys, sparse
from ._validation import DivergenceError
from .recsys import BiasBaseline, GlobalMean, ItemMean
from .data import (
    DownloadError,
    LabLayout,
    Ratings,
    blog_matrix,
    course_layout,
    data_dir,
    fetch,
    find_title,
    lab_layout,
    lab_mask,
    lab_matrix,
    load_lab_layout,
    load_movielens,
)
from .evaluate import fit_with_heldout, holdout_split, lr_sweep, top_n_unrated
from .factorise import OPTIMISERS, factorise_autograd, factorise_gd, factorise_sgd, factorise_svd
from .lab import gd_factorise_masked, sgd_factorise, sgd_factorise_masked

truncated_svd = factorise_svd  # TEMPORARY until the notebooks call factorise_svd
from .metrics import mae, mse, reconstruction_sse, rmse, sse
from .plot import plot_loss_curves, plot_seed_spread
from .recsys import BiasedMF, CVResult, Ensemble, cross_validate, kfold_indices
from .result import FactorisationResult
from .sparse import from_triplets, to_sparse

__version__ = "0.1.0"

__all__ = [
    # algorithms and their result
    "FactorisationResult",
    "factorise_sgd",
    "factorise_gd",
    "factorise_autograd",
    "factorise_svd",
    "truncated_svd",
    "OPTIMISERS",
    "DivergenceError",
    # the handout's signatures
    "sgd_factorise",
    "sgd_factorise_masked",
    "gd_factorise_masked",
    # metrics
    "sse",
    "mse",
    "rmse",
    "mae",
    "reconstruction_sse",
    # data
    "lab_matrix",
    "lab_mask",
    "blog_matrix",
    "Ratings",
    "LabLayout",
    "load_movielens",
    "lab_layout",
    "load_lab_layout",
    "course_layout",
    "find_title",
    "fetch",
    "data_dir",
    "DownloadError",
    "from_triplets",
    "to_sparse",
    # evaluation and recommenders
    "holdout_split",
    "kfold_indices",
    "fit_with_heldout",
    "lr_sweep",
    "top_n_unrated",
    "GlobalMean",
    "MovieMean",
    "BiasBaseline",
    "BiasedMF",
    "Ensemble",
    "CVResult",
    "cross_validate",
    # plots
    "plot_loss_curves",
    "plot_seed_spread",
    # submodules
    "baselines",
    "data",
    "lab",
    "evaluate",
    "metrics",
    "plot",
    "recommender",
    "sparse",
]
