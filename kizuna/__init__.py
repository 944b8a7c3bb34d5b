"""Kizuna: staged parenting messages over LINE and email, from pregnancy to age 18."""

__version__ = "0.1.0"
