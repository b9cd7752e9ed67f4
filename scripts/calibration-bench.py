#!/usr/bin/env python3
"""scikit-learn's side of the calibration benchmark: the same metrics Gatehouse's report
computes (reliability curve with quantile bins, Brier score, ROC AUC and curve, precision-recall
curve and average precision, and the confusion counts at a threshold) on the data
`cargo run --release -p gatehouse --example calibration_bench` wrote. Median of 5 runs.

    /tmp/refenv/bin/python scripts/calibration-bench.py /tmp/calibration-bench.bin
"""
import statistics
import sys
import time

import numpy as np
import sklearn
from sklearn.calibration import calibration_curve
from sklearn.metrics import (average_precision_score, brier_score_loss, confusion_matrix,
                             precision_recall_curve, roc_auc_score, roc_curve)

raw = np.fromfile(sys.argv[1], dtype=np.uint8)
n = len(raw) // 9
scores = raw[: n * 8].view("<f8")
failed = raw[n * 8:].astype(bool)


def report():
    calibration_curve(failed, scores, n_bins=10, strategy="quantile")
    brier_score_loss(failed, scores)
    roc_auc_score(failed, scores)
    roc_curve(failed, scores)
    precision_recall_curve(failed, scores)
    average_precision_score(failed, scores)
    confusion_matrix(failed, scores >= 0.5)


times = []
for _ in range(5):
    t = time.perf_counter()
    report()
    times.append(time.perf_counter() - t)
print(f"scikit-learn {sklearn.__version__}, {n} runs: median {statistics.median(times) * 1000:.1f} ms")
