"""Seconds of every metric of a run's evaluation, in the fast profile against disentanglement_lib's.

``refvae evaluate`` with every metric on a β-TCVAE of the recipe: each metric's seconds and
headline value in the ``fast`` profile (the observations encoded once into shared pools) and,
with ``--profiles fast,disentanglement-lib``, in disentanglement_lib's sizes, with the ratio of
the totals. Without ``--run`` the script first trains the demo's β-TCVAE (the recipe, about 3
minutes on 2 quiet cores) into a temporary folder.

    python benchmarks/bench_evaluate.py --run runs/demo/seed0/beta-tcvae
    python benchmarks/bench_evaluate.py --run RUN --profiles fast,disentanglement-lib   # 15 minutes
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a trained run directory (default: train the recipe's beta-TCVAE first)")
    parser.add_argument("--profiles", default="fast")
    parser.add_argument("--metrics", default=None, help="comma-separated (default: every metric defined on the data)")
    args = parser.parse_args(argv)

    from refvae import data, evaluate, runs
    from refvae.metrics import registry

    with tempfile.TemporaryDirectory() as scratch:
        run = args.run
        if run is None:
            run = os.path.join(scratch, "beta-tcvae")
            start = time.perf_counter()
            runs.train(runs.RunConfig.create(model="beta-tcvae", beta=6.0, out=run), progress=False)
            print(f"trained the recipe's beta-TCVAE in {time.perf_counter() - start:.0f} s")
        config = runs.RunConfig.load(run)
        dataset = data.load(config.data)
        model = runs.load_model(run)
        names = args.metrics.split(",") if args.metrics else [
            name for name in registry.names()
            if registry.undefined_reason(registry.get(name), dataset.factor_sizes) is None]
        totals = {}
        for profile in args.profiles.split(","):
            start = time.perf_counter()
            results = evaluate.compute_metrics(model, dataset, names, profile=profile)
            totals[profile] = time.perf_counter() - start
            print(f"\n{profile}: {totals[profile]:.1f} s for {len(names)} metrics")
            for name in names:
                value = evaluate.headline({name: results[name]}).get(name)
                print(f"  {name:22s} {results[name]['seconds']:7.1f} s   {value:.4f}")
        if len(totals) == 2:
            fast, slow = totals.get("fast"), totals.get("disentanglement-lib")
            print(f"\ndisentanglement-lib / fast: {slow / fast:.1f}x")


if __name__ == "__main__":
    main()
