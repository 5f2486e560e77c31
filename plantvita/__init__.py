"""The composition root: the ``plantvita`` command and the demo, wiring both tiers.

``hub`` and ``cloud`` never import each other; only this package knows both. A Raspberry Pi
installs ``plant-vita[hub]`` and runs ``plantvita hub …``, which loads nothing of the cloud.
"""
