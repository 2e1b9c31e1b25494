"""The ``refvae`` command (also ``python -m refvae``).

Subcommands are added as the parts they drive land; ``refvae --help`` lists exactly the
ones that exist.
"""

import argparse
import contextlib
import os
import pathlib
import re
import sys
import threading
import warnings

# TensorFlow's C++ start-up lines (CUDA stubs and factories, the CPU-feature and oneDNN notices,
# absl's pre-initialisation notice). C++ writes them to file descriptor 2 at import and at the
# first op, some before TF_CPP_MIN_LOG_LEVEL is read, so no environment variable silences them
# all; the command line drops them (``_StartupLineFilter``). REFVAE_SHOW_TF_STARTUP=1 keeps them.
TF_STARTUP_LINES = re.compile(
    r"cudart_stub|cuda_(?:dnn|fft|blas|driver|executor|diagnostics)\.cc|Unable to register cu(?:DNN|FFT|BLAS) "
    r"factory|failed call to cuInit|Could not find cuda drivers|TF-TRT Warning|absl::InitializeLog\(\)|"
    r"oneDNN custom operations are on|cpu_feature_guard\.cc|rebuild TensorFlow with the appropriate compiler flags|"
    r"Cannot dlopen some GPU libraries|computation_placer\.cc|Skipping registering GPU devices"
)


class _StartupLineFilter:
    """While active, the process's file descriptor 2 is a pipe read by a thread that forwards
    every line to the real standard error except those ``pattern`` matches.

    Python's ``sys.stderr`` writes to descriptor 2 too, so warnings and error messages still
    arrive, in order; a line redrawn with carriage returns (a progress bar) is passed on at once.
    """

    def __init__(self, pattern=TF_STARTUP_LINES):
        self.pattern = pattern
        self.saved = None

    def __enter__(self):
        try:
            sys.stderr.flush()
            self.saved = os.dup(2)
            read, write = os.pipe()
        except OSError:  # no descriptor 2 to filter (a detached process)
            self.saved = None
            return self
        os.dup2(write, 2)
        os.close(write)
        self.thread = threading.Thread(target=self._forward, args=(read,), daemon=True)
        self.thread.start()
        return self

    def _keep(self, line):
        return not self.pattern.search(line.decode("utf-8", "replace"))

    def _write(self, data):
        while data:
            data = data[os.write(self.saved, data):]

    def _forward(self, read):
        pending = b""
        while True:
            chunk = os.read(read, 65536)
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            out = b"".join(line + b"\n" for line in lines if self._keep(line))
            if b"\r" in pending:
                cut = pending.rindex(b"\r") + 1
                out, pending = out + pending[:cut], pending[cut:]
            if out:
                self._write(out)
        if pending and self._keep(pending):
            self._write(pending)
        os.close(read)

    def __exit__(self, *exc_info):
        if self.saved is None:
            return False
        sys.stderr.flush()
        os.dup2(self.saved, 2)  # closes the pipe's last writer: the thread reads to its end
        self.thread.join(timeout=5)
        if not self.thread.is_alive():  # else a child process still holds the pipe: keep its target
            os.close(self.saved)
        self.saved = None
        return False


def _uses_tensorflow(args):
    return args.command in ("train", "evaluate", "demo") or (args.command == "info" and not args.no_tensorflow)


def _info(args):
    """Print the versions refvae runs on and the devices TensorFlow sees."""
    import refvae

    print(f"refvae {refvae.__version__}")
    print(f"python {sys.version.split()[0]}")
    if args.no_tensorflow:
        return 0
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf
    import tensorflow_probability as tfp

    print(f"tensorflow {tf.__version__} | keras {keras.__version__} | tensorflow-probability {tfp.__version__}")
    gpus = tf.config.list_physical_devices("GPU")
    print(f"GPUs: {len(gpus)}" + (" (" + ", ".join(gpu.name for gpu in gpus) + ")" if gpus else ""))
    return 0


