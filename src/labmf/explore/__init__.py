"""The explorer (notebook 00): ipywidgets controls over the lab's factorisations.

:func:`explore` refits a small matrix (default: the lab's 3 x 3) as its controls change;
:func:`explore_recommendations` answers Question 4 for a movie (by title) and a user column.

Both return an object that displays as live widgets in JupyterLab and, where there is no
widget front end (nbconvert, nbval, the report), as the static picture of its first fit
(the display bundle carries both; each front end shows the richest it can render).
Slider drags are debounced (``continuous_update=False``); a fit runs on a worker thread
with a progress bar, and a newer request supersedes it: the older fit stops at its next
epoch (a generation counter checked in the fit's callback). Fits are cached by settings.

Built on ``labmf``'s public modules; the lab's core never imports this package.
"""

from .views import METHODS, Explorer, RecommendationExplorer, Settings, explore, explore_recommendations

__all__ = ["METHODS", "Settings", "Explorer", "RecommendationExplorer", "explore", "explore_recommendations"]
