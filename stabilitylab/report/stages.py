"""The stages of the report battery, in order (a light module: the CLI reads it for --skip)."""

STAGES = ("spectrum", "continuation", "cycle", "eps_sweep", "knockout", "drift", "gradients")
