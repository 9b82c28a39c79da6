"""labmf: low-rank matrix factorisation and matrix completion in PyTorch.

Quick start::

    import labmf
    A = labmf.lab_matrix()                         # the lab's 3 x 3 matrix
    res = labmf.factorise_sgd(A, rank=2, seed=0)   # per-entry SGD, reproducible
    res.U, res.V, res.losses, res.loss             # factors, SSE per epoch, final SSE

Where things are (one home for each):

- ``labmf.lab``: the handout's four functions, written plainly (read this first):
  ``sgd_factorise``, ``truncated_svd``, ``sgd_factorise_masked``, ``gd_factorise_masked``.
- ``labmf.factorise``: the same algorithms, fast and general, one shape
  ``fn(A, mask=None, rank, *, lr, num_epochs, seed | generator, init, callback,
  progress) -> FactorisationResult``: ``factorise_sgd``, ``factorise_gd``,
  ``factorise_autograd``, ``factorise_svd``.
- ``labmf.kernels``: the compiled (numba) inner loops behind them.
- ``labmf.metrics``: SSE / MSE / RMSE / MAE over a mask.
- ``labmf.data``: the lab's matrices, embedded MovieLens, course files, downloads.
- ``labmf.sparse``: sparse inputs (``from_triplets``, ``to_sparse``).
- ``labmf.evaluate``: hold-out splits, learning-rate probes, held-out curves.
- ``labmf.recsys``: the recommender: ``BiasedMF``, baselines, ``Ensemble``,
  ``cross_validate``, and an adapter for Surprise.
- ``labmf.plot``: loss curves and seed spreads; ``labmf.explore``: sliders in JupyterLab.

Everything runs on the CPU; tensors on another device are refused with a clear error.
"""

from . import data, evaluate, lab, metrics, plot, recsys, sparse
from ._validation import ConvergenceWarning, DivergenceError
from .data import (
    DownloadError,
    LabLayout,
    Ratings,
    UnknownIdError,
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
    load_ratings,
)
from .evaluate import fit_with_heldout, holdout_split, largest_stable_lr, lr_sweep, still_improving, top_n_unrated
from .explore import explore, explore_recommendations
from .factorise import OPTIMISERS, factorise_autograd, factorise_gd, factorise_sgd, factorise_svd
from .lab import gd_factorise_masked, sgd_factorise, sgd_factorise_masked, truncated_svd
from .metrics import mae, mse, reconstruction_sse, rmse, sse
from .plot import plot_loss_curves, plot_seed_spread
from .recsys import BiasBaseline, BiasedMF, CVResult, Ensemble, GlobalMean, ItemMean, cross_validate, kfold_indices
from .result import FactorisationResult
from .sparse import from_triplets, to_sparse

__version__ = "0.1.0"

__all__ = [
    # the handout's functions (labmf.lab)
    "sgd_factorise",
    "truncated_svd",
    "sgd_factorise_masked",
    "gd_factorise_masked",
    # algorithms and their result
    "FactorisationResult",
    "factorise_sgd",
    "factorise_gd",
    "factorise_autograd",
    "factorise_svd",
    "OPTIMISERS",
    "DivergenceError",
    "ConvergenceWarning",
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
    "load_ratings",
    "UnknownIdError",
    "lab_layout",
    "load_lab_layout",
    "course_layout",
    "find_title",
    "fetch",
    "data_dir",
    "DownloadError",
    "from_triplets",
    "to_sparse",
    # evaluation
    "holdout_split",
    "fit_with_heldout",
    "lr_sweep",
    "largest_stable_lr",
    "still_improving",
    "top_n_unrated",
    # recommender
    "GlobalMean",
    "ItemMean",
    "BiasBaseline",
    "BiasedMF",
    "Ensemble",
    "CVResult",
    "cross_validate",
    "kfold_indices",
    # plots and the explorer
    "explore",
    "explore_recommendations",
    "plot_loss_curves",
    "plot_seed_spread",
    # submodules
    "data",
    "evaluate",
    "lab",
    "metrics",
    "plot",
    "recsys",
    "sparse",
]
