"""Self-checking exercises for the notebook course.

A chapter's exercise whose answer is a number or an array can be checked with one call::

    import refvae
    refvae.course.check("00.1", my_answer)   # prints and returns "right", "close" or "wrong"

The package has three parts: ``refvae.course.checker`` compares an answer with the expected
value without revealing it (and holds the registry), ``refvae.course.answers`` registers
the expected answers of the course's chapters, and ``refvae.course.tables`` reads the tables
of trained models shipped for the chapters (``study_table("six-objectives")``). The names
below are the course's API.
"""

from refvae.course.answers import DSPRITES_SIZE, GMM_TOY, refvae_digits_pixels  # importing it registers the answers
from refvae.course.checker import _REGISTRY as _REGISTRY  # the registry, for tests that add scratch exercises
from refvae.course.checker import CLOSE, RIGHT, WRONG, Exercise, check, exercise, exercises, register
from refvae.course.tables import STUDY_TABLES, study_table

__all__ = ["CLOSE", "DSPRITES_SIZE", "Exercise", "GMM_TOY", "RIGHT", "STUDY_TABLES", "WRONG", "check", "exercise",
           "exercises", "refvae_digits_pixels", "register", "study_table"]
