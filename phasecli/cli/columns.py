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
# phase / depth-scale --architecture resnet: what replaces the fixed point at depth L
RESNET_DEPTH = ("activation", "sw2", "sb2", "depth", "residual_scale", "layer_norm", "q_depth", "c_depth",
                "grad_growth", "c_exponent", "exponent_status", "status")
KAPPA = ("activation", "sw2", "sb2", "depth", "lambda_max", "lambda_min", "lambda_bulk", "kappa",
         "kappa_theory", "nngp_lambda_max", "nngp_lambda_min", "nngp_lambda_bulk", "nngp_kappa",
         "log10_lambda_max", "phase", "resolved", "status", "architecture", "kappa_limit", "residual_scale",
         "layer_norm")
LR = ("activation", "sw2", "sb2", "depth", "lambda_max", "eta_max", "eta_catapult", "loss", "m", "phase", "status",
      "architecture", "residual_scale", "layer_norm")
GENERALIZE = ("activation", "sw2", "sb2", "depth", "test_accuracy", "test_mse", "train_accuracy", "kappa",
              "prediction_scale", "predictor", "ill_conditioned", "phase", "status", "architecture",
              "ensemble_accuracy", "ensemble_std", "delta", "train_class_ratio", "residual_scale", "layer_norm")
ACTIVATIONS = ("name", "kind", "description")
VERIFY = ("activation", "sw2", "sb2", "width", "depth", "samples", "q_theory", "q_mean", "q_se", "c_theory", "c_mean",
          "c_se", "ntk_theory", "ntk_mean", "ntk_se", "ratio", "ratio_se", "max_share", "phase", "trust", "reason",
          "architecture", "residual_scale", "layer_norm")
_JACOBIAN = ("activation", "sw2", "sb2", "depth", "weights", "q_star", "chi_1", "mean_s2", "var_s2", "s2_max", "s2_min",
             "phase")
_JACOBIAN_ARCHITECTURE = ("architecture", "residual_scale", "layer_norm", "status")
JACOBIAN = _JACOBIAN + _JACOBIAN_ARCHITECTURE
JACOBIAN_EMPIRICAL = _JACOBIAN + ("width", "samples", "mean_s2_se", "var_s2_se", "s2_max_se") + _JACOBIAN_ARCHITECTURE
CATAPULT = ("lr_factor", "eta", "regime", "final_loss", "final_lambda", "peak_loss", "peak_step", "steps",
            "eta_lambda_final", "width")
TRAIN = ("lr_factor", "eta", "diverged_fraction", "final_loss", "peak_loss_ratio", "lambda_max_init",
         "lambda_max_final", "kernel_drift", "eta_lambda_init", "regime", "activation", "sw2", "sb2", "depth", "width",
         "lambda_max_inf", "lambda_max_empirical", "eta_empirical_factor", "test_accuracy", "test_accuracy_se",
         "train_accuracy", "status", "architecture", "residual_scale", "layer_norm")
CHECK = ("activation", "sw2", "sb2", "depth", "verdict", "reason", "failed", "q_star", "fixed_point", "phase", "chi_1",
         "chi_c", "xi_c", "xi_1", "xi_star", "max_trainable_depth", "max_conditioned_depth", "max_generalizing_depth",
         "eta", "eta_max", "signal", "trainability", "conditioning", "generalization", "learning_rate", "architecture",
         "residual_scale", "layer_norm")
INIT = ("activation", "depth", "weights", "sw2", "sb2", "sb2_rule", "w_std", "b_std", "fan_in", "w_std_standard",
        "q_star", "chi_1", "xi_q", "xi_c", "max_trainable_depth", "mean_s2", "var_s2", "sw2_rule", "architecture",
        "residual_scale", "layer_norm")

# What a column name means wherever it appears: every name that two or more commands write, once
# (tests/test_vocabulary.py fails when a command reuses a name that is not here, or a name here is no
# longer shared; a new meaning needs a new name).
SHARED = {
    "activation": "the nonlinearity phi",
    "architecture": "the network: fc, cnn-f, cnn-p or resnet",
    "chi_1": "the slope of the correlation map at c = 1 (the mean squared singular value of a layer's Jacobian)",
    "chi_c": "the slope of the correlation map at c*",
    "converged": "whether the fixed-point solve converged",
    "depth": "the number of hidden layers L (nonlinearities; resnet: residual blocks after the first dense layer)",
    "eta": "a learning rate (lr_factor times the bound 2/lambda for catapult and train; --lr for check)",
    "eta_max": "2/lambda_max of the infinite-width NTK (times m with the mean loss)",
    "final_loss": "the loss after the last step",
    "fixed_point": "which fixed point q* is: stable, marginal, zero, infinite or unconverged",
    "kappa": "the condition number lambda_max / lambda_min of the kernel (the NTK unless --nngp)",
    "lambda_max": "the largest eigenvalue of the infinite-width NTK on the inputs",
    "lr_factor": "the learning rate as a multiple of its bound 2/lambda",
    "max_trainable_depth": "the trainable-multiple times xi_c",
    "mean_s2": "the mean of the squared singular values of the input-output Jacobian",
    "phase": "ordered, critical or chaotic, by chi_1 (empty where no fixed point describes the network: resnet)",
    "q_star": "the fixed point q* of the length map reached from q0",
    "residual_scale": "resnet: the residual branch's scale alpha at this depth (empty for other networks)",
    "layer_norm": "resnet: none or pre (LayerNorm before each activation; empty for other networks)",
    "reason": "why the row's verdict is not a pass (empty when it is), without commas",
    "regime": "what training did: lazy, catapult, divergent (or unconverged)",
    "s2_max": "the largest squared singular value of the Jacobian",
    "s2_min": "the smallest squared singular value of the Jacobian",
    "samples": "the number of random networks S",
    "sb2": "the bias variance sigma_b^2",
    "status": "ok, or why the row has no value",
    "sw2": "the weight variance sigma_w^2",
    "test_accuracy": "the fraction of the --test rows whose largest output is their label's (generalize: the "
                     "infinite-width predictor; train: the mean over the trained finite networks)",
    "train_accuracy": "the fraction of the --train rows whose largest output is their label's (generalize: the "
                      "infinite-width predictor; train: the mean over the trained finite networks)",
    "var_s2": "the variance of the squared singular values of the Jacobian",
    "weights": "the weight law: gaussian or orthogonal",
    "width": "the hidden width N of the finite networks",
    "xi_1": "-1/ln chi_1, the ordered-side depth scale",
    "xi_c": "-1/ln chi_c, the correlation depth scale",
    "xi_grad": "-1/ln chi_1, the gradient depth scale (negative when gradients grow)",
    "xi_q": "-1/ln of the length map's slope at q*",
    "xi_star": "-1/(ln chi_c - ln chi_1), the chaotic-side depth scale",
}
