"""The explorer (notebook 00): ipywidgets controls over the lab's factorisations.

:func:`explore` refits a small matrix (default: the lab's 3 x 3) as its controls change;
:func:`explore_recommendations` answers Question 4 for a movie (by title) and a user column.

Both display as live widgets in JupyterLab and, with no widget front end (nbconvert, nbval, the
report), as the static picture of their fit. Sliders act on release; a fit runs on a worker thread
(the view marked stale at once), and a newer request supersedes it at its next epoch. Fits are
cached by settings. The lab's core never imports this package.
"""

from .views import METHODS, Explorer, RecommendationExplorer, Settings, explore, explore_recommendations

__all__ = ["METHODS", "Settings", "Explorer", "RecommendationExplorer", "explore", "explore_recommendations"]
