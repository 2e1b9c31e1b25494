"""The tables of trained models that the course reads, shipped inside the package.

A chapter that compares many trained models (chapter 12: Locatello et al. 2019's analyses) reads
the table of a study run with ``refvae study`` instead of training the models in class. The table
travels with the package (``refvae/course/studies/*.csv``), so the chapter reads the same rows on
a laptop and in Colab, where only the notebook and the pip-installed package exist. A table may be
a snapshot of a study still running (the rows of the trials finished when it was copied, in grid
order); a chapter reads how many trials it holds from the table itself::

    import refvae
    table = refvae.course.study_table("six-objectives")   # a pandas DataFrame, one row a trial

Its columns are those of ``refvae.studies.load`` (``refvae/studies/table.py``): ``trial``,
``status``, ``error``, ``model``, ``seed``, every field of the run's configuration (``beta``,
``gamma``, ``capacity``, ``lambda_od``, ...), each metric's headline value (``mig``, ``dci``, ...)
and its other numbers (``dci.completeness``, ``mig.shape``, ...), the final logged terms
(``final_elbo``, ...) and the seconds each trial trained and was scored. The functions of
``refvae.studies.report`` take it as it is.
"""

from __future__ import annotations

import importlib.resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas

__all__ = ["STUDY_TABLES", "study_table"]

# name: (file in refvae/course/studies/, the study file that declared it, in the repository)
STUDY_TABLES = {
    "six-objectives": ("six_objectives.csv", "experiments/study_six_objectives.toml"),
}


def study_table(name: str = "six-objectives") -> pandas.DataFrame:
    """The table of the study ``name`` shipped with refvae, one row a trial (grid order).

    Args:
        name: a key of :data:`STUDY_TABLES`: ``"six-objectives"`` is Locatello et al. (2019)'s six
            objectives (β-VAE, AnnealedVAE, FactorVAE, DIP-VAE-I, DIP-VAE-II, β-TCVAE), three values
            of each one's hyperparameter, seeds 0-4, on procedural dSprites
            (``experiments/study_six_objectives.toml``).

    Returns:
        a pandas DataFrame with the columns of ``refvae.studies.load``.

    Raises:
        ValueError: an unknown name (the message lists the known ones).
        ImportError: pandas is missing (it is preinstalled on Colab; ``pip install "refvae[study]"``).
    """
    if name not in STUDY_TABLES:
        raise ValueError(f"unknown study table {name!r}; the course ships {sorted(STUDY_TABLES)}")
    try:
        import pandas
    except ImportError as error:
        raise ImportError('refvae.course.study_table needs pandas: pip install "refvae[study]"') from error
    resource = importlib.resources.files("refvae.course") / "studies" / STUDY_TABLES[name][0]
    with importlib.resources.as_file(resource) as path:
        return pandas.read_csv(path)
