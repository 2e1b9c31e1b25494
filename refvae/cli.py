"""The ``refvae`` command (also ``python -m refvae``).

Subcommands are added as the parts they drive land; ``refvae --help`` lists exactly the
ones that exist.
"""

import argparse
import contextlib
import os
import re
import sys
import threading
import time
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
        assert self.saved is not None
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
    return args.command in ("train", "evaluate", "demo", "study") or (args.command == "info" and not args.no_tensorflow)


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


def _flag(option):
    """The command-line flag of a configuration key: ``batch_size`` -> ``--batch-size``."""
    return "--" + option.replace("_", "-")


def _option_help(name):
    """The help of a hyperparameter flag: its meaning for each model that takes it."""
    from refvae.runs import registry

    uses = [f"{spec.name}: {option.help}" + ("" if option.default is None else f", default {_shown(option.default)}")
            for spec, option in registry.options_named(name)]
    return "; ".join(uses)


def _shown(value):
    return ",".join(map(str, value)) if isinstance(value, tuple) else f"{value:g}" if isinstance(value, float) else value


def _add_train_options(parser):
    from refvae import data
    from refvae.runs import config as run_config
    from refvae.runs import registry

    defaults = run_config.RunConfig()
    models = ", ".join(f"{spec.name} ({' '.join(_flag(o) for o in spec.option_names) or 'none'})"
                       for spec in registry.MODELS.values())
    parser.add_argument("--config", help="read the options from a config file (JSON or TOML, the keys of "
                                          "config.json); flags given too override it")
    parser.add_argument("--preset", choices=list(run_config.PRESETS),
                        help="start from a named setting (flags and --config override it): recipe (the default: what the "
                             "recipe study found fastest on CPU), 001 (001's MLP, batch 2048, MWS, 18,000 steps), "
                             "disentanglement-lib (conv 32-32-64-64, batch 64, Adam 1e-4, 300,000 steps)")
    parser.add_argument("--model", choices=[*registry.MODELS, *registry.ALIASES], metavar="MODEL",
                        help=f"the model (default {defaults.model}); each takes only its own options: {models}")
    parser.add_argument("--data", choices=list(data.NAMES), help=f"data set (default {defaults.data}: procedural, offline)")
    parser.add_argument("--steps", type=int, help=f"optimiser steps (default {defaults.steps})")
    parser.add_argument("--batch-size", type=int, help=f"batch size (default {defaults.batch_size})")
    parser.add_argument("--estimator", choices=list(run_config.ESTIMATORS),
                        help=f"q(z) estimator (default {defaults.estimator})")
    parser.add_argument("--seed", type=int, help=f"seed of weights, batches and samples, 0 ... {run_config.MAX_SEED} "
                                                 "(default 0)")
    parser.add_argument("--out", help=f"run directory: new or empty (default {defaults.out})")
    parser.add_argument("--latent-dim", type=int, help=f"latent dimensions (default {defaults.latent_dim})")
    parser.add_argument("--learning-rate", type=float, help=f"Adam step size (default {defaults.learning_rate})")
    parser.add_argument("--checkpoint-every", type=int,
                        help=f"steps between checkpoints (default {defaults.checkpoint_every})")
    parser.add_argument("--log-every", type=int, help=f"steps between history rows (default {defaults.log_every})")
    for name in registry.option_names():
        kinds = {option.kind for _, option in registry.options_named(name)}
        kind = {"float": float, "int": int}.get(next(iter(kinds))) if len(kinds) == 1 else None
        parser.add_argument(_flag(name), type=kind, help=_option_help(name) + (
            " (comma-separated)" if kind is None else ""))
    parser.add_argument("--architecture", choices=list(run_config.ARCHITECTURES),
                        help="encoder/decoder (default auto: conv for 64x64 images, an MLP otherwise)")
    parser.add_argument("--hidden", help="comma-separated dense widths, e.g. 1200,1200 for 001's dSprites MLP "
                                         "(default: the architecture's)")
    parser.add_argument("--filters", help="comma-separated filters of the four stride-2 conv layers "
                                          f"(default {_shown(defaults.filters)}, the recipe's)")
    parser.add_argument("--strategy", choices=list(run_config.STRATEGIES),
                        help="default: one device; mirrored: tf.distribute.MirroredStrategy over the local devices, "
                             "with the TC estimators on the global batch")


