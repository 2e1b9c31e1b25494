"""The registries: one table of models (refvae.runs.registry) and one of metrics
(refvae.metrics.registry) that the command line, the configuration, the factory, evaluate and
the studies all read."""

import json
import math

import numpy as np
import pytest

from refvae import cli, data, evaluate, runs
from refvae.metrics import registry as metric_registry
from refvae.runs import registry


@pytest.mark.slow
def test_every_model_of_the_registry_builds_from_its_entry_and_follows_the_protocol():
    from refvae.models.protocol import RunModel

    digits = data.load("digits")
    for name, spec in registry.MODELS.items():
        config = runs.RunConfig.create(model=name, data="digits", latent_dim=3, hidden=(8,),
                                       **({"discriminator_hidden": (8,)} if name == "factor-vae" else {}),
                                       **({"top_hidden": (4,)} if name == "hierarchical" else {}))
        model = runs.build_model(config, digits)
        assert isinstance(model, RunModel), name
        assert model.code_size == 3 and model.observation_shape == (8, 8, 1), name
        x = digits.observations_from_factors(np.arange(4)[:, None])
        assert tuple(model.code_posterior(x).loc.shape) == (4, 3), name
        assert np.asarray(model.decode_code(np.zeros((2, 3), np.float32), like=x[:1])).shape == (2, 8, 8, 1), name
        assert set(model.checkpoint_objects()) >= {"model", "optimizer", "sampling_state"}, name
        assert spec.sweep is None or spec.sweep in spec.option_names, name


def test_an_option_is_checked_by_its_entry_with_its_name_and_range():
    spec = registry.get("capacity")
    assert spec.option_names == ("capacity", "gamma", "anneal_steps")
    with pytest.raises(runs.ConfigError, match=r"anneal_steps must be an integer >= 1, got 0"):
        spec.check({"anneal_steps": 0})
    with pytest.raises(runs.ConfigError, match="anneal_steps must be an integer >= 1, got 2.5"):
        spec.check({"anneal_steps": 2.5})
    with pytest.raises(runs.ConfigError, match=r"lam must be a number in \[0, 1\], got 1.5"):
        registry.get("anchor-vae").check({"lam": 1.5})
    assert registry.get("dip-vae").name == "dip-vae-i"          # the old name is an alias


@pytest.mark.parametrize("value, message", [
    (float("inf"), "float32 can hold"), (3.5e38, "float32 can hold"), (1e-39, "is 0 in float32"),
    (True, "got bool True"), ("4", "got str '4'"),
])
def test_a_weight_float32_cannot_carry_is_refused(value, message):
    with pytest.raises(runs.ConfigError, match=message):
        registry.get("beta-vae").check({"beta": value})


def test_the_help_of_an_option_is_its_entries_meaning_for_every_model_that_takes_it():
    text = cli._option_help("gamma")
    for model in ("capacity", "beta-tcvae", "factor-vae", "hfvae"):
        assert f"{model}: {registry.get(model).option('gamma').help}" in text
    assert "default 1000" in text and "default 10" in text


@pytest.mark.slow
def test_dip_vae_ii_is_trained_by_its_registry_entry(tmp_path):
    """DIP-VAE-II (Kumar et al. 2018) came in as one registry entry: from the command line it trains,
    and the penalty it logs is Kumar et al.'s on Cov_q(z) = Cov[mu] + E[diag sigma^2] (divisor B)."""
    run = tmp_path / "dip"
    argv = ["train", "--model", "dip-vae-ii", "--lambda-od", "5", "--data", "digits", "--steps", "4",
            "--batch-size", "32", "--latent-dim", "3", "--hidden", "16", "--log-every", "1", "--checkpoint-every", "4",
            "--out", str(run)]
    assert cli.main(argv) == 0
    saved = json.loads((run / "config.json").read_text())
    assert (saved["model"], saved["lambda_od"]) == ("dip-vae-ii", 5.0)
    model = runs.load_model(run)
    x = runs.batch_at(data.load("digits"), runs.RunConfig.load(run), 0)
    terms, _ = model.compute_terms(x, seed=0)
    posterior = model.posterior(x)
    loc, variance = np.asarray(posterior.loc, np.float64), np.asarray(posterior.scale, np.float64) ** 2
    covariance = np.cov(loc, rowvar=False, bias=True) + np.diag(variance.mean(axis=0))
    off_diagonal = (covariance ** 2).sum() - (np.diag(covariance) ** 2).sum()
    assert float(terms["dip_ii_off_diagonal"]) == pytest.approx(off_diagonal, rel=1e-4)
    assert float(terms["dip_ii_diagonal"]) == pytest.approx(((np.diag(covariance) - 1) ** 2).sum(), rel=1e-4)
    # the objective weighs them by lambda_od and lambda_d = lambda_od (the default of DIP-VAE-II)
    assert model.objective.weights["dip_ii_off_diagonal"] == 5.0 and model.objective.weights["dip_ii_diagonal"] == 5.0


def test_metric_registry_lists_every_metric_once_with_a_headline_key():
    names = metric_registry.names()
    assert names[:2] == ("mig", "mig-sampled") and len(set(names)) == len(names) == 12
    for name in names:
        spec = metric_registry.get(name)
        assert spec.name == name and spec.headline and callable(spec.compute)


def test_metrics_undefined_on_one_factor_data_are_left_out_of_the_defaults_and_refused_by_name():
    digits = data.load("digits")
    assert digits.factor_sizes == (10,)
    defaults = metric_registry.default_names(digits.factor_sizes)
    for name in ("beta-vae", "factor-vae", "dci", "modularity"):
        assert name not in defaults
        reason = metric_registry.undefined_reason(metric_registry.get(name), digits.factor_sizes)
        assert "at least 2 ground-truth factors and the data has 1" in reason
        with pytest.raises(ValueError, match=f"metrics {name}: the metric is undefined on data digits"):
            evaluate.check_defined([name], digits, "digits")
    assert {"mig", "sap", "irs", "tc", "mi"} <= set(defaults)
    dsprites = data.load("dsprites")
    assert set(metric_registry.default_names(dsprites.factor_sizes)) == set(names_by_default())


def names_by_default():
    return [name for name in metric_registry.names() if metric_registry.get(name).by_default]


def test_the_fast_grid_of_the_sampled_mig_halves_the_largest_factor_until_it_fits():
    dsprites = data.load("dsprites")
    evaluation = metric_registry.Evaluation(dsprites, None, None)
    steps = evaluation.grid_steps()
    assert steps == (1, 1, 4, 4, 4)
    kept = [math.ceil(size / step) for size, step in zip(dsprites.factor_sizes, steps)]
    assert math.prod(kept) == 11_520 <= metric_registry.GRID_LIMIT
    assert metric_registry.Evaluation(dsprites, None, None, profile="disentanglement-lib").grid_steps() == (1,) * 5
