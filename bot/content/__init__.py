"""The content: flows and phrases read from YAML, validated, and kept as a frozen catalogue."""
