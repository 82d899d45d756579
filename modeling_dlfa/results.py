"""What a finished run or sweep leaves: the names of its files (defined here only)."""

RESULTS_FILE = "results.json"
SWEEP_FILE = "sweep.json"
# What must match for a run's checkpoints to be resumed, or its finished results reused.
RUN_CONFIG_FILE = "run_config.json"
