"""labmf: low-rank matrix factorisation and matrix completion in PyTorch (the lab).

Quick start::

    import labmf
    A = labmf.lab_matrix()                         # the lab's 3 x 3 matrix
    res = labmf.factorise_sgd(A, rank=2, seed=0)   # per-entry SGD, reproducible
    res.U, res.V, res.losses, res.loss             # factors, SSE per epoch, final SSE

Where things are (one home for each; notebook -> module):

- ``labmf.lab``: the handout's four functions, written plainly (read this first):
  ``sgd_factorise``, ``truncated_svd``, ``sgd_factorise_masked``, ``gd_factorise_masked``
  (notebooks 01-03 compare against them; they are not re-exported here).
- ``labmf.factorise``: the same algorithms, fast and general, one shape
  ``fn(A, mask=None, rank, *, lr, num_epochs, seed | generator, init, callback,
  progress) -> FactorisationResult``: ``factorise_sgd`` (01, 03), ``factorise_svd`` (02),
  ``factorise_gd`` (04), ``factorise_autograd`` (05).
- ``labmf.result``: ``FactorisationResult``, the one result type.
- ``labmf.convergence``: ``still_improving``, ``ConvergenceWarning``, ``DivergenceError``.
- ``labmf.kernels`` (compiled with ``labmf.jit``): the numba inner loops behind them.
- ``labmf.metrics``: SSE / MSE / RMSE / MAE over a mask.
- ``labmf.data``: the lab's matrices, MovieLens, Q4's movies x users layout, course files.
- ``labmf.sparse``: sparse inputs (``from_triplets``, ``to_sparse``).
- ``labmf.evaluate``: Q4's hold-out splits, learning-rate probes, held-out curves.
- ``labmf.validation``: the input checks (``check_scalar``, ...) every module uses.
- ``labmf.plot``: loss curves.
- ``labmf.explore`` (a subpackage, imported on its own): sliders in JupyterLab (notebook 00).

The recommender of notebooks 06-07 (``BiasedMF``, cross-validation, Surprise) is the
separate package ``labrec``, built on this one.

Everything runs on the CPU; tensors on another device are refused with a clear error.
"""

from . import lab
from .convergence import ConvergenceWarning, DivergenceError, still_improving
from .data import LabLayout, blog_matrix, lab_mask, lab_matrix, load_lab_layout
from .evaluate import holdout_split, largest_stable_lr, lr_sweep
from .factorise import OPTIMISERS, factorise_autograd, factorise_gd, factorise_sgd, factorise_svd
from .metrics import mae, mse, reconstruction_sse, rmse, sse
from .plot import plot_loss_curves
from .result import FactorisationResult
from .sparse import from_triplets, to_sparse

__version__ = "0.1.0"

__all__ = [
    "lab",  # the handout's own functions
    "FactorisationResult", "factorise_sgd", "factorise_gd", "factorise_autograd", "factorise_svd", "OPTIMISERS",
    "still_improving", "ConvergenceWarning", "DivergenceError",  # convergence
    "sse", "mse", "rmse", "mae", "reconstruction_sse",  # metrics
    "lab_matrix", "lab_mask", "blog_matrix", "LabLayout", "load_lab_layout", "from_triplets", "to_sparse",  # data
    "holdout_split", "lr_sweep", "largest_stable_lr",  # evaluation
    "plot_loss_curves",
]
