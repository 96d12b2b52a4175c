"""Defaults shared by the library's functions and the command line's options, each written once
(pure Python: the command line reads them for --help without importing the numeric core).

Numeric modules name them ``DEFAULT_*`` (``meanfield.DEFAULT_SLOPE`` ...); options show them as their
``[default: ...]``.
"""

ACTIVATION = "tanh"
Q0 = 1.0  # the inputs' variance q^1
SLOPE = 0.01  # negative slope of leaky_relu
CRITICAL_TOL = 1e-6  # |chi_1 - 1| <= this is 'critical'
TRAINABLE_MULTIPLE = 6.0  # max trainable depth = this x xi_c (Schoenholz et al.)
CONDITIONING_MULTIPLE = 6.0  # ordered side: depth <= this x xi_1
GENERALIZATION_MULTIPLE = 2.0  # chaotic side: depth <= this x xi_star (bench/RESULTS_gate_multiples.md)
SW2_RANGE = (1e-3, 1e4)  # search interval of the critical sw2
BATCH_SIZE = 2048  # test rows per pass of the predictor's recursion
GRAD_GROWTH = 2.0  # init --architecture resnet: the gradient growth prod chi_l the recommended sw2 gives
