"""Replaced by benchmarks/dlfa_experiment.py; the old zero-shot driver is in git: `git show
2a5cfac:benchmarks/zero_shot.py`. Only this re-export is left, for `eval_throughput.py --quick`; delete the
file once that imports `write_synthetic_xtreme` from synthetic_xtreme.py."""

from synthetic_xtreme import write_synthetic_xtreme

__all__ = ["write_synthetic_xtreme"]
