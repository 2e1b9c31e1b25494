"""Tests of refvae.models.anchor: AnchorVAE's information ranking and the sampling comparison."""

import keras
import numpy as np
import pytest

from refvae import data, latents, objectives
from refvae.models import VAE, networks
from refvae.models.anchor import (
    DigitsScorer,
    anchor_ranking,
    compare_sampling,
    dimwise_mutual_information,
    frechet_distance,
)

DIGITS = data.digits()


def test_anchor_ranking_reports_ranks_and_gap():
    result = anchor_ranking([0.5, 2.0, 0.1, 3.0], [1, 3])
    assert result["anchors_are_top"] and result["ranks"] == [1, 0]
    assert result["best_other_mi"] == 0.5 and result["gap"] == pytest.approx(1.5)
    result = anchor_ranking([0.5, 2.0, 0.1, 3.0], [0, 3])
    assert not result["anchors_are_top"] and result["ranks"] == [2, 0] and result["gap"] == pytest.approx(-1.5)
    with pytest.raises(ValueError, match="anchors must be distinct"):
        anchor_ranking([1.0, 2.0], [2])


def test_frechet_distance_matches_the_gaussian_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20000, 2))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    # N(0, I) vs N(μ, 4I) in 2-D: ‖μ‖² + tr(I + 4I − 2·2I) = ‖μ‖² + 2
    b = 2.0 * rng.normal(size=(20000, 2)) + [1.0, 2.0]
    assert frechet_distance(a, b) == pytest.approx(5.0 + 2.0, rel=0.03)
    with pytest.raises(ValueError, match="same F"):
        frechet_distance(a, b[:, :1])


def test_an_unfitted_scorer_says_fit_first():
    from refvae.metrics.sample_quality import DigitsScorer as Scorer

    unfitted, images = Scorer(), np.zeros((2, 8, 8, 1))
    scores = (lambda: unfitted.accuracy(images, [0, 1]), lambda: unfitted.confidence(images),
              lambda: unfitted.features(images), lambda: unfitted.frechet_distance(images, images))
    for score in scores:
        with pytest.raises(ValueError, match="not fitted: call fit"):
            score()


@pytest.fixture(scope="module")
def scorer():
    return DigitsScorer(hidden=32).fit(DIGITS.x_train, DIGITS.y_train)


@pytest.mark.slow
def test_frechet_distance_tells_noise_from_digits_where_confidence_does_not(scorer):
    assert scorer.accuracy(DIGITS.x_test, DIGITS.y_test) > 0.9
    assert scorer.confidence(DIGITS.x_test) > 0.9
    # An over-confident classifier: uniform noise also gets a high top probability (> 0.8),
    # so confidence alone cannot rank generators; the feature statistics can.
    noise = np.random.default_rng(0).uniform(size=(300, 8, 8, 1))
    assert scorer.confidence(noise) > 0.8
    assert scorer.frechet_distance(DIGITS.x_test, DIGITS.x_train) < 0.2 * scorer.frechet_distance(noise, DIGITS.x_train)


def _train(objective, seed, epochs):
    keras.utils.set_random_seed(seed)
    latent = latents.DiagonalGaussian(6)
    encoder, decoder = networks.build("mlp", (8, 8, 1), latent, hidden=(64, 64))
    model = VAE(encoder, decoder, latent, "bernoulli", objective, dataset_size=len(DIGITS.x_train),
                decomposition="kl", seed=seed)
    model.compile(keras.optimizers.Adam(3e-3))
    model.fit(DIGITS.x_train, batch_size=64, epochs=epochs, verbose=0)
    return model


@pytest.mark.slow
def test_anchored_units_carry_the_most_information_after_training():
    # 000 Fig 4: KL weight 1 − λ = 0.2 on units 0 and 1 makes them the most informative.
    model = _train(objectives.get("anchor-vae", lam=0.8, anchors=[0, 1]), seed=0, epochs=6)
    ranking = anchor_ranking(dimwise_mutual_information(model, DIGITS.x_train)["mutual_info"], [0, 1])
    assert ranking["anchors_are_top"], ranking
    assert ranking["gap"] > 0.1


@pytest.mark.slow
def test_compare_sampling_scores_both_sources_against_real_digits(scorer):
    model = _train("vae", seed=0, epochs=1)
    result = compare_sampling(model, scorer, DIGITS.x_test, num_samples=300, seed=0)
    assert set(result) == {"reference", "prior", "marginals"}
    for source in ("prior", "marginals"):
        assert 0.1 <= result[source]["confidence"] <= 1.0 and result[source]["frechet_distance"] > 0.0
    assert result["reference"]["confidence"] > max(result["prior"]["confidence"], result["marginals"]["confidence"])
    again = compare_sampling(model, scorer, DIGITS.x_test, num_samples=300, seed=0)
    assert again["marginals"] == result["marginals"]