def _add_train_options(parser):
    from refvae import train

    defaults = train.TrainConfig()
    parser.add_argument("--config", help="read the options from a config file (JSON or TOML, the keys of "
                                          "config.json); flags given too override it")
    parser.add_argument("--preset", choices=list(train.PRESETS),
                        help="start from a named setting (flags and --config override it): recipe (the default: what the "
                             "recipe study found fastest on CPU), 001 (001's MLP, batch 2048, MWS, 18,000 steps), "
                             "disentanglement-lib (conv 32-32-64-64, batch 64, Adam 1e-4, 300,000 steps)")
    parser.add_argument("--model", choices=list(train.MODELS), metavar="MODEL",
                        help=f"the model (default {defaults.model}); each takes only its own options: {_model_options()}")
    parser.add_argument("--data", choices=list(train.DATASETS), help=f"data set (default {defaults.data}: procedural, offline)")
    parser.add_argument("--steps", type=int, help=f"optimiser steps (default {defaults.steps})")
    parser.add_argument("--batch-size", type=int, help=f"batch size (default {defaults.batch_size})")
    parser.add_argument("--estimator", choices=list(train.ESTIMATORS), help=f"q(z) estimator (default {defaults.estimator})")
    parser.add_argument("--seed", type=int, help="seed of weights, batches and samples (default 0)")
    parser.add_argument("--out", help=f"run directory (default {defaults.out})")
    parser.add_argument("--latent-dim", type=int, help=f"latent dimensions (default {defaults.latent_dim})")
    parser.add_argument("--learning-rate", type=float, help=f"Adam step size (default {defaults.learning_rate})")
    parser.add_argument("--checkpoint-every", type=int, help=f"steps between checkpoints (default {defaults.checkpoint_every})")
    parser.add_argument("--log-every", type=int, help=f"steps between history rows (default {defaults.log_every})")
    for name, meaning in (("alpha", "index-code MI weight (beta-tcvae, hfvae)"),
                          ("beta", "KL / TC weight (beta-vae, beta-tcvae, hfvae, rtc)"),
                          ("gamma", "dimension-wise KL (beta-tcvae), within-group TC (hfvae), capacity weight, "
                                    "or the discriminator's TC weight (factor-vae; default 10)"),
                          ("eta", "posterior-variance penalty (rtc; factor-vae: 004's RTC-VAE trained with the "
                                  "discriminator's TC, default 0)"),
                          ("lam", "anchor weight (anchor-vae), marginal-KL weight (info-vae), MI-bound weight "
                                  "(infomax; default 1) or the top KL taken off, in [0, 1] (hierarchical; default 0)"),
                          ("capacity", "final capacity C in nats (capacity)"),
                          ("lambda-od", "off-diagonal covariance weight (dip-vae)")):
        parser.add_argument(f"--{name}", type=float, help=meaning)
    parser.add_argument("--anchors", help="comma-separated anchor dimensions (anchor-vae; default 0)")
    parser.add_argument("--architecture", choices=list(train.ARCHITECTURES),
                        help="encoder/decoder (default auto: conv for 64x64 images, an MLP otherwise)")
    parser.add_argument("--hidden", help="comma-separated dense widths, e.g. 1200,1200 for 001's dSprites MLP "
                                         "(default: the architecture's)")
    parser.add_argument("--filters", help="comma-separated filters of the four stride-2 conv layers "
                                          "(default 32,32,64,64, disentanglement_lib's encoder)")
    parser.add_argument("--discriminator-learning-rate", type=float,
                        help="Adam step size of the discriminator (factor-vae; default 1e-4)")
    parser.add_argument("--discriminator-hidden", help="comma-separated widths of the discriminator's hidden layers "
                                                       "(factor-vae; default six of 1000, Kim & Mnih's)")
    parser.add_argument("--num-classes", type=int,
                        help="categories K of the categorical code: infomax's Concrete unit, hierarchical's z2 "
                             f"(default {train.DEFAULT_NUM_CLASSES})")
    parser.add_argument("--top-hidden", help="comma-separated widths between z1 and z2 (hierarchical; default "
                                             "32,32,16,16; --hidden: between x and z1, default 512,512; "
                                             "--latent-dim: the width of z1)")
    parser.add_argument("--strategy", choices=list(train.STRATEGIES),
                        help="default: one device; mirrored: tf.distribute.MirroredStrategy over the local devices, "
                             "with the TC estimators on the global batch")


def _model_options():
    """"vae (none), beta-vae (--beta), ...": every model of ``train.MODELS`` with its options."""
    from refvae import train

    return ", ".join(f"{name} ({' '.join('--' + o.replace('_', '-') for o in options) or 'none'})"
                     for name, (_, options) in train.MODELS.items())


