"""Fraud rules: one versioned definition (a YAML file) evaluated by every engine."""
