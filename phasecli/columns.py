"""The output columns of every command, in order (pure Python: the command line reads them
without importing the numeric core).  Results build their rows for these names
(``PhaseGrid.table``, ``Spectra.table``, ...); scripts rely on the order, so new columns
are appended, never inserted.
"""

PHASE = ("activation", "sw2", "sb2", "q_star", "c_star", "chi_1", "chi_c", "xi_q", "xi_c", "xi_grad",
         "xi_1", "xi_star", "max_trainable_depth", "phase", "q_slope", "fixed_point", "converged")
DEPTH_SCALE = ("activation", "sw2", "sb2", "chi_1", "chi_c", "xi_q", "xi_c", "xi_grad", "xi_1", "xi_star",
               "max_trainable_depth", "phase", "fixed_point", "converged")
CRITICAL = ("activation", "sb2", "sw2_critical", "q_star", "status")
KAPPA = ("activation", "sw2", "sb2", "depth", "lambda_max", "lambda_min", "lambda_bulk", "kappa",
         "kappa_theory", "nngp_lambda_max", "nngp_lambda_min", "nngp_lambda_bulk", "nngp_kappa",
         "log10_lambda_max", "phase", "resolved", "status")
LR = ("activation", "sw2", "sb2", "depth", "lambda_max", "eta_max", "eta_catapult", "loss", "m", "phase", "status")
GENERALIZE = ("activation", "sw2", "sb2", "depth", "test_accuracy", "test_mse", "train_accuracy", "kappa",
              "prediction_scale", "predictor", "ill_conditioned", "phase", "status")
ACTIVATIONS = ("name", "kind", "description")