def _integers(text, option):
    """``"1,2,3"`` -> (1, 2, 3); ValueError naming ``option`` otherwise."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"{option} must be comma-separated integers, got {text!r}") from None


def _train_config(args):
    from refvae import train

    values = dict(train.PRESETS[args.preset]) if getattr(args, "preset", None) else {}
    if args.config:
        train.TrainConfig.load(args.config)           # refuses a bad file, naming it
        values.update(train.TrainConfig.read_values(args.config))
    if getattr(args, "filters", None) and (args.architecture or values.get("architecture")) == "mlp":
        raise ValueError("--filters applies to the conv architecture, not --architecture mlp")
    for field in train.TrainConfig.__dataclass_fields__:
        value = getattr(args, field, None)
        if value is not None:
            values[field] = value
    for key in train.LIST_OPTIONS:
        if isinstance(values.get(key), str):
            values[key] = _integers(values[key], f"--{key}")
    return train.TrainConfig.from_dict(values).validate()


def _train(args):
    from refvae import train

    if args.resume:
        config = _resume_config(args)
    else:
        config = _train_config(args)
    train.train(config, resume=bool(args.resume))
    print(f"run written to {config.out}")
    return 0


def _resume_config(args):
    """The saved config of ``--resume RUN_DIR``, with ``--steps`` (the one flag it takes) applied."""
    from refvae import train

    given = [f"--{field.replace('_', '-')}" for field in ("config", *train.TrainConfig.__dataclass_fields__)
             if field != "steps" and getattr(args, field, None) is not None]
    if given:
        raise ValueError(f"--resume continues RUN_DIR with the options of its config.json; only --steps may be "
                         f"given with it, not {', '.join(given)}")
    if not (pathlib.Path(args.resume) / "config.json").is_file():
        raise ValueError(f"--resume: {args.resume} holds no run (no config.json)")
    config = train.TrainConfig.load(args.resume)
    if args.steps is not None:
        config.steps = args.steps
    config.out = args.resume
    return config.validate()


def _evaluate(args):
    from refvae import evaluate

    names = evaluate.check_metrics(args.metrics.split(","))
    subgrid = _integers(args.subgrid, "--subgrid") if args.subgrid else None
    results = evaluate.evaluate(args.run_dir, names, seed=args.seed, num_points=args.num_points,
                                report=not args.no_report, subgrid=subgrid)
    for name, value in results["summary"].items():
        print(f"{name}: {value:.4f}")
    print(f"metrics: {args.run_dir}/metrics.json" + ("" if args.no_report else f" | report: {args.run_dir}/report.html"))
    return 0


DEMO_MODELS = ("beta-tcvae", "beta-vae")


def _demo(args):
    """Train β-TCVAE and β-VAE at the same β for each seed, evaluate both, print what the run shows."""
    from refvae import evaluate, train

    seeds = _integers(args.seeds, "--seeds")
    if any(seed < 0 for seed in seeds) or len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds must be distinct non-negative integers, got {args.seeds!r}")
    evaluate.check_num_points(args.num_points)
    preset = dict(train.PRESETS[args.preset])
    preset_steps = preset.pop("steps")
    steps = preset_steps if args.steps is None else args.steps
    configs = {(seed, model): train.TrainConfig(
        **preset, model=model, data="dsprites", steps=steps, beta=args.beta, seed=seed,
        out=f"{args.out}/seed{seed}/{model}", checkpoint_every=max(1, steps // 4), log_every=max(1, steps // 40),
    ).validate() for seed in seeds for model in DEMO_MODELS}
    names = train.load_data("dsprites").factor_names
    scores = {}
    for (seed, model), config in configs.items():
        print(f"== seed {seed}: training {model} (beta={args.beta:g}, preset {args.preset}: batch {config.batch_size}, "
              f"{config.architecture} net, lr {config.learning_rate:g}) on procedural dSprites for {steps} steps",
              flush=True)
        _, seconds = train.timed(train.train, config, resume=(pathlib.Path(config.out) / "config.json").exists())
        results = evaluate.evaluate(config.out, ("mig", "mi"), seed=0, num_points=args.num_points)
        scores[seed, model] = results["mig"]
        print(f"   {seconds / 60:.1f} min; MIG {results['mig']['mig']:.3f}; report: {config.out}/report.html", flush=True)
    print(f"\nHistogram MIG (disentanglement_lib: mean codes, {args.num_points} points, 20 bins), beta = {args.beta:g}:")
    print("seed  " + "  ".join(f"{model:>10s}" for model in DEMO_MODELS) + "   per-factor gaps of beta-tcvae ("
          + ", ".join(names) + ")")
    for seed in seeds:
        gaps = ", ".join(f"{gap:.2f}" for gap in scores[seed, "beta-tcvae"]["per_factor"])
        print(f"{seed:4d}  " + "  ".join(f"{scores[seed, m]['mig']:10.3f}" for m in DEMO_MODELS) + f"   ({gaps})")
    print(evaluate.comparison_sentence([scores[s, "beta-tcvae"]["mig"] for s in seeds],
                                       [scores[s, "beta-vae"]["mig"] for s in seeds]))
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="refvae",
        description="Reference VAEs and disentanglement: estimators, objectives, metrics and the course.",
    )
    parser.add_argument("--version", action="version", version=_version())
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = subcommands.add_parser("info", help="print versions and the devices TensorFlow sees")
    info.add_argument("--no-tensorflow", action="store_true", help="do not import TensorFlow (versions of refvae and Python only)")
    info.set_defaults(handler=_info)

    train_parser = subcommands.add_parser(
        "train", help="train a model; checkpoints, history and TensorBoard scalars in --out",
        description="Train one objective of the catalogue. An interrupted run continues with --resume RUN_DIR.")
    _add_train_options(train_parser)
    train_parser.add_argument("--resume", metavar="RUN_DIR",
                              help="continue the run in RUN_DIR from its newest checkpoint (--steps may raise the total)")
    train_parser.set_defaults(handler=_train)

    from refvae import evaluate, train

    evaluate_parser = subcommands.add_parser(
        "evaluate", help="score a trained run; writes metrics.json and report.html",
        description="Score RUN_DIR/model.keras on fresh samples of its data set.")
    evaluate_parser.add_argument("run_dir", metavar="RUN_DIR")
    evaluate_parser.add_argument("--metrics", default=",".join(evaluate.DEFAULT_METRICS),
                                 help=f"comma-separated subset of {','.join(evaluate.METRICS)} (default %(default)s)")
    evaluate_parser.add_argument("--num-points", type=int, default=10000,
                                 help="points sampled per metric (default %(default)s, the literature's)")
    evaluate_parser.add_argument("--seed", type=int, default=0, help="seed of the metric samples (default 0)")
    evaluate_parser.add_argument("--subgrid", help="mig-sampled on every k-th value of each factor, e.g. 1,1,4,4,4 "
                                                   "(11,520 of dSprites' 737,280 points; default: the whole grid)")
    evaluate_parser.add_argument("--no-report", action="store_true", help="write metrics.json only")
    evaluate_parser.set_defaults(handler=_evaluate)

    demo = subcommands.add_parser(
        "demo", help="train a beta-TCVAE and a beta-VAE on procedural dSprites, evaluate both, print the two MIGs",
        description="Train beta-TCVAE and beta-VAE at the same beta with the training recipe (or a paper's preset), "
                    "evaluate both, write a report for each and print the MIGs and what they show.")
    demo.add_argument("--preset", choices=list(train.PRESETS), default="recipe",
                      help="training setting (default %(default)s: the recipe study's, minutes on 2 CPU cores)")
    demo.add_argument("--steps", type=int, help="steps per model (default: the preset's)")
    demo.add_argument("--beta", type=float, default=6.0, help="beta of both models (default %(default)s)")
    demo.add_argument("--num-points", type=int, default=10000, help="points per metric (default %(default)s)")
    demo.add_argument("--seeds", default="0", help="comma-separated seeds, e.g. 0,1,2,3,4 (default %(default)s)")
    demo.add_argument("--out", default="runs/demo", help="where the runs go: OUT/seedS/MODEL (default %(default)s)")
    demo.set_defaults(handler=_demo)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """refvae's own warnings as one plain line (no source line), on a line of its own even when a
    progress bar (which ends its lines with a carriage return only) is being drawn; others as
    Python shows them."""
    if category.__module__.startswith("refvae"):
        sys.stdout.flush()
        print(f"\nrefvae: warning: {message}", file=sys.stderr, flush=True)
    else:
        print(warnings.formatwarning(message, category, filename, lineno, line), file=sys.stderr, end="")


def _version():
    import refvae

    return f"refvae {refvae.__version__}"


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 2
    quiet = _uses_tensorflow(args) and os.environ.get("REFVAE_SHOW_TF_STARTUP") != "1"
    with _StartupLineFilter() if quiet else contextlib.nullcontext():
        try:
            with warnings.catch_warnings():
                warnings.showwarning = _show_warning
                return args.handler(args)
        except _clear_errors() as error:
            parser.exit(2, f"refvae {args.command}: error: {error}\n")


def _clear_errors():
    """The errors whose message says what to fix: printed without a traceback, exit status 2."""
    from refvae.data import DownloadError
    from refvae.train import NonFiniteLoss

    # OSError subclasses that name the path they failed on (FileNotFoundError: a missing
    # file; PermissionError: a file or folder made read-only while the command ran)
    return (ValueError, TypeError, FileNotFoundError, PermissionError, NotADirectoryError, IsADirectoryError,
            FileExistsError, DownloadError, NonFiniteLoss)


if __name__ == "__main__":
    sys.exit(main())
