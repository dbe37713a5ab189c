"""The math checks: finite MDPs with exact J and grad J (``exact``), and finite-difference
gradients (``gradcheck``). Tests and examples/estimator_variance.py use them; training does not."""
