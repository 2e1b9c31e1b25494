"""MirroredStrategy on two logical CPU devices: the TC estimators see the global batch.

Each replica encodes half of the batch; the codes are gathered before q(z) is estimated,
so the loss (and every term) equals the single-device value on the same global batch, and
after a few optimiser steps the weights agree too. z is the posterior mean in this test
(the replicas draw their own noise, which a single device draws differently), so the
comparison is exact up to float32 rounding.
"""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from refvae import latents, train

    latents.DiagonalGaussian.sample = lambda self, posterior, seed=None: posterior.loc
    out = sys.argv[1]
    results = {}
    for strategy in ("default", "mirrored"):
        config = train.TrainConfig(model="beta-tcvae", beta=4.0, data="digits", steps=4, batch_size=32, latent_dim=4,
                                   out=f"{out}/{strategy}", checkpoint_every=4, log_every=1, seed=1, strategy=strategy)
        model = train.train(config, progress=False)
        history = train.read_history(config.out)
        results[strategy] = {
            "replicas": train.make_strategy(strategy).num_replicas_in_sync,
            "loss": history["loss"].tolist(),
            "total_correlation": history["total_correlation"].tolist(),
            "weights": float(sum(np.abs(w).sum() for w in model.get_weights())),
            "first_kernel": model.get_weights()[0].ravel()[:50].tolist(),
        }
    print(json.dumps(results))
    """
)


def test_mirrored_loss_and_steps_equal_single_device_on_the_same_global_batch(tmp_path):
    import json

    import numpy as np

    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = json.loads(result.stdout.strip().splitlines()[-1])
    assert runs["default"]["replicas"] == 1 and runs["mirrored"]["replicas"] == 2
    np.testing.assert_allclose(runs["mirrored"]["loss"][0], runs["default"]["loss"][0], rtol=1e-5)
    np.testing.assert_allclose(runs["mirrored"]["total_correlation"], runs["default"]["total_correlation"], atol=1e-4)
    np.testing.assert_allclose(runs["mirrored"]["loss"], runs["default"]["loss"], rtol=1e-5)
    np.testing.assert_allclose(runs["mirrored"]["first_kernel"], runs["default"]["first_kernel"], rtol=1e-4, atol=1e-6)


def test_batch_that_does_not_split_across_replicas_is_refused(tmp_path):
    script = SCRIPT.split("from refvae import latents, train")[0] + textwrap.dedent(
        """
        from refvae import train
        config = train.TrainConfig(data="digits", batch_size=33, out=sys.argv[1] + "/x", strategy="mirrored")
        try:
            train.train(config, progress=False)
        except ValueError as error:
            print(error)
        """
    )
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True)
    assert "--batch-size 33 must be a multiple of the 2 replicas" in result.stdout, result.stderr[-2000:]
