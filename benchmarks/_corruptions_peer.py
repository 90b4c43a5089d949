"""Peer side of the corruption benchmark: run in the ``imagecorruptions`` venv, never in
redline's (it pulls OpenCV and scikit-image).

``python _corruptions_peer.py IN.npy OUT_DIR NAME:SEVERITY:SEED ...`` reads grey images
``(n, h, w)`` in [0, 1] and writes ``OUT_DIR/NAME-SEVERITY-SEED.npy`` (float32, same
shape, in [0, 1]). Every image goes in as ``h x w x 3`` uint8 (the grey channel three
times, ``round(255 x)``) and comes back as channel 0 of the peer's uint8 output (the
channels are identical except for the noises, which draw each channel on its own: one
channel is exactly one grey draw), as ``corrupt()`` returns it (``np.uint8``, truncated):

* ``defocus_blur``, ``motion_blur``, ``elastic_transform``, whose parameters are pixels of
  a 224-pixel image: through the public ``corrupt()`` on a nearest-upsampled 224x224 copy
  (x28 for 8x8, x14 for 16x16), area-averaged back to the image's size;
* the others (per pixel, per 8x8 JPEG block, or a share of the side): the peer's function
  on the image at its own size, because ``corrupt()`` refuses sides below 32 pixels
  although these functions do not depend on the size.

``np.random.seed(SEED)`` before each run (impulse noise draws from scikit-image's own
unseeded generator, so it alone differs between runs). One line per job goes to stdout:
``NAME SEVERITY SEED SECONDS`` (wall time of the corruption calls).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

UPSAMPLED = ("defocus_blur", "motion_blur", "elastic_transform")
REFERENCE_SIDE = 224


def _rgb(image: np.ndarray) -> np.ndarray:
    grey = np.rint(image * 255.0).astype(np.uint8)
    return np.stack([grey] * 3, axis=-1)


def _one(image: np.ndarray, name: str, severity: int) -> np.ndarray:
    import imagecorruptions as ic
    from PIL import Image

    h, w = image.shape
    if name in UPSAMPLED:
        f = REFERENCE_SIDE // min(h, w)
        big = np.repeat(np.repeat(_rgb(image), f, axis=0), f, axis=1)
        out = ic.corrupt(big, severity=severity, corruption_name=name)[..., 0] / 255.0
        return out.reshape(h, f, w, f).mean(axis=(1, 3))
    done = ic.corruption_dict[name](Image.fromarray(_rgb(image)), severity)
    return np.uint8(np.asarray(done))[..., 0] / 255.0


def main(argv: list[str]) -> None:
    """Corrupt the images once per ``NAME:SEVERITY:SEED`` job and save each result."""
    images = np.load(argv[0])
    out_dir = Path(argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    for job in argv[2:]:
        name, severity, seed = job.split(":")
        np.random.seed(int(seed))
        start = time.perf_counter()
        done = np.stack([_one(image, name, int(severity)) for image in images])
        seconds = time.perf_counter() - start
        np.save(out_dir / f"{name}-{severity}-{seed}.npy", done.astype(np.float32))
        print(name, severity, seed, f"{seconds:.4f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
