#!/usr/bin/env python3
"""mixture_ref.py — random Parzen mixtures through Optuna 3.1's own _ParzenEstimator.

Writes cases "low high step log v obs..." to CASES and Optuna's log density (log bin
probability for stepped parameters) of each to REF, so the C sampler (src/kernel/tpe.c)
can be checked against the sampler it claims to follow.
    mixture_ref.py CASES REF [N]
"""
import sys

import numpy as np
from optuna import distributions
from optuna.samplers._tpe.parzen_estimator import _ParzenEstimator, _ParzenEstimatorParameters
from optuna.samplers._tpe.sampler import default_weights

cases, ref = sys.argv[1], sys.argv[2]
n_cases = int(sys.argv[3]) if len(sys.argv) > 3 else 300
rng = np.random.RandomState(12)
params = _ParzenEstimatorParameters(True, 1.0, True, False, default_weights, False)
with open(cases, "w") as fc, open(ref, "w") as fr:
    for i in range(n_cases):
        kind = i % 3
        if kind == 0:
            low, high, step, log = -3.0, 7.0, 0.0, 0
            dist = distributions.FloatDistribution(low, high)
        elif kind == 1:
            low, high, step, log = 1e-4, 1e-1, 0.0, 1
            dist = distributions.FloatDistribution(low, high, log=True)
        else:
            low, high, step, log = 0.5, 0.9, 0.01, 0
            dist = distributions.FloatDistribution(low, high, step=0.01)
        n_obs = int(rng.choice([0, 1, 2, 3, 5, 10, 24, 25, 26, 40, 90]))
        if log:
            obs = np.exp(rng.uniform(np.log(low), np.log(high), n_obs))
        elif step:
            obs = np.round(rng.uniform(low, high, n_obs) / step) * step
            obs = np.clip(obs, low, high)
        else:
            obs = rng.uniform(low, high, n_obs)
        if log:
            v = float(np.exp(rng.uniform(np.log(low), np.log(high))))
        elif step:
            v = float(np.clip(round(rng.uniform(low, high) / step) * step, low, high))
        else:
            v = float(rng.uniform(low, high))
        pe = _ParzenEstimator({"p": np.asarray(obs, dtype=float)}, {"p": dist}, params)
        lp = float(pe.log_pdf({"p": np.asarray([v])})[0])
        fc.write("%r %r %r %d %r %s\n" % (low, high, step, log, v, " ".join(repr(float(o)) for o in obs)))
        fr.write("%.12g\n" % lp)
