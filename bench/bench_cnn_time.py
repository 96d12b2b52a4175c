"""Measured wall time of the convolutional recursion against the estimate the CLI refuses by
(``cnn.workload`` entry-layers x ``cnn.SECONDS_PER_ENTRY_LAYER``).  Results: RESULTS_cnn_time.md.

    python bench/bench_cnn_time.py ACT:ARCH:M:M_TEST:H,W,C:DEPTH ...     (no argument: the standard set)

Prints, per case, the entry-layers, the run time (build excluded), the estimate and their ratio."""
import sys, time
import numpy as np
from phasecli.ntk.engines import cnn
from phasecli import meanfield, data

import phasecli, os; X = data.load_labelled(os.path.join(os.path.dirname(phasecli.__file__), "data", "digits_train.csv"))[0]
STANDARD = ["erf:cnn-p:40:0:8,8,1:5", "relu:cnn-f:200:0:8,8,1:10", "erf:cnn-f:60:40:8,8,1:10",
            "elu:cnn-f:8:0:4,4,4:2", "elu:cnn-p:10:0:4,4,4:2", "tanh:cnn-f:4:0:4,4,4:3", "tanh:cnn-f:4:0:8,8,1:1",
            "tanh:cnn-p:4:0:3,3,1:1", "gelu:cnn-f:4:0:4,4,4:1"]
cases = [a.split(":") for a in (sys.argv[1:] or STANDARD)]  # act:arch:m:mt:H,W,C:depth
for act, arch, m, mt, shape, depth in cases:
    m, mt, depth = int(m), int(mt), int(depth)
    H, W, C = (int(v) for v in shape.split(","))
    dim = H * W * C
    rng = np.random.default_rng(0)
    Xs = X[:m, :dim] if dim <= 64 else rng.standard_normal((m, dim))
    Xs = Xs + 0.01 * rng.standard_normal(Xs.shape)
    Xt = None if mt == 0 else rng.standard_normal((mt, dim))
    sw2, sb2 = 1.5, 0.05
    q = float(meanfield.solve_phase(act, sw2, sb2).q_star[0, 0])
    work, mem = cnn.workload(m, mt, (H, W, C), arch, np.array([depth]))
    t0 = time.perf_counter()
    eng, _, _ = cnn.build(act, Xs, Xt, sw2, sb2, 0.01, True, q, arch, (H, W, C), 3, "x")
    t1 = time.perf_counter()
    for _ in eng.run(np.array([depth])):
        pass
    t2 = time.perf_counter()
    print(f"{act} {arch} m={m} mt={mt} {shape} L={depth}: entry-layers {work:.3g}  build {t1-t0:.2f}s run {t2-t1:.2f}s"
          f"  per entry-layer {(t2-t1)/work:.3g} s  estimate {cnn.seconds(act, work):.3g}s"
          f"  estimate/measured {cnn.seconds(act, work) / (t2 - t1):.2f}", flush=True)
