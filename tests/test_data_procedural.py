"""Procedural ground-truth data: the protocol, dSprites' factor semantics, the colour set."""

import subprocess
import sys

import numpy as np
import pytest
from references import Grid

from refvae.data import dsprites, shapes3d
from refvae.data.dsprites import base_sprites
from refvae.data.shapes import hue_to_rgb


def centroid(image):
    rows, cols = np.nonzero(image[..., 0])
    return rows.mean(), cols.mean()


# --- the protocol --------------------------------------------------------------------

def test_index_is_row_major_with_last_factor_fastest():
    data = Grid()
    assert data.index_of([[0, 0, 1], [0, 1, 0], [1, 0, 0], [2, 3, 4]]).tolist() == [1, 5, 20, 59]
    index = np.arange(data.num_observations)
    assert np.array_equal(data.index_of(data.factors_of(index)), index)


def test_dsprites_index_round_trip_and_official_order(sprites):
    # The official file varies pos_y fastest and shape slowest: shape 1 starts at 245,760.
    assert sprites.index_of([[1, 0, 0, 0, 0], [0, 0, 0, 0, 1]]).tolist() == [245760, 1]
    index = np.random.default_rng(1).integers(0, 737280, 5000)
    assert np.array_equal(sprites.index_of(sprites.factors_of(index)), index)


def test_sample_factors_in_range_uniform_and_seeded(sprites):
    factors = sprites.sample_factors(30000, np.random.default_rng(0))
    assert factors.shape == (30000, 5) and factors.dtype == np.int64
    for k, size in enumerate(sprites.factor_sizes):
        counts = np.bincount(factors[:, k], minlength=size)
        assert len(counts) == size  # no value out of range
        expected = 30000 / size
        # Binomial standard deviation of a count is below sqrt(expected); allow 5 of them.
        assert np.abs(counts - expected).max() < 5 * np.sqrt(expected)
    again = sprites.sample_factors(30000, np.random.default_rng(0))
    assert np.array_equal(factors, again)


def test_sample_returns_rendered_factors(sprites):
    factors, images = sprites.sample(16, np.random.default_rng(3))
    assert np.array_equal(images, sprites.observations_from_factors(factors))


def test_bad_arguments_raise_before_work(sprites):
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="n must be a non-negative int"):
        sprites.sample_factors(-1, rng)
    with pytest.raises(TypeError, match="n must be a non-negative int"):
        sprites.sample_factors(2.5, rng)
    with pytest.raises(TypeError, match="rng must be"):
        sprites.sample_factors(3, "seed")
    with pytest.raises(ValueError, match=r"shape \[n, 5\]"):
        sprites.observations_from_factors(np.zeros((2, 4), dtype=int))
    with pytest.raises(ValueError, match="'orientation'"):
        sprites.observations_from_factors([[0, 0, 40, 0, 0]])
    with pytest.raises(ValueError, match="whole numbers"):
        sprites.observations_from_factors([[0, 0, 0.5, 0, 0]])
    with pytest.raises(ValueError, match="out of range"):
        sprites.factors_of([737280])
    with pytest.raises(ValueError, match="source must be"):
        dsprites(source="offical")
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        sprites.as_tf_dataset(0)


def test_zero_samples_give_empty_arrays(sprites):
    factors, images = sprites.sample(0, np.random.default_rng(0))
    assert factors.shape == (0, 5) and images.shape == (0, 64, 64, 1)


def test_iterate_batches_visits_each_observation_once_in_shuffled_order():
    data = Grid()
    batches = list(data.iterate_batches(7, seed=5, drop_remainder=False))
    seen = np.concatenate([b.reshape(-1) for b in batches]).astype(int)
    assert sorted(seen.tolist()) == list(range(60))
    assert seen.tolist() != list(range(60))
    again = np.concatenate([b.reshape(-1) for b in data.iterate_batches(7, seed=5,
                                                                        drop_remainder=False)])
    assert np.array_equal(seen, again.astype(int))
    assert len(list(data.iterate_batches(7, seed=5))) == 60 // 7  # remainder dropped


def test_as_tf_dataset_batches_match_their_factors(sprites):
    dataset = sprites.as_tf_dataset(32, seed=0, with_factors=True)
    images, factors = next(iter(dataset))
    assert images.shape == (32, 64, 64, 1) and factors.shape == (32, 5)
    assert np.array_equal(images.numpy(), sprites.observations_from_factors(factors.numpy()))


def test_importing_refvae_data_does_not_import_tensorflow():
    code = "import sys, refvae.data; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


# --- dSprites semantics ----------------------------------------------------------------

def test_dsprites_grid_is_the_official_one(sprites):
    assert sprites.factor_names == ("shape", "scale", "orientation", "pos_x", "pos_y")
    assert sprites.factor_sizes == (3, 6, 40, 32, 32)
    assert sprites.num_observations == 737280
    orientation = sprites.factor_values[2]
    assert orientation[0] == 0.0 and orientation[-1] == pytest.approx(2 * np.pi)
    assert sprites.factor_values[1].tolist() == pytest.approx([0.5, 0.6, 0.7, 0.8, 0.9, 1.0])


def test_images_are_binary_float32_and_deterministic(sprites):
    factors = sprites.sample_factors(64, np.random.default_rng(0))
    images = sprites.observations_from_factors(factors)
    assert images.dtype == np.float32 and images.shape == (64, 64, 64, 1)
    assert set(np.unique(images).tolist()) == {0.0, 1.0}
    assert np.array_equal(images, dsprites().observations_from_factors(factors))


