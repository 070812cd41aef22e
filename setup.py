"""The one compiled part: the matcher's scoring kernel (the rest is in pyproject.toml).

It uses CPython's C API alone (no numpy headers), so a compiler and Python's headers build it.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("bot.matching._scoring", ["bot/matching/_scoring.c"])])