def _integers(text, option):
    """``"1,2,3"`` -> (1, 2, 3); ValueError naming ``option`` otherwise."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"{option} must be comma-separated integers, got {text!r}") from None


def _list_options():
    """The options that hold a list of integers ("1200,1200" on the command line)."""
    from refvae.runs import registry

    listed = {name for name in registry.option_names()
              if {option.kind for _, option in registry.options_named(name)} & {"ints", "dims"}}
    return ("hidden", "filters", *sorted(listed))


def _train_config(args):
    """The RunConfig of ``refvae train``'s flags: the preset, then --config, then the flags."""
    from refvae import runs

    values = dict(runs.PRESETS[args.preset]) if getattr(args, "preset", None) else {}
    if args.config:
        values.update(_with_lists(runs.read_values(args.config)))
        try:
            runs.RunConfig.from_dict(values)             # a bad file is refused naming it
        except runs.ConfigError as error:
            raise runs.ConfigError(error.option, f"{error.reason} (in {args.config})") from None
    if getattr(args, "filters", None) and (args.architecture or values.get("architecture")) == "mlp":
        raise ValueError("--filters applies to the conv architecture, not --architecture mlp")
    for key in _given_options(args):
        values[key] = getattr(args, key)
    return runs.RunConfig.from_dict(_with_lists(values))


def _with_lists(values):
    """``values`` with the list options given as text ("1200,1200") parsed as the flags are."""
    return {key: _integers(value, _flag(key)) if key in _list_options() and isinstance(value, str) else value
            for key, value in values.items()}


def _given_options(args):
    """The configuration keys the command line set."""
    from refvae import runs

    keys = [field for field in runs.RunConfig.__dataclass_fields__ if field != "hyperparameters"]
    keys += list(runs.registry.option_names())
    return [key for key in keys if getattr(args, key, None) is not None]


def _train(args):
    from refvae import runs

    config = _resume_config(args) if args.resume else _train_config(args)
    runs.train(config, resume=bool(args.resume))
    print(f"run written to {config.out}")
    return 0


def _resume_config(args):
    """The saved config of ``--resume RUN_DIR``, with ``--steps`` (the one flag it takes) applied."""
    from refvae import runs

    given = [_flag(key) for key in ("config", *_given_options(args)) if key != "steps" and getattr(args, key, None)
             is not None]
    if given:
        raise ValueError(f"--resume continues RUN_DIR with the options of its config.json; only --steps may be "
                         f"given with it, not {', '.join(given)}")
    directory = runs.RunDirectory(args.resume)
    config = directory.prepare_resume() if not directory.is_run() else directory.read_config()
    return config.replace(out=args.resume, **({} if args.steps is None else {"steps": args.steps}))


def _evaluate(args):
    from refvae import evaluate

    names = evaluate.check_metrics(args.metrics.split(",")) if args.metrics else None
    subgrid = _integers(args.subgrid, "--subgrid") if args.subgrid else None
    results = evaluate.evaluate(args.run_dir, names, seed=args.seed, num_points=args.num_points,
                                report=not args.no_report, subgrid=subgrid, profile=args.metrics_profile)
    for name, value in results["summary"].items():
        print(f"{name}: {value:.4f}")
    print(f"metrics: {args.run_dir}/metrics.json" + ("" if args.no_report else f" | report: {args.run_dir}/report.html"))
    return 0


DEMO_MODELS = ("beta-tcvae", "beta-vae")


