"""helpers: the library behind the course "Visualizing and understanding CNNs".

Plumbing (complete): ``utils`` (seeding, fast mode, errors), ``data`` (images and data
sets), ``models`` (the model zoo and its one interface), ``display`` (pictures), ``i18n``
(the messages in your language: ``locale/<lang>.po``).
``optim`` is the one image-optimization loop that notebooks 3-5 share.
Exercises (you complete them, notebook by notebook): ``features`` (notebook 1),
``saliency`` and ``trust`` (notebook 2, exercises 1-7 and 8-13), ``ascent`` (notebook 3),
``inversion`` (notebook 4), ``style`` (notebook 5: texture synthesis, Gatys, the norms of fast
style transfer). Each exercise's docstring starts with its notebook and number.
``checks`` holds the local checks the notebooks run (``check("name")``); ``stylenet`` is the
fast style network, its training and the networks shipped in ``weights/``.
"""
from .utils import (CourseError, claim, fast_mode, fast_note, get_device, pick, seed_everything, skip_if_not_done,
                    start_notebook, timed, use_threads)

__all__ = ["CourseError", "claim", "fast_mode", "fast_note", "get_device", "pick", "seed_everything",
           "skip_if_not_done", "start_notebook", "timed", "use_threads"]
__version__ = "0.1.0"
