"""Chaos drills: inject a failure into a disposable clone, let the gates
detect it, recover, prove byte for byte that nothing was lost, and measure.

Layers: :mod:`.sandbox` (the disposable clones and byte-level snapshots),
:mod:`.fixture` (the files and gates every drill clone gets), :mod:`.scenarios`
(one failure each), :mod:`.runner` (timing, verification, journal).
"""
