"""The stages of the report battery, in order (a light module: the CLI reads it for --skip)."""

STAGES = ("spectrum", "continuation", "cycles", "cycle", "eps_sweep", "knockout", "drift", "gradients")
