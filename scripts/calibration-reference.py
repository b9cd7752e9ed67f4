#!/usr/bin/env python3
"""Reference numbers for Gatehouse's calibration metrics (app/src/logic/calibration.rs), from
scikit-learn: calibration_curve (uniform and quantile bins), brier_score_loss, roc_auc_score and
precision_recall_curve, on generated data sets and edge cases (one class only, ties, empty bins).
Python is a test-time peer only. Regenerate with:

    python3 -m venv /tmp/refenv && /tmp/refenv/bin/pip install scikit-learn scipy numpy
    /tmp/refenv/bin/python scripts/calibration-reference.py > server/tests/it/calibration_reference.json
"""
import json
import sys

import numpy as np
import sklearn
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, precision_recall_curve, roc_auc_score


def cases():
    rng = np.random.default_rng(20261201)
    for n in (60, 400, 1500):
        s = rng.beta(2.0, 5.0, n)
        y = rng.random(n) < np.clip(s * 1.3, 0, 1)
        yield f"generated-{n}", y, s
    s = np.round(rng.random(300), 1)  # heavy ties
    yield "ties", rng.random(300) < s, s
    s = rng.random(80) * 0.3  # most uniform bins empty
    yield "empty-bins", rng.random(80) < s, s
    s = rng.random(50)
    yield "all-passed", np.zeros(50, dtype=bool), s
    yield "all-failed", np.ones(50, dtype=bool), s
    s = np.array([0.0, 0.0, 0.1, 0.1, 0.1, 0.5, 0.5, 1.0, 1.0, 0.7])  # edges and duplicates
    yield "edges", np.array([0, 1, 0, 1, 1, 0, 1, 1, 1, 0], dtype=bool), s


out = {"sklearn": sklearn.__version__, "numpy": np.__version__, "cases": []}
for name, y, s in cases():
    y = y.astype(bool)
    case = {"name": name, "y": y.tolist(), "s": s.tolist(), "brier": brier_score_loss(y, s, pos_label=True)}
    case["auc"] = roc_auc_score(y, s) if 0 < y.sum() < len(y) else None
    for strategy in ("uniform", "quantile"):
        for bins in (5, 10):
            t, p = calibration_curve(y, s, n_bins=bins, strategy=strategy, pos_label=True)
            case[f"{strategy}-{bins}"] = {"observed": t.tolist(), "predicted": p.tolist()}
    if y.sum() > 0:
        p, r, th = precision_recall_curve(y, s, pos_label=True)
        case["pr"] = {"precision": p.tolist(), "recall": r.tolist(), "thresholds": th.tolist()}
    out["cases"].append(case)
json.dump(out, sys.stdout)
print()
