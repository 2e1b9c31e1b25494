"""refvae.compat.disentanglement_lib: a script written for disentanglement_lib runs unchanged."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from refvae import metrics
from refvae.compat import disentanglement_lib as dlib

# A script in disentanglement_lib's style: its import paths, a GroundTruthData subclass,
# numpy RandomState, its function names, keyword arguments and result keys. Nothing in it
# mentions refvae.
SCRIPT = textwrap.dedent(
    """
    import json
    import sys

    import numpy as np
    from disentanglement_lib.data.ground_truth import ground_truth_data
    from disentanglement_lib.evaluation.metrics import beta_vae
    from disentanglement_lib.evaluation.metrics import dci
    from disentanglement_lib.evaluation.metrics import factor_vae
    from disentanglement_lib.evaluation.metrics import irs
    from disentanglement_lib.evaluation.metrics import mig
    from disentanglement_lib.evaluation.metrics import modularity_explicitness
    from disentanglement_lib.evaluation.metrics import sap_score
    from disentanglement_lib.evaluation.metrics import unsupervised_metrics
    from disentanglement_lib.evaluation.metrics import utils


    class IdentityObservations(ground_truth_data.GroundTruthData):
      \"\"\"Observations are the factor values themselves (as floats).\"\"\"

      @property
      def num_factors(self):
        return 3

      @property
      def factors_num_values(self):
        return [3, 4, 5]

      @property
      def observation_shape(self):
        return [3]

      def sample_factors(self, num, random_state):
        return np.stack([random_state.randint(n, size=num) for n in self.factors_num_values], axis=1)

      def sample_observations_from_factors(self, factors, random_state):
        return np.asarray(factors, dtype=np.float32)


    def representation_function(x):
      return np.array(x, dtype=np.float64)


    data = IdentityObservations()
    scores = {}
    scores["mig"] = mig.compute_mig(data, representation_function, np.random.RandomState(0), None,
                                    num_train=1000, batch_size=16)
    scores["beta_vae"] = beta_vae.compute_beta_vae_sklearn(data, representation_function, np.random.RandomState(0),
                                                           None, batch_size=16, num_train=300, num_eval=200)
    scores["factor_vae"] = factor_vae.compute_factor_vae(data, representation_function, np.random.RandomState(0),
                                                         None, batch_size=16, num_train=300, num_eval=200,
                                                         num_variance_estimate=1000)
    scores["dci"] = dci.compute_dci(data, representation_function, np.random.RandomState(0), None,
                                    num_train=500, num_test=200, batch_size=16)
    scores["sap"] = sap_score.compute_sap(data, representation_function, np.random.RandomState(0), None,
                                          num_train=500, num_test=200, batch_size=16, continuous_factors=True)
    scores["modularity"] = modularity_explicitness.compute_modularity_explicitness(
        data, representation_function, np.random.RandomState(0), None, num_train=500, num_test=200, batch_size=16)
    scores["irs"] = irs.compute_irs(data, representation_function, np.random.RandomState(0), None,
                                    diff_quantile=0.99, num_train=1000, batch_size=16)
    scores["unsupervised"] = unsupervised_metrics.unsupervised_metrics(
        data, representation_function, np.random.RandomState(0), None, num_train=1000, batch_size=16)
    mus, ys = utils.generate_batch_factor_code(data, representation_function, 1000, np.random.RandomState(0), 16)
    mus_train, mus_test = utils.split_train_test(mus, 0.8)
    discretized = utils.make_discretizer(mus_train, 20)
    ys_train = ys[:, :mus_train.shape[1]]
    scores["utils"] = {
        "shapes": [list(mus.shape), list(ys.shape), list(mus_train.shape), list(mus_test.shape)],
        "min_label": int(discretized.min()),
        "mi_diagonal": np.diag(utils.discrete_mutual_info(discretized, ys_train)).tolist(),
        "entropy": utils.discrete_entropy(ys_train).tolist(),
    }
    json.dump({name: {key: float(value) if np.isscalar(value) else value for key, value in score.items()}
               for name, score in scores.items()}, open(sys.argv[1], "w"))
    """
)


@pytest.fixture(scope="module")
def scores(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dlib_script")
    script, out = folder / "dlib_script.py", folder / "scores.json"
    script.write_text(SCRIPT)
    subprocess.run([sys.executable, "-m", "refvae.compat.disentanglement_lib", str(script), str(out)], check=True,
                   capture_output=True, text=True)
    return json.loads(out.read_text())


@pytest.mark.slow
def test_the_script_gets_every_disentanglement_lib_key(scores):
    assert set(scores["mig"]) == {"discrete_mig"}
    assert set(scores["beta_vae"]) == {"train_accuracy", "eval_accuracy"}
    assert set(scores["factor_vae"]) == {"train_accuracy", "eval_accuracy", "num_active_dims"}
    assert set(scores["dci"]) == {"informativeness_train", "informativeness_test", "disentanglement", "completeness"}
    assert set(scores["sap"]) == {"SAP_score"}
    assert set(scores["modularity"]) == {"modularity_score", "explicitness_score_train", "explicitness_score_test"}
    assert set(scores["irs"]) == {"IRS", "num_active_dims"}
    assert set(scores["unsupervised"]) == {"gaussian_total_correlation", "gaussian_wasserstein_correlation",
                                           "gaussian_wasserstein_correlation_norm", "mutual_info_score"}


@pytest.mark.slow
def test_identity_codes_score_as_the_literature_says(scores):
    # Each code is its factor: every supervised score is (close to) its maximum.
    assert scores["mig"]["discrete_mig"] > 0.95
    assert scores["beta_vae"]["eval_accuracy"] == 1.0
    assert scores["factor_vae"]["eval_accuracy"] == 1.0 and scores["factor_vae"]["num_active_dims"] == 3
    assert scores["dci"]["disentanglement"] > 0.95 and scores["dci"]["informativeness_test"] == 1.0
    assert scores["sap"]["SAP_score"] > 0.95  # R² of a code with its own factor is 1, with the others ≈ 0
    assert scores["modularity"]["modularity_score"] > 0.99
    assert scores["irs"]["IRS"] == 1.0 and scores["irs"]["num_active_dims"] == 3
    # independently sampled factors: nearly uncorrelated codes
    assert 0 <= scores["unsupervised"]["gaussian_total_correlation"] < 0.01
    assert 0 <= scores["unsupervised"]["mutual_info_score"] < 0.02


@pytest.mark.slow
def test_the_script_utils_use_disentanglement_lib_layout(scores):
    assert scores["utils"]["shapes"] == [[3, 1000], [3, 1000], [3, 800], [3, 200]]
    assert scores["utils"]["min_label"] == 1  # labels 1 … num_bins
    # a code with its own factor: I(b_k; v_k) = H(v_k)
    assert np.allclose(scores["utils"]["mi_diagonal"], scores["utils"]["entropy"], atol=1e-12)


class Grid(dlib.GroundTruthData):
    num_factors = 2
    factors_num_values = (4, 5)
    observation_shape = (2,)

    def sample_factors(self, num, random_state):
        return np.stack([random_state.randint(n, size=num) for n in self.factors_num_values], axis=1)

    def sample_observations_from_factors(self, factors, random_state):
        # a noisy mixture of the two factors, so the scores are not at their extremes
        factors = np.asarray(factors, dtype=np.float64)
        noise = random_state.normal(size=factors.shape)
        return np.column_stack([factors[:, 0] + 0.5 * factors[:, 1], factors[:, 1]]) + 0.3 * noise


def codes_of(x):
    return np.asarray(x, dtype=np.float64)


def test_scores_equal_refvae_metrics_on_the_same_codes():
    # compute_* draw factors, then observations batch by batch, from the random state, exactly
    # as generate_batch_factor_code does with the same seed and batch size.
    data = Grid()
    codes, factors = dlib.generate_batch_factor_code(data, codes_of, 600, np.random.RandomState(3), 16)
    assert dlib.compute_mig(data, codes_of, np.random.RandomState(3), num_train=600)["discrete_mig"] == (
        metrics.mig(codes.T, factors.T)["mig"]
    )
    assert dlib.compute_irs(data, codes_of, np.random.RandomState(3), num_train=600)["IRS"] == (
        metrics.irs(codes.T, factors.T)["irs"]
    )
    unsupervised = dlib.unsupervised_metrics(data, codes_of, np.random.RandomState(3), num_train=600)
    assert unsupervised["mutual_info_score"] == metrics.code_mutual_info(codes.T)["mutual_info_score"]
    assert unsupervised["gaussian_total_correlation"] == pytest.approx(
        metrics.gaussian_correlation(codes.T)["gaussian_total_correlation"], abs=1e-12
    )


def test_same_random_state_same_scores_and_int_seeds_are_accepted():
    data = Grid()
    first = dlib.compute_factor_vae(data, codes_of, np.random.RandomState(1), batch_size=16, num_train=100,
                                    num_eval=50, num_variance_estimate=300)
    second = dlib.compute_factor_vae(data, codes_of, 1, batch_size=16, num_train=100, num_eval=50,
                                     num_variance_estimate=300)
    assert first == second


def test_install_maps_disentanglement_lib_import_paths_to_the_compat_functions():
    out = subprocess.run(
        [sys.executable, "-c",
         "import sys; from refvae.compat import disentanglement_lib as d; d.install(); "
         "from disentanglement_lib.evaluation.metrics import mig, unsupervised_metrics; "
         "print(mig.compute_mig is d.compute_mig, unsupervised_metrics.unsupervised_metrics is d.unsupervised_metrics, "
         "'tensorflow' in sys.modules)"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert out.split() == ["True", "True", "False"]


def test_bad_inputs_are_refused_with_the_argument_named():
    with pytest.raises(TypeError, match="random_state must be a numpy.random.RandomState"):
        dlib.compute_mig(Grid(), codes_of, np.random.default_rng(0))
    with pytest.raises(TypeError, match="no 'num_factors'"):
        dlib.compute_mig(object(), codes_of, np.random.RandomState(0))
    with pytest.raises(TypeError, match="representation_function must be a callable"):
        dlib.compute_sap(Grid(), "encoder", np.random.RandomState(0))
    with pytest.raises(ValueError, match="shape \\[D, N\\]"):
        dlib.split_train_test(np.arange(10), 0.5)


class IdentityGrid(Grid):
    def sample_observations_from_factors(self, factors, random_state):
        return np.asarray(factors, dtype=np.float64)


def test_factor_vae_pruning_keeps_a_dead_code_out_of_the_votes():
    # Codes (v0, v1, 0). Pruned at 0.05 the two live codes win every vote: accuracy 1.
    # With disentanglement_lib's function default 0 the constant code is kept, its
    # normalised variance 0/0 is NaN, argmin returns it, and it collects every vote: the
    # majority classifier then predicts one factor for all, right for about half (K = 2).
    def with_dead_code(x):
        return np.column_stack([x, np.zeros(len(x))])

    kwargs = dict(batch_size=16, num_train=200, num_eval=200, num_variance_estimate=500)
    pruned = dlib.compute_factor_vae(IdentityGrid(), with_dead_code, np.random.RandomState(0), **kwargs)
    assert pruned["num_active_dims"] == 2 and pruned["eval_accuracy"] == 1.0
    with np.errstate(invalid="ignore"):
        kept = dlib.compute_factor_vae(IdentityGrid(), with_dead_code, np.random.RandomState(0), prune_threshold=0.0,
                                       **kwargs)
    assert kept["num_active_dims"] == 3 and kept["eval_accuracy"] == pytest.approx(0.5, abs=0.1)


def test_points_are_drawn_batch_by_batch_factors_then_observations():
    # disentanglement_lib's order: for each batch, factors then their observations, from one
    # RandomState. Drawing in this order is what makes the codes (and the scores) equal.
    class Recording(IdentityGrid):
        calls = []

        def sample_factors(self, num, random_state):
            self.calls.append(("factors", num))
            return super().sample_factors(num, random_state)

        def sample_observations_from_factors(self, factors, random_state):
            self.calls.append(("observations", len(factors)))
            return super().sample_observations_from_factors(factors, random_state)

    data = Recording()
    dlib.compute_mig(data, codes_of, np.random.RandomState(0), num_train=40, batch_size=16)
    assert data.calls == [("factors", 16), ("observations", 16)] * 2 + [("factors", 8), ("observations", 8)]
    # the factors are the RandomState's first draws: randint(4, size=16) then randint(5, size=16)
    random_state = np.random.RandomState(0)
    first = np.stack([random_state.randint(n, size=16) for n in (4, 5)], axis=1)
    codes, factors = dlib.generate_batch_factor_code(IdentityGrid(), codes_of, 16, np.random.RandomState(0), 16)
    assert np.array_equal(factors.T, first) and np.array_equal(codes.T, first)
