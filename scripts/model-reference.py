#!/usr/bin/env python3
"""scikit-learn's side of the learned-model comparison (issue 5): on a predictions export of
Gatehouse (GET /api/v1/projects/{project}/predictions, CSV), the same time-ordered split as
Gatehouse's trainer (oldest 60% train, next 20% calibrate, newest 20% test), mean imputation
and standardisation fitted on the training runs, LogisticRegression(C=1.0), then Platt's sigmoid
(CalibratedClassifierCV on the frozen model) fitted on the calibration runs. Prints held-out AUC
and Brier score, raw and calibrated, and the coefficients, as JSON. The Rust test
(server/tests/it/model_quality.rs) trains Gatehouse's model on the same file and must land
within 0.01. Python is a test-time peer only. Regenerate with:

    /tmp/refenv/bin/python scripts/model-reference.py server/tests/it/model_dataset.csv \
        > server/tests/it/model_reference.json
"""
import csv
import json
import sys

import numpy as np
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

FIXED = ["run_id", "external_id", "started_at", "model_version", "score", "outcome"]

path = sys.argv[1]
with open(path, newline="") as f:
    reader = csv.DictReader(f)
    features = [c for c in reader.fieldnames if c not in FIXED]
    rows = [r for r in reader if r["outcome"] in ("failed", "passed")]
# One row per run: the features are the run's, whichever version scored it.
seen, runs = set(), []
for r in sorted(rows, key=lambda r: int(r["run_id"])):
    if r["run_id"] not in seen:
        seen.add(r["run_id"])
        runs.append(r)
X = np.array([[float(r[c]) if r[c] != "" else np.nan for c in features] for r in runs])
y = np.array([r["outcome"] == "failed" for r in runs])
n = len(runs)
tr, ca = n * 6 // 10, n * 8 // 10

model = make_pipeline(
    SimpleImputer(strategy="mean", keep_empty_features=True),
    StandardScaler(),
    LogisticRegression(C=1.0, max_iter=10000, tol=1e-10),
)
model.fit(X[:tr], y[:tr])
raw = model.predict_proba(X[ca:])[:, 1]
calibrated = CalibratedClassifierCV(FrozenEstimator(model), method="sigmoid")
calibrated.fit(X[tr:ca], y[tr:ca])
cal = calibrated.predict_proba(X[ca:])[:, 1]
lr = model[-1]
out = {
    "sklearn": sklearn.__version__,
    "runs": n,
    "split": [tr, ca - tr, n - ca],
    "features": features,
    "raw": {"auc": roc_auc_score(y[ca:], raw), "brier": brier_score_loss(y[ca:], raw)},
    "calibrated": {"auc": roc_auc_score(y[ca:], cal), "brier": brier_score_loss(y[ca:], cal)},
    "coef": lr.coef_[0].tolist(),
    "intercept": float(lr.intercept_[0]),
}
json.dump(out, sys.stdout, indent=1)
print()
