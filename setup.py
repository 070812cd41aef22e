"""The compiled parts: the matcher's scoring kernel and the sentence reader (the rest is in
pyproject.toml).

They use CPython's C API alone (no numpy headers), so a compiler and Python's headers build them.
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
        ),
        Extension("bot.text._sentences", ["bot/text/_sentences.c"]),
    ]
)
