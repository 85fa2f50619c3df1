"""git-recover: atomic checkpoints, quality gates and verified restore for git working trees."""

__version__ = "0.1.0"
