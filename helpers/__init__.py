"""helpers: the library behind the course "Visualizing and understanding CNNs".

Plumbing (complete): ``utils`` (seeding, fast mode, errors), ``data`` (images and data
sets), ``models`` (the model zoo and its one interface), ``display`` (pictures).
``optim`` is the one image-optimization loop that notebooks 3-5 share.
Exercises (you complete them, notebook by notebook): ``features`` (notebook 1),
``saliency`` (notebook 2), ``ascent`` (notebook 3), ``inversion`` (notebook 4).
``checks`` holds the local checks the notebooks run.
Notebook 5's exercises are in ``style`` (texture synthesis, Gatys, the norms of fast style
transfer); ``stylenet`` is the fast style network, its training and the networks shipped in
``weights/``.
"""
from .utils import (CourseError, fast_mode, get_device, pick, seed_everything, skip_if_not_done, start_notebook, timed,
                    use_threads)

__all__ = ["CourseError", "fast_mode", "get_device", "pick", "seed_everything", "skip_if_not_done", "start_notebook",
           "timed", "use_threads"]
__version__ = "0.1.0"
