"""recsys_core: data, evaluation, models, training and the run store behind Recsys Explorer.

Nothing in this package imports streamlit; the app's pages sit on top of it.
"""

__version__ = "0.1.0"
