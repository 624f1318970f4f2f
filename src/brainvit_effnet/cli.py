"""Command-line interface (placeholder; filled in below)."""
