"""The run tools: the command line (``cli``), the run directory (``logger``), checkpoints, evaluation,
plots and the benchmark. They call ``nppg.train``; nothing here is part of the algorithm."""
