"""`python -m fraudlake.contract > docs/contract.md`."""

from fraudlake.contract import markdown

print(markdown(), end="")
