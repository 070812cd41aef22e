"""The one compiled part: the matcher's scoring kernel (the rest is in pyproject.toml).

It uses CPython's C API alone (no numpy headers), so a compiler and Python's headers build it.
`-ffp-contract=off`: a compiler for a CPU with fused multiply-add would otherwise round
`a + b * c` once instead of twice, and the scores would differ from numpy's by machine.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "bot.matching._scoring",
            ["bot/matching/_scoring.c"],
            extra_compile_args=["-ffp-contract=off"],
        )
    ]
)