def _demo(args):
    """Train β-TCVAE and β-VAE at the same β for each seed, evaluate both, print what the run shows."""
    from refvae import data, evaluate, runs

    seeds = _integers(args.seeds, "--seeds")
    if any(seed < 0 for seed in seeds) or len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds must be distinct non-negative integers, got {args.seeds!r}")
    evaluate.check_num_points(args.num_points)
    preset = dict(runs.PRESETS[args.preset])
    steps = preset.pop("steps") if args.steps is None else args.steps
    preset.pop("steps", None)
    configs = {(seed, model): runs.RunConfig.from_dict({
        **preset, "model": model, "data": "dsprites", "steps": steps, "beta": args.beta, "seed": seed,
        "out": f"{args.out}/seed{seed}/{model}", "checkpoint_every": max(1, steps // 4), "log_every": max(1, steps // 40),
    }) for seed in seeds for model in DEMO_MODELS}
    for config in configs.values():
        runs.RunDirectory(config.out).check_location()
    names = data.load("dsprites").factor_names
    scores = {}
    for (seed, model), config in configs.items():
        print(f"== seed {seed}: training {model} (beta={args.beta:g}, preset {args.preset}: batch {config.batch_size}, "
              f"{config.architecture} net, lr {config.learning_rate:g}) on procedural dSprites for {steps} steps",
              flush=True)
        directory = runs.RunDirectory(config.out)
        start = time.perf_counter()
        runs.train(config, resume=directory.is_run() and bool(directory.checkpoint_steps()))  # a rerun continues
        seconds = time.perf_counter() - start
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


def _study_run(args):
    """``refvae study run``: write the study (or check the written one) and run its trials on Ray Tune."""
    from refvae.studies import runner

    if args.out and args.resume:
        raise ValueError("give --out DIR for a new study or --resume DIR for one that was started, not both")
    if not (args.out or args.resume):
        raise ValueError("give --out DIR (a new study) or --resume DIR (a study that was started)")
    if args.out and args.study is None:
        raise ValueError("STUDY.toml is needed with --out (the study to run)")
    _require_study_extra()
    study_dir = args.resume or args.out
    study = runner.prepare(args.study, study_dir, resume=bool(args.resume))
    runner.run_study(study, study_dir, address=args.address, log=lambda line: print(line, flush=True))
    print(f"table: {study_dir}/results.csv | figures: refvae study report {study_dir}")
    return 0


def _study_report(args):
    from refvae.studies import report

    summary = report.write_report(args.study_dir)
    print(f"{summary['done']} of {summary['trials']} trials done ({summary['failed']} failed); "
          f"figures and summary.json in {args.study_dir}/report/")
    for share_metric, shares in summary["variance_shares"].items():
        print(f"{share_metric:22s} variance from objective {shares['objective']:.2f}, hyperparameter "
              f"{shares['hyperparameter']:.2f}, seed {shares['seed']:.2f}")
    return 0


def _require_study_extra():
    import importlib.util

    missing = [name for name in ("ray", "pandas") if importlib.util.find_spec(name) is None]
    if missing:
        raise ValueError(f"refvae study needs {' and '.join(missing)}: pip install \"refvae[study]\"")


def build_parser() -> argparse.ArgumentParser:
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
        description="Train one model of the registry. An interrupted run continues with --resume RUN_DIR.")
    _add_train_options(train_parser)
    train_parser.add_argument("--resume", metavar="RUN_DIR",
                              help="continue the run in RUN_DIR from its newest checkpoint (--steps may raise the total)")
    train_parser.set_defaults(handler=_train)

    from refvae.metrics import registry as metric_registry
    from refvae.runs import PRESETS

    evaluate_parser = subcommands.add_parser(
        "evaluate", help="score a trained run; writes metrics.json and report.html",
        description="Score RUN_DIR/model.keras on fresh samples of its data set.")
    evaluate_parser.add_argument("run_dir", metavar="RUN_DIR")
    evaluate_parser.add_argument("--metrics", help=f"comma-separated subset of {','.join(metric_registry.names())} "
                                                   "(default: every default metric defined on the run's data set)")
    evaluate_parser.add_argument("--metrics-profile", choices=list(metric_registry.PROFILES), default="fast",
                                 help="fast (default: observations encoded once into shared pools, about a minute a "
                                      "run) or disentanglement-lib (each metric samples its own points at the "
                                      "literature's sizes, the whole grid for mig-sampled)")
    evaluate_parser.add_argument("--num-points", type=int,
                                 help="training points per metric, test points half of it (default 10000, the "
                                      "literature's)")
    evaluate_parser.add_argument("--seed", type=int, default=0, help="seed of the metric samples (default 0)")
    evaluate_parser.add_argument("--subgrid", help="mig-sampled on every k-th value of each factor, e.g. 1,1,4,4,4 "
                                                   "(11,520 of dSprites' 737,280 points; default: the profile's)")
    evaluate_parser.add_argument("--no-report", action="store_true", help="write metrics.json only")
    evaluate_parser.set_defaults(handler=_evaluate)

    demo = subcommands.add_parser(
        "demo", help="train a beta-TCVAE and a beta-VAE on procedural dSprites, evaluate both, print the two MIGs",
        description="Train beta-TCVAE and beta-VAE at the same beta with the training recipe (or a paper's preset), "
                    "evaluate both, write a report for each and print the MIGs and what they show.")
    demo.add_argument("--preset", choices=list(PRESETS), default="recipe",
                      help="training setting (default %(default)s: the recipe study's, minutes on 2 CPU cores)")
    demo.add_argument("--steps", type=int, help="steps per model (default: the preset's)")
    demo.add_argument("--beta", type=float, default=6.0, help="beta of both models (default %(default)s)")
    demo.add_argument("--num-points", type=int, default=10000, help="points per metric (default %(default)s)")
    demo.add_argument("--seeds", default="0", help="comma-separated seeds, e.g. 0,1,2,3,4 (default %(default)s)")
    demo.add_argument("--out", default="runs/demo", help="where the runs go: OUT/seedS/MODEL (default %(default)s)")
    demo.set_defaults(handler=_demo)

    study = subcommands.add_parser(
        "study", help="train and score many models (objectives x hyperparameters x seeds) on Ray Tune",
        description="Studies of many models: run a grid declared in a TOML file on Ray Tune (locally, or on a "
                    "cluster with --address), then draw Locatello et al. 2019's analyses from its table.")
    study_commands = study.add_subparsers(dest="study_command", metavar="STUDY_COMMAND", required=True)
    run = study_commands.add_parser("run", help="run a study (or finish one with --resume)",
                                    description="Run every trial of STUDY.toml; each trial is one run directory "
                                                "under DIR/trials, its row in DIR/results.csv.")
    run.add_argument("study", metavar="STUDY.toml", nargs="?", help="the study (not needed with --resume)")
    run.add_argument("--out", metavar="DIR", help="a new or empty folder for the study")
    run.add_argument("--resume", metavar="DIR", help="finish the study in DIR (its grid must be unchanged)")
    run.add_argument("--address", help="a running Ray cluster: auto, or ray://HOST:10001 (default: Ray inside "
                                       "this process, with this machine's cores)")
    run.set_defaults(handler=_study_run)
    report = study_commands.add_parser("report", help="figures and numbers from a study's table",
                                       description="Each metric against each hyperparameter, the rank correlation "
                                                   "of the metrics, the variance from objective, hyperparameter "
                                                   "and seed, and MIG against beta, in DIR/report/.")
    report.add_argument("study_dir", metavar="DIR")
    report.set_defaults(handler=_study_report)
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


