"""mlinfra: a declarative infrastructure compiler for machine-learning systems."""

__version__ = "0.1.0"
