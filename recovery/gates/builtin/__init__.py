"""Gates that run inside git-recover instead of as a program: ``tdd`` and ``links``.

Each module exposes ``run(gate, ctx) -> Verdict`` (:class:`recovery.gates.model.Verdict`).
"""
