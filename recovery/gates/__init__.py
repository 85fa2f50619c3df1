"""Quality gates: configuration (:mod:`.config`), the model
(:mod:`.model`), the runner with process groups, timeouts and bounded output
(:mod:`.runner`), the pass cache (:mod:`.cache`), the built-in gates
(:mod:`.builtin`), and what a failure does (:mod:`.policy`)."""

# Where a user overrides or disables a project's gate in git config
# (``recover.gate.<name>.<setting>``).
GIT_PREFIX = "recover.gate."
