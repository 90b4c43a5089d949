"""Example thumbnails: bounds respected, perturbation amplified, bad shapes refused."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from redline.errors import InputError
from redline.reports._images import example_views, image_uri, perturbation_uri
from redline.results import ScanResult


def _decode(uri: str) -> Image.Image:
    assert uri.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def test_image_uses_target_bounds() -> None:
    x = np.array([[[-1.0, 1.0], [0.0, 0.5]]])
    img = _decode(image_uri(x, (-1.0, 1.0))).convert("L")
    assert img.size == (88, 88)
    assert [img.getpixel((0, 0)), img.getpixel((44, 0)), img.getpixel((0, 44))] == [0, 255, 128]


def test_rgb_and_large_images() -> None:
    rgb = np.zeros((3, 4, 4))
    rgb[0] = 1.0
    img = _decode(image_uri(rgb, (0.0, 1.0)))
    assert img.mode == "RGB" and img.getpixel((0, 0)) == (255, 0, 0)
    big = _decode(image_uri(np.random.default_rng(0).uniform(size=(1, 300, 150)), (0.0, 1.0)))
    assert big.size == (44, 88)


def test_perturbation_is_amplified() -> None:
    delta = np.zeros((1, 2, 2))
    delta[0, 0, 0], delta[0, 1, 1] = 0.01, -0.005
    uri, scale = perturbation_uri(delta)
    assert scale == pytest.approx(0.01)
    img = _decode(uri).convert("RGB")
    red, blue, zero = img.getpixel((0, 0)), img.getpixel((87, 87)), img.getpixel((87, 0))
    assert red[0] > red[2] and blue[2] > blue[0]  # sign shown as red / blue
    assert min(zero) > 240  # zero is white
    assert _decode(perturbation_uri(np.zeros((1, 2, 2)))[0]).size == (88, 88)


def test_views_carry_captions(image_result: ScanResult) -> None:
    views = example_views(image_result)
    assert len(views) == len(image_result.examples)
    first, ex = views[0], image_result.examples[0]
    assert (first.label, first.adv_pred, first.attack) == (
        str(ex.label),
        str(ex.adv_pred),
        ex.attack,
    )
    assert first.scale == pytest.approx(ex.distance)


@pytest.mark.parametrize("bad", [[1.0, 2.0], [[[[0.0]]]], [[0.0, 1.0], [0.0]]])
def test_bad_image_shapes_raise(image_result: ScanResult, bad: list[object]) -> None:
    ex = image_result.examples[0].model_copy(update={"clean": bad, "adversarial": bad})
    with pytest.raises(InputError, match="example of sample"):
        example_views(image_result.model_copy(update={"examples": [ex]}))


def test_shape_mismatch_raises(image_result: ScanResult) -> None:
    ex = image_result.examples[0].model_copy(update={"adversarial": [[[0.0]]]})
    with pytest.raises(InputError, match="differ in shape"):
        example_views(image_result.model_copy(update={"examples": [ex]}))
