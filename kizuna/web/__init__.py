"""The web app of `kizuna serve` (FastAPI): health, metrics, and the pages parents and staff use."""
