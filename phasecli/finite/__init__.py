"""Finite random networks: the simulator behind the checks of infinite-width theory at width N.

- ``network``: fully connected networks of hidden width M in the NTK parameterization
  (docs/theory.md section 1, "Network and parameterization"), many independent networks at once, with
  exact parameter gradients, the empirical NTK, gradient-descent steps and the
  per-layer effective weights and pre-activations (for Jacobians).  Full weight matrices.
- ``twoinput``: an exact-in-distribution sampler of the two-input statistics (q^L, c^L,
  Theta(x1, x1)) of such networks at O(M) cost per layer (no weight matrix is formed).
- ``verify``: the ``phasecli verify`` check (finite width against the theory, Seleznova & Kutyniok).

Everything is float64 and reproducible: network i of a seed draws from its own random
stream (``numpy.random.SeedSequence(seed, spawn_key=(i,))``), whatever the threading or
chunking.  Nothing here prints.
"""
