"""Studies: many trained models (objectives × hyperparameters × seeds) on Ray Tune, one table.

============================  ==================================================================
``read_study``                a study declared in a TOML file, expanded to its grid (``spec``)
``prepare``, ``run_study``    write a study into its folder; run its trials on Ray Tune, locally
                              or on a cluster (``runner``)
``run_trial``                 one trial: train (``refvae.runs.train``), score
                              (``refvae.evaluate``), its row (``trial``)
``load``                      the table of a study as a pandas DataFrame (``table``)
``report``                    the figures of Locatello et al. 2019 computed from the table
============================  ==================================================================

Ray Tune and pandas come with the extra ``pip install "refvae[study]"``; the command is
``refvae study run STUDY.toml --out DIR`` (``--resume DIR``, ``--address auto``) and
``refvae study report DIR``.
"""

from refvae.studies.spec import StudyError, StudySpec, Trial, read_study
from refvae.studies.table import load

__all__ = ["StudyError", "StudySpec", "Trial", "load", "read_study"]
