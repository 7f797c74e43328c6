"""Golden values for anomflow's KMeansAD, COPOD and ECOD from their reference
implementations, written to ``tests/models/golden_baselines.json`` (inputs included).

Run with the peers environment (``make peers``) and TSB-AD's package unpacked (its wheel
from PyPI, ``pip download --no-deps TSB-AD``, unzipped; only its KMeansAD is imported):

    .venv-peers/bin/python benchmarks/peers/golden_baselines.py --tsb-ad /tmp/tsbad

* COPOD / ECOD: PyOD fitted on the training rows; each new row scored alone by
  ``decision_function`` (PyOD ranks the rows it scores together with the training rows, so
  one row at a time is the causal score anomflow computes). The script checks that no new
  row flips a sensor's skewness sign, where anomflow's training-only skewness would differ.
* KMeansAD: TSB-AD's class (``normalize=True``, stride 1) fitted on the training series
  with ``random_state`` set; the distance of each test window to its nearest centre, i.e.
  TSB-AD's scores before they are spread over the window's rows.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[2] / "tests" / "models" / "golden_baselines.json"
SEED, K, WINDOW = 3, 4, 5


def inputs() -> tuple[np.ndarray, np.ndarray]:
    """Training rows (300, 3): right-skewed, left-skewed, log-normal; new rows (24, 3)
    spanning both tails, ties with training values included."""
    rng = np.random.default_rng(20261206)
    train = np.column_stack([rng.exponential(1.0, 300), -rng.exponential(2.0, 300), rng.lognormal(0.0, 0.5, 300)]).round(3)
    new = np.column_stack([rng.uniform(-3, 8, 24), rng.uniform(-12, 2, 24), rng.uniform(0, 5, 24)]).round(3)
    new[:4] = train[[0, 1, 2, 3]]  # ties with the training values
    new[4] = [20.0, -30.0, 10.0]
    new[5] = [-5.0, 5.0, -1.0]
    return train, new


def pyod_scores(name: str, train: np.ndarray, new: np.ndarray) -> list[float]:
    from scipy.stats import skew

    module = __import__(f"pyod.models.{name.lower()}", fromlist=[name])
    detector = getattr(module, name)().fit(train)
    signs = np.sign(skew(train, axis=0))
    out = []
    for row in new:
        if not np.array_equal(np.sign(skew(np.vstack([train, row]), axis=0)), signs):
            raise SystemExit(f"row {row} flips a skewness sign: choose other inputs")
        out.append(float(detector.decision_function(row[None, :])[0]))
    return out


def kmeans_ad_scores(tsb_ad: Path, train: np.ndarray, test: np.ndarray) -> list[float]:
    sys.path.insert(0, str(tsb_ad))
    from TSB_AD.models.KMeansAD import KMeansAD

    detector = KMeansAD(k=K, window_size=WINDOW, stride=1)
    detector.model.set_params(random_state=SEED)
    detector.fit(train)
    windows = detector._preprocess_data(test)
    clusters = detector.model.predict(windows)
    return [float(v) for v in np.linalg.norm(windows - detector.model.cluster_centers_[clusters], axis=1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tsb-ad", type=Path, required=True, help="folder holding TSB-AD's unpacked TSB_AD package")
    args = parser.parse_args()
    import pyod
    import sklearn

    train, new = inputs()
    golden = {
        "versions": {"pyod": pyod.__version__, "scikit-learn": sklearn.__version__, "numpy": np.__version__, "tsb_ad": "1.5"},
        "train": train.tolist(),
        "new": new.tolist(),
        "copod_one_row": pyod_scores("COPOD", train, new),
        "ecod_one_row": pyod_scores("ECOD", train, new),
        "kmeans_ad": {"n_clusters": K, "window": WINDOW, "seed": SEED, "window_distances": kmeans_ad_scores(args.tsb_ad, train, new)},
    }
    body = ",\n".join(f" {json.dumps(key)}: {json.dumps(value)}" for key, value in golden.items())
    OUT.write_text("{\n" + body + "\n}\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
