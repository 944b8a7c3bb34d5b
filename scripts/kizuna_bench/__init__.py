"""The Kizuna benchmark: a generated population, one local date, Kizuna against the bare limits."""
