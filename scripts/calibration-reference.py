#!/usr/bin/env python3
"""Reference numbers for Gatehouse's calibration metrics (app/src/logic/calibration.rs), from
scikit-learn: calibration_curve (uniform and quantile bins), brier_score_loss, roc_auc_score and
precision_recall_curve, on generated data sets and edge cases (one class only, ties, empty bins);
and from SciPy: ks_2samp in asymptotic mode on generated pairs of samples, and the distribution
behind it (kstwo.sf, special.smirnov) on a grid that reaches every method SciPy chooses between.
Python is a test-time peer only. Regenerate with:

    python3 -m venv /tmp/refenv && /tmp/refenv/bin/pip install scikit-learn scipy numpy
    /tmp/refenv/bin/python scripts/calibration-reference.py > server/tests/it/calibration_reference.json
"""
import json
import sys

import numpy as np
import scipy
import sklearn
from scipy import special, stats
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


def ks_pairs():
    rng = np.random.default_rng(20261202)
    yield "small-shifted", rng.normal(0, 1, 30), rng.normal(0.8, 1, 25)
    yield "small-same", rng.normal(0, 1, 40), rng.normal(0, 1, 35)
    yield "medium", rng.normal(0, 1, 100), rng.normal(0.3, 1, 80)
    yield "n-120", rng.exponential(1, 300), rng.exponential(1.2, 200)
    yield "n-857", rng.normal(0, 1, 2000), rng.normal(0.05, 1, 1500)
    yield "n-2500-same", rng.normal(0, 1, 5000), rng.normal(0, 1, 5000)
    yield "n-2500-shifted", rng.normal(0, 1, 5000), rng.normal(0.1, 1, 5000)
    yield "far-apart", rng.normal(0, 1, 3000), rng.normal(1.5, 1, 3000)
    yield "ties", np.round(rng.random(500) * 5), np.round(rng.random(400) * 5 + 0.4)
    yield "counts", rng.poisson(2, 800).astype(float), rng.poisson(2.6, 300).astype(float)
    yield "identical", np.arange(20.0), np.arange(20.0)
    yield "disjoint", np.arange(10.0), np.arange(10.0) + 100
    yield "one-each", np.array([1.0]), np.array([2.0])


def ks_grid():
    for n in (3, 5, 14, 44, 120, 140, 141, 500, 857, 2500, 100000, 150000, 2000000):
        for x in (0.0, 0.001, 0.004, 0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.15, 0.2, 0.3, 0.45,
                  0.5, 0.6, 0.9, 1.0, 0.5 / n, 0.9 / n, 1.0 / n, 1.3 / n, 2.5 / n, 1 - 1.0 / n,
                  1 - 0.5 / n):
            yield n, x


out = {"sklearn": sklearn.__version__, "scipy": scipy.__version__, "numpy": np.__version__,
       "cases": [], "ks": [], "kstwo": [], "smirnov": []}
for name, a, b in ks_pairs():
    a, b = np.round(a, 5), np.round(b, 5)  # keeps the file small; ties are welcome
    r = stats.ks_2samp(a, b, method="asymp")
    p = float(r.pvalue)
    out["ks"].append({"name": name, "a": a.tolist(), "b": b.tolist(), "statistic": float(r.statistic),
                      "pvalue": None if np.isnan(p) else p})
for n, x in ks_grid():
    out["kstwo"].append([n, x, float(stats.kstwo.sf(x, n))])
    out["smirnov"].append([n, x, float(special.smirnov(n, x))])
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
