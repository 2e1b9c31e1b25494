"""Every chapter's GPU branch at its full shapes, for two training steps on CPU.

A chapter picks the size of its run in the code cell after its GPU check: the smallest under
test (``REFVAE_FAST=1``), larger on CPU, the papers' sizes when a GPU is found. The notebook
tests never take the GPU branch, so a shape or memory error there would first show on a
student's Colab runtime. Here each chapter's size cell runs with ``GPU = True`` and
``FAST = False``; the chapter's own model-building and training code is then taken from the
notebook (the top-level statements that bind the names a plan lists, in notebook order, so
nothing is copied) and run on CPU with the GPU's model and batch sizes, capped to two training
steps and small sample counts. MNIST, the GPU data set of chapters 02, 03, 09 and 10, is
replaced by random binary images of its shape, so the test is offline.

A chapter whose GPU branch changes no shape that training sees (only steps, seeds or sample
counts) is listed with the reason, and the test checks that reason against its size cell.
"""

import ast
import json
import pathlib
import time

import numpy as np
import pytest

# Full-size models on CPU: part of `make test`, not of the quick `make unit`.
pytestmark = pytest.mark.slow

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
GPU_CHECK = 'GPU = bool(tf.config.list_physical_devices("GPU"))'


def _code_cells(chapter):
    (path,) = NOTEBOOKS.glob(f"{chapter}_*.ipynb")
    cells = json.loads(path.read_text())["cells"]
    return path.name, ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]


def _bound_names(statement):
    """Names a top-level statement binds: a function or class its name, an import its alias, an assignment (also
    inside if / for / with / try) its targets; not the local names of a function body, lambda or comprehension."""
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {statement.name}
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return {(alias.asname or alias.name).split(".")[0] for alias in statement.names}
    names, todo = set(), [statement]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif node is not statement and isinstance(node, ast.stmt):
            names |= _bound_names(node)
            continue
        if not isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            todo.extend(ast.iter_child_nodes(node))
    return names


class Chapter:
    """A chapter's namespace after its size cell ran in GPU mode; statements of the notebook run in it."""

    def __init__(self, chapter, gpu=True):
        self.name, self.cells = _code_cells(chapter)
        check = [i for i, cell in enumerate(self.cells) if GPU_CHECK in cell]
        assert len(check) == 1, f"{self.name}: no single cell with {GPU_CHECK!r}"
        self.size_cell = self.cells[check[0] + 1]
        self.namespace = {"__name__": "__chapter__"}
        exec(self.cells[check[0]], self.namespace)
        self.namespace.update(FAST=not gpu, GPU=gpu)
        exec(self.size_cell, self.namespace)

    def __getitem__(self, name):
        return self.namespace[name]

    def set(self, **values):
        """Cap steps and sample counts (never a model or batch size) after the size cell."""
        missing = [name for name in values if name not in self.namespace]
        assert not missing, f"{self.name}: the size cell no longer defines {missing}"
        self.namespace.update(values)

    def statements(self):
        for source in self.cells:
            try:
                tree = ast.parse(source)
            except SyntaxError:         # the Colab install cell (%pip)
                continue
            for statement in tree.body:
                yield statement, ast.get_source_segment(source, statement)

    def take(self, *names):
        """Run, in notebook order, the first top-level statement that binds each name."""
        chosen, wanted = [], set(names)
        for statement, source in self.statements():
            bound = _bound_names(statement) & wanted
            if bound:
                chosen.append(source)
                wanted -= bound
        assert not wanted, f"{self.name} no longer binds {sorted(wanted)} at the top level"
        for source in chosen:
            exec(source, self.namespace)

    def run_cell(self, marker):
        """Run the one code cell that contains ``marker``."""
        cells = [cell for cell in self.cells if marker in cell]
        assert len(cells) == 1, f"{self.name}: {len(cells)} code cells contain {marker!r}"
        exec(cells[0], self.namespace)


@pytest.fixture
def fake_mnist(monkeypatch):
    """refvae.data.mnist() without a download: random binary images of MNIST's shape, 28 x 28 x 1."""
    import refvae.data

    def mnist(directory=None):
        rng = np.random.default_rng(0)
        images = (rng.random((160, 28, 28, 1)) < 0.2).astype(np.float32)
        labels = np.arange(160) % 10
        return refvae.data.LabelledImages(images[:128], labels[:128], images[128:], labels[128:], scale=1.0,
                                          name="MNIST-shaped noise")

    monkeypatch.setattr(refvae.data, "mnist", mnist)


