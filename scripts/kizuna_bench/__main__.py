"""`python -m kizuna_bench`: see kizuna_bench.cli."""

from kizuna_bench.cli import main

main()
