"""MirroredStrategy on two logical CPU devices: every model trains on the global batch.

Each replica encodes half of the batch; the codes are gathered before anything that looks
across the batch (the q(z) estimators, FactorVAE's permutation of the codes, InfoMax's H(ẑ),
the hierarchical model's q(z2)), and every optimiser steps on 1/R of the replicas' summed
gradients (``refvae.models.steps.gradient_step``). So the loss (and every term) equals the
single-device value on the same global batch, and after a few optimiser steps every weight
of every network agrees too. z is the posterior mean (the Concrete code: the softmax of its
logits at the temperature) in this test, since the replicas draw their own noise, which a
single device draws differently; the comparison is then exact up to float32 rounding.
"""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

# Every test here trains models, runs experiments or starts processes that import TensorFlow.
pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from refvae import latents, runs

    latents.DiagonalGaussian.sample = lambda self, posterior, seed=None: posterior.loc
    latents.Concrete.sample = lambda self, posterior, seed=None: tf.nn.softmax(posterior.logits / posterior.temperature)
    out, options = sys.argv[1], json.loads(sys.argv[2])
    results, weights = {}, {}
    for strategy in ("default", "mirrored"):
        config = runs.RunConfig.create(data="digits", steps=4, batch_size=32, latent_dim=4, out=f"{out}/{strategy}",
                                   checkpoint_every=4, log_every=1, seed=1, strategy=strategy, **options)
        model = runs.train(config, progress=False)
        history = runs.read_history(config.out)
        results[strategy] = {
            "replicas": runs.make_strategy(strategy).num_replicas_in_sync,
            "history": {name: values.tolist() for name, values in history.items()},
        }
        weights[strategy] = model.get_weights()
    single, mirrored = weights["default"], weights["mirrored"]
    results["num_weights"] = [len(single), len(mirrored)]
    # per array: max |mirrored - single|, and max(|mirrored - single| - 1e-4 |single|)
    results["max_difference"] = max(float(np.abs(a - b).max()) for a, b in zip(mirrored, single))
    results["excess"] = max(float((np.abs(a - b) - 1e-4 * np.abs(b)).max()) for a, b in zip(mirrored, single))
    print(json.dumps(results))
    """
)

MODELS = {
    "beta-tcvae": dict(model="beta-tcvae", beta=4.0),
    "factor-vae": dict(model="factor-vae", gamma=10.0, eta=1.0, discriminator_learning_rate=1e-3,
                       discriminator_hidden=(32, 32)),
    "infomax": dict(model="infomax", lam=5.0, num_classes=4, hidden=(32,)),
    "hierarchical": dict(model="hierarchical", num_classes=4, hidden=(32,), top_hidden=(8,)),
}


def _runs(tmp_path, options):
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), json.dumps(options)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", list(MODELS))
def test_mirrored_loss_and_steps_equal_single_device_on_the_same_global_batch(tmp_path, name):
    both = _runs(tmp_path, MODELS[name])
    single, mirrored = both["default"], both["mirrored"]
    assert single["replicas"] == 1 and mirrored["replicas"] == 2
    # every logged term of the 4 steps (loss, TC estimates, discriminator / Q losses, ...)
    assert sorted(mirrored["history"]) == sorted(single["history"])
    for term, values in single["history"].items():
        np.testing.assert_allclose(mirrored["history"][term], values, rtol=1e-5, atol=1e-5, err_msg=term)
    # every weight of every network (encoder, decoder, discriminator, Q, both hierarchical
    # layers) after 4 steps: |mirrored − single| <= 1e-6 + 1e-4 |single|
    assert both["num_weights"][0] == both["num_weights"][1]
    assert both["excess"] <= 1e-6, both["max_difference"]


def test_batch_that_does_not_split_across_replicas_is_refused(tmp_path):
    script = SCRIPT.split("from refvae import latents, runs")[0] + textwrap.dedent(
        """
        from refvae import runs
        config = runs.RunConfig.create(data="digits", batch_size=33, out=sys.argv[1] + "/x", strategy="mirrored")
        try:
            runs.train(config, progress=False)
        except ValueError as error:
            print(error)
        """
    )
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True)
    assert "batch_size 33 must be a multiple of the 2 replicas" in result.stdout, result.stderr[-2000:]
