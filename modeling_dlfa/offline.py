"""Compatibility entry point: the builder moved to the top-level package `offline_backbone`, out of the
model package that does not need it. Keeps `python -m modeling_dlfa.offline build|verify [DIR]` and
`from modeling_dlfa.offline import ...` of the package's public names working."""

import sys

from offline_backbone import *  # noqa: F403
from offline_backbone.cli import main

if __name__ == "__main__":
    sys.exit(main())
