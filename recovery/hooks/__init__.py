"""Native git hooks: the hook script, install/uninstall, and the per-hook dispatch.

Checkpoint before: pre-commit, pre-merge-commit, pre-rebase, pre-push. Validate
after (gates, then restore by policy): post-merge, post-rewrite, post-checkout,
post-commit (which marks the new state good).
"""

# The hooks git-recover installs, in the order githooks(5) documents them.
HOOKS = (
    "pre-commit",
    "pre-merge-commit",
    "post-commit",
    "pre-rebase",
    "post-checkout",
    "post-merge",
    "pre-push",
    "post-rewrite",
)
