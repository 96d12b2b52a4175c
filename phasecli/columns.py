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
         "log10_lambda_max", "phase", "resolved", "status", "architecture")
LR = ("activation", "sw2", "sb2", "depth", "lambda_max", "eta_max", "eta_catapult", "loss", "m", "phase", "status",
      "architecture")
GENERALIZE = ("activation", "sw2", "sb2", "depth", "test_accuracy", "test_mse", "train_accuracy", "kappa",
              "prediction_scale", "predictor", "ill_conditioned", "phase", "status", "architecture")
ACTIVATIONS = ("name", "kind", "description")
VERIFY = ("activation", "sw2", "sb2", "width", "depth", "samples", "q_theory", "q_mean", "q_se", "c_theory", "c_mean",
          "c_se", "ntk_theory", "ntk_mean", "ntk_se", "ratio", "ratio_se", "max_share", "phase", "trust", "reason")
JACOBIAN = ("activation", "sw2", "sb2", "depth", "weights", "q_star", "chi_1", "mean_s2", "var_s2", "s2_max", "s2_min",
            "phase")
JACOBIAN_EMPIRICAL = JACOBIAN + ("width", "samples", "mean_s2_se", "var_s2_se", "s2_max_se")
CATAPULT = ("lr_factor", "eta", "regime", "final_loss", "final_lambda", "peak_loss", "peak_step", "steps",
            "eta_lambda_final", "width")
TRAIN = ("lr_factor", "eta", "diverged_fraction", "final_loss", "peak_loss_ratio", "lambda_max_init",
         "lambda_max_final", "kernel_drift", "eta_lambda_init", "regime", "activation", "sw2", "sb2", "depth", "width")
CHECK = ("activation", "sw2", "sb2", "depth", "verdict", "reason", "failed", "q_star", "fixed_point", "phase", "chi_1",
         "chi_c", "xi_c", "xi_1", "xi_star", "max_trainable_depth", "max_conditioned_depth", "max_generalizing_depth",
         "eta", "eta_max", "signal", "trainability", "conditioning", "generalization", "learning_rate")
INIT = ("activation", "depth", "weights", "sw2", "sb2", "sb2_rule", "w_std", "b_std", "fan_in", "w_std_standard",
        "q_star", "chi_1", "xi_q", "xi_c", "max_trainable_depth", "mean_s2", "var_s2")
