"""The pure core: stage arithmetic, the message catalog and the domain vocabulary.

Nothing under `kizuna.core` reads the clock, touches files, the network or the database;
`tests/test_core_purity.py` keeps it that way.
"""