def main(argv: list[str] | None = None) -> int:
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
        except KeyboardInterrupt as error:
            message = str(error) if str(error) else "interrupted"
            parser.exit(130, f"\nrefvae {args.command}: {message}\n")
        except _clear_errors() as error:
            parser.exit(2, f"refvae {args.command}: error: {_message(error, args)}\n")


def _message(error, args):
    """The one line a user reads for ``error``: a configuration key as its flag, a run directory
    as the option or argument that named it."""
    from refvae.runs import ConfigError, RunDirectoryError

    if isinstance(error, ConfigError):
        if error.option == "config":
            return str(error)
        return f"{_flag(error.option)} {error.reason}"
    if isinstance(error, RunDirectoryError):
        named = {"train": "--resume" if getattr(args, "resume", None) else "--out", "evaluate": "RUN_DIR",
                 "demo": "--out"}.get(args.command, "")
        return f"{named} {error}".strip()
    return str(error)


def _clear_errors():
    """The errors whose message says what to fix: printed without a traceback, exit status 2."""
    from refvae.data import DownloadError
    from refvae.runs import NonFiniteLoss, WriteError

    # OSError subclasses that name the path they failed on (FileNotFoundError: a missing
    # file; PermissionError: a file or folder made read-only while the command ran)
    return (ValueError, TypeError, FileNotFoundError, PermissionError, NotADirectoryError, IsADirectoryError,
            FileExistsError, DownloadError, NonFiniteLoss, WriteError)


if __name__ == "__main__":
    sys.exit(main())
