"""The convolutional run-time estimate: refusals name the activation's cost, long runs say so before they
start, and the chunked layers that move the progress bar give the same numbers as one pass.  (The estimate
against measured times is a benchmark, bench/bench_cnn_time.py, not a timed test.)"""

import numpy as np
import pytest


def test_refusal_names_the_activation_cost_and_a_faster_activation(cli):
    r = cli("generalize", "--train", "digits", "--test", "digits", "--examples", "60", "--test-examples", "40",
            "--architecture", "cnn-f", "--image-shape", "8,8,1")
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1
    assert "tanh: 2-D quadrature per entry, ~30 ms per entry-layer" in r.stderr
    assert "closed-form activation (erf, relu" in r.stderr


def test_closed_form_refusal_does_not_suggest_another_activation(cli):
    r = cli("kappa", "-a", "erf", "--architecture", "cnn-p", "--examples", "400", "--image-shape", "8,8,1",
            "--depth", "100")
    assert r.returncode == 2 and "erf: closed form" in r.stderr and "closed-form activation" not in r.stderr


def test_the_same_run_is_estimated_alike_for_any_closed_form(cli):
    """2.7e7 entry-layers of erf run (seconds); of tanh they are refused (the cost, not the count, differs)."""
    args = ["--train", "digits", "--test", "digits", "--examples", "60", "--test-examples", "40",
            "--architecture", "cnn-f", "--image-shape", "8,8,1", "--depth", "1,10,100", "-f", "csv"]
    assert cli("generalize", "-a", "erf", *args).returncode == 0
    assert cli("generalize", "-a", "tanh", *args).returncode == 2


def test_a_long_run_says_so_before_it_starts(cli, monkeypatch):
    from phasecli.cli import cmd_ntk

    monkeypatch.setattr(cmd_ntk, "CNN_NOTE_SECONDS", 0.0)
    r = cli("kappa", "-a", "erf", "--architecture", "cnn-f", "--examples", "4", "--image-shape", "8,8,1",
            "--depth", "2", "-f", "csv")
    assert r.returncode == 0 and r.stdout.count("\n") == 2
    assert r.stderr.startswith("phasecli kappa: note: estimated ~0 s on 2 cores (")


@pytest.mark.parametrize("activation,pooled", [("tanh", False), ("elu", True)])
def test_chunked_layers_give_the_same_kernels(activation, pooled):
    """With a progress hook the quadrature layers run in chunks of pairs: bit-for-bit the same readout."""
    from phasecli import meanfield
    from phasecli.ntk.engines import cnn

    rng = np.random.default_rng(3)
    X = rng.standard_normal((5, 3 * 3 * 2))
    q = float(meanfield.solve_phase(activation, 1.5, 0.05).q_star[0, 0])
    arch = "cnn-p" if pooled else "cnn-f"
    depths = np.array([1, 2])

    def layers(hook):
        engine, _, _ = cnn.build(activation, X, None, 1.5, 0.05, 0.01, True, q, "test", architecture=arch,
                                 image_shape=(3, 3, 2), filter_size=3)
        if hook is None:
            return list(engine.run(depths))
        with cnn.progress(hook):
            return list(engine.run(depths))

    calls = []
    whole, chunked = layers(None), layers(calls.append)
    assert len(calls) > len(depths)  # progress moved within the layers
    for a, b in zip(whole, chunked):
        assert np.array_equal(a.theta_dev, b.theta_dev) and np.array_equal(a.k_dev, b.k_dev)


def test_several_architectures_are_estimated_together(cli, tmp_path):
    """One refusal for cnn-f,cnn-p together, before any note or work (was: cnn-f's note, then cnn-p's refusal)."""
    np.savetxt(tmp_path / "img.csv", np.random.default_rng(0).standard_normal((5, 16)), delimiter=",")
    r = cli("kappa", "--architecture", "cnn-f,cnn-p", "--data", tmp_path / "img.csv", "--image-shape", "4,4,1")
    assert r.returncode == 2 and r.stdout == "" and len(r.stderr.strip().splitlines()) == 1
    assert "this convolutional run needs" in r.stderr


def test_huge_images_are_refused_before_any_allocation(cli):
    r = cli("kappa", "--architecture", "cnn-p", "--examples", "2", "--image-shape", "100000,100000,1")
    assert r.returncode == 2 and "'--image-shape'" in r.stderr and "use smaller images" in r.stderr
