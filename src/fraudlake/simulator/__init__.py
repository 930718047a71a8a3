"""The payment simulator: a labelled, deterministic stream of realistic payments and frauds."""
