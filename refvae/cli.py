"""The ``refvae`` command (also ``python -m refvae``).

Subcommands are added as the parts they drive land; ``refvae --help`` lists exactly the
ones that exist.
"""

import argparse
import sys


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
    return parser


def _version():
    import refvae

    return f"refvae {refvae.__version__}"


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 2
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