@pytest.fixture(autouse=True)
def _quiet_figures(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setattr(plt, "show", lambda *args, **kwargs: plt.close("all"))


# --- chapters whose GPU branch changes no shape that training sees ---------------------------------------

NO_SHAPE_CHANGE = {
    "01": "no GPU branch: the EM iterations depend on fast mode only",
    "06": "the model, batch and estimator come from the training preset in every mode; the GPU branch adds steps, "
          "seeds and metric samples (the sampled MIG is chunked, refvae.metrics.mig_sampled)",
    "12": "no GPU branch: the chapter trains nothing (its codes are built from the factors, its trained models are read "
          "from the study table shipped in refvae.course); fast mode alone sets its sample sizes",
}


def test_chapter_01_has_no_gpu_branch():
    name, cells = _code_cells("01")
    check = [i for i, cell in enumerate(cells) if GPU_CHECK in cell]
    assert len(check) == 1 and "GPU" not in cells[check[0] + 1], f"{name} has a GPU branch now: give it a smoke plan"


def test_chapter_12_has_no_gpu_branch_and_trains_nothing():
    name, cells = _code_cells("12")
    check = [i for i, cell in enumerate(cells) if GPU_CHECK in cell]
    assert len(check) == 1 and "GPU" not in cells[check[0] + 1], f"{name} has a GPU branch now: give it a smoke plan"
    training = [marker for marker in ("runs.fit(", "runs.train(", "train_step", ".fit(model") if any(marker in cell for cell in cells)]
    assert not training, f"{name} trains a model now ({training}): give it a smoke plan"
    assert any("refvae.course.study_table(" in cell for cell in cells)


def test_chapter_06_gpu_branch_trains_the_fast_mode_shapes():
    gpu, fast = Chapter("06"), Chapter("06", gpu=False)
    assert gpu["PRESET"] == fast["PRESET"] and gpu["SETTINGS"] == fast["SETTINGS"]
    assert gpu["STEPS"] > fast["STEPS"] and len(gpu["SEEDS"]) > len(fast["SEEDS"])


# --- the chapters with a GPU shape: plans ------------------------------------------------------------------


def smoke_00(chapter):
    chapter.run_cell("kl_closed = normal_kl(")
    chapter.run_cell("samples = q.sample(NUM_SAMPLES")
    chapter.run_cell("running_mean = np.cumsum(log_ratio) / n")
    assert chapter["NUM_SAMPLES"] == 10_000_000 and chapter["log_ratio"].shape == (10_000_000,)


def smoke_02(chapter):
    chapter.set(TRAIN_STEPS=2, LOG_EVERY=2)
    chapter.take("digits")
    chapter.run_cell("model = refvae.models.VAE(")
    assert chapter["DATASET"] == "mnist" and chapter["model"].encoder.input_shape[1:] == (28, 28, 1)
    assert len(chapter["history"]["elbo"]) == 1


def smoke_03(chapter):
    chapter.set(BETAS=chapter["BETAS"][-1:], TRAIN_STEPS=2, LOG_EVERY=2, ANNEAL_STEPS=1)
    chapter.take("digits")
    chapter.run_cell("def train(objective):")
    # the last beta, the capacity run and the beta-VAE at the capacity's beta_C trained beside it
    assert chapter["DATASET"] == "mnist" and len(chapter["plane"]) == 3
    assert all(np.isfinite(value).all() for value in chapter["plane"].values())


def smoke_04(chapter):
    chapter.run_cell("x = load_digits().data[:N_DATA]")
    chapter.run_cell("log_q_pairwise = log_normal(")        # the exact [N, N, D] tensor; the cell asserts its checks
    assert chapter["N_DATA"] == 1000 and chapter["log_q_pairwise"].shape == (1000, 1000, chapter["LATENT_DIM"])


def smoke_05(chapter):
    # the largest batch at D = 10 through MSS1 (every method runs the same chunked pairwise tensor, [B, B, D])
    chapter.take("tfp", "tfd", "equicorrelated", "data_set", "sample_batch", "estimate_tc")
    batch, dim = max(chapter["BATCH_SIZES"]), 10
    means = chapter["data_set"](chapter["equicorrelated"](dim))           # the materialised N = 100,000
    z, posterior = chapter["sample_batch"](means, batch, 0)
    assert batch == 4096 and means.shape == (100_000, dim)
    assert np.isfinite(chapter["estimate_tc"](z, posterior, "mss1"))


def smoke_07(chapter):
    chapter.set(GAMMAS=chapter["GAMMAS"][-1:], STEPS=2, LOG_EVERY=2)
    chapter.take("data", "view", "train_batches", "build_factor_vae", "runs", "start", "history")
    model = chapter["runs"][chapter["GAMMAS"][0]]["model"]
    assert chapter["VIEW"] == 64 and model.encoder.input_shape[1:] == (64, 64, 1)


def smoke_08(chapter):
    chapter.set(DIGIT_STEPS=2)
    chapter.take("digits", "x_digits", "digit_batches", "train_hfvae")
    model, log = chapter["train_hfvae"](max(chapter["DIGIT_BETAS"]))
    assert chapter["DIGIT_BATCH"] == 256 and np.isfinite(log["elbo"])


def smoke_09(chapter):
    chapter.set(EPOCHS_STACKED=1)
    chapter.take("digits", "images", "x_train", "y_train", "data_entropy", "train_stacked")
    model = chapter["train_stacked"](chapter["LAM_STACKED"])
    assert chapter["DATASET"] == "mnist" and chapter["Z1_DIM"] == 64
    assert np.isfinite(model.layer_bounds(chapter["x_train"], batch_size=64)["elbo"])


def smoke_10(chapter):
    chapter.set(EPOCHS=1)
    chapter.take("digits", "images", "x_train", "latent", "train_infomax")
    model, history = chapter["train_infomax"](chapter["LAM"])
    assert chapter["DATASET"] == "mnist" and np.isfinite(history["elbo"]).all()


def smoke_11(chapter):
    chapter.set(STEPS=2, N_EVAL=256)
    chapter.take("data", "downscale", "rng", "train_batches", "x_eval", "train")
    model, log = chapter["train"]("RTC-VAE", max(chapter["BETAS"]), steps=2)   # 004's discriminator RTC-VAE
    assert chapter["BATCH"] == 2048 and chapter["VIEW"] == 64 and np.isfinite(log["elbo"])
    assert model.discriminator.count_params() > 5_000_000                     # six layers of 1000 on a GPU


def smoke_13(chapter):
    chapter.run_cell("def training_footprint(")          # asserts the estimate stays within a T4's margins
    chapter.set(STEPS=2)
    chapter.take("data", "render", "held_out_batch", "train_model")
    footprint = chapter["footprint"]
    for dataset in (chapter["data"], __import__("refvae").data.held_out(chapter["data"], {"shape": 2, "scale": [4, 5]})):
        start = time.perf_counter()
        model, terms = chapter["train_model"](dataset)
        print(f"13 beta-TCVAE: 2 steps of batch {chapter['BATCH']} in {time.perf_counter() - start:.1f} s on CPU")
        assert np.isfinite(terms["elbo"])
        # the estimate's weight count is the model's own
        assert model.encoder.count_params() + model.decoder.count_params() == footprint["vae_weights"]
        assert model.encoder.input_shape[1:] == (64, 64, 1)
    assert chapter["BATCH"] == 2048 and chapter["HIDDEN"] == (1200, 1200) and footprint["memory_gb"] < 15 / 4


SMOKE = {name[len("smoke_"):]: plan for name, plan in dict(globals()).items() if name.startswith("smoke_")}


def test_every_chapter_has_a_plan():
    chapters = sorted(path.name[:2] for path in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    assert chapters == sorted({*SMOKE, *NO_SHAPE_CHANGE}), "a chapter needs a GPU smoke plan or a stated reason"


@pytest.mark.parametrize("chapter", sorted(SMOKE))
def test_gpu_branch_runs_at_full_shape_on_cpu(chapter, fake_mnist):
    SMOKE[chapter](Chapter(chapter))