def test_centroid_moves_one_pixel_per_position_step(sprites):
    # A heart at scale 0.8, orientation index 7, for every pos_x (and then every pos_y).
    along_x = np.array([[2, 3, 7, i, 10] for i in range(32)])
    along_y = np.array([[2, 3, 7, 10, i] for i in range(32)])
    cx = np.array([centroid(im) for im in sprites.observations_from_factors(along_x)])
    cy = np.array([centroid(im) for im in sprites.observations_from_factors(along_y)])
    np.testing.assert_allclose(np.diff(cx[:, 1]), 1.0)  # column centroid: +1 pixel
    np.testing.assert_allclose(np.diff(cx[:, 0]), 0.0)  # row centroid unchanged
    np.testing.assert_allclose(np.diff(cy[:, 0]), 1.0)  # pos_y moves down one row
    np.testing.assert_allclose(np.diff(cy[:, 1]), 0.0)
    # The object centre sweeps the central region: columns 16..47 (+/- rasterisation).
    assert 14 < cx[0, 1] < 18 and 45 < cx[-1, 1] < 49


def test_area_grows_with_scale_like_scale_squared():
    area = base_sprites().sum(axis=(-1, -2)).astype(float)  # [shape, scale, orientation]
    assert (np.diff(area, axis=1) > 0).all()
    ratio = area[:, -1] / area[:, 0]  # scale 1 vs 0.5: area ratio 4 up to rasterisation
    assert ratio.min() > 3.4 and ratio.max() < 4.6


def test_each_rotation_step_changes_the_image_except_the_full_turn():
    sprites = base_sprites()
    changed = (sprites[:, :, 1:] != sprites[:, :, :-1]).any(axis=(-1, -2))
    assert changed[:, :, :38].all()  # orientation k -> k + 1 (2π/39) always changes pixels
    # Orientations 0 and 2π (index 39) are the same rotation, hence the same image.
    assert np.array_equal(sprites[:, :, 0], sprites[:, :, 39])


def test_orientation_turns_the_ellipse_counter_clockwise(sprites):
    angles = sprites.factor_values[2][:9]  # 0 .. 74 degrees
    images = sprites.observations_from_factors([[1, 5, k, 16, 16] for k in range(9)])
    for image, angle in zip(images, angles):
        rows, cols = np.nonzero(image[..., 0])
        x, y = cols - cols.mean(), -(rows - rows.mean())  # y up
        major = 0.5 * np.arctan2(2 * np.mean(x * y), np.mean(x * x) - np.mean(y * y))
        assert abs(np.rad2deg(major - angle)) < 3.0


def test_shapes_differ_at_equal_other_factors(sprites):
    images = sprites.observations_from_factors([[s, 4, 11, 9, 20] for s in range(3)])
    for a, b in [(0, 1), (0, 2), (1, 2)]:
        assert np.abs(images[a] - images[b]).sum() >= 20


def test_objects_never_touch_the_window_border():
    sprites = base_sprites()
    border = np.concatenate([sprites[..., 0, :], sprites[..., -1, :],
                             sprites[..., :, 0], sprites[..., :, -1]], axis=-1)
    assert border.max() == 0  # so translation never clips an object


# --- the Shapes3D-like colour set ------------------------------------------------------

def test_hue_to_rgb_primary_and_secondary_colours():
    rgb = hue_to_rgb([0.0, 1 / 3, 2 / 3, 0.5, 1 / 6])
    np.testing.assert_allclose(rgb, [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 1, 1], [1, 1, 0]],
                               atol=1e-6)


def test_shapes3d_grid_and_value_range():
    data = shapes3d()
    assert data.factor_names == ("floor_hue", "wall_hue", "object_hue", "scale", "shape",
                                 "orientation")
    assert data.factor_sizes == (10, 10, 10, 8, 4, 15) and data.num_observations == 480000
    factors = data.sample_factors(32, np.random.default_rng(0))
    images = data.observations_from_factors(factors)
    assert images.shape == (32, 64, 64, 3) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert np.array_equal(images, shapes3d().observations_from_factors(factors))


def test_shapes3d_floor_wall_and_object_take_their_hues():
    data = shapes3d()
    image = data.observations_from_factors([[1, 4, 7, 7, 0, 7]])[0]
    palette = hue_to_rgb(np.arange(10) / 10)
    np.testing.assert_allclose(image[62, 2], palette[1], atol=1e-6)  # floor
    np.testing.assert_allclose(image[2, 62], palette[4], atol=1e-6)  # right wall
    np.testing.assert_allclose(image[2, 1], 0.75 * palette[4], atol=1e-6)  # left wall
    np.testing.assert_allclose(image[44, 32], palette[7], atol=1e-6)  # object centre


def test_shapes3d_orientation_moves_the_room_corner_and_scale_grows_the_object():
    data = shapes3d()
    images = data.observations_from_factors([[0, 0, 5, 3, 1, o] for o in (0, 14)])
    # Red wall: left part at value 0.75, right part 1; the corner is the first bright column.
    corners = [int(np.argmax(im[2, :, 0] > 0.9)) for im in images]
    assert corners == [14, 50]
    # A cyan disc (green channel 1) on a red room (green channel 0), scale 0.75 vs 1.25.
    small, large = data.observations_from_factors([[0, 0, 5, 0, 2, 7], [0, 0, 5, 7, 2, 7]])
    area = [im[..., 1].sum() for im in (small, large)]
    assert 2.5 < area[1] / area[0] < 3.1  # (20 / 12)^2 = 2.78 for diameters 12 and 20
