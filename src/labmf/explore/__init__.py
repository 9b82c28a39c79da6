"""The explorer: live ipywidgets controls over the lab's factorisations (notebook 00).

:func:`explore` refits the lab's 3 x 3 matrix (or any small matrix) as you move the
sliders; :func:`explore_recommendations` answers Question 4 for a chosen movie and user.
Built on ``labmf``'s public names only; ``labmf`` itself never imports this package.
"""

from .views import METHODS, Explorer, RecommendationExplorer, Settings, explore, explore_recommendations

__all__ = ["METHODS", "Settings", "Explorer", "RecommendationExplorer", "explore", "explore_recommendations"]
