"""The `architect` command line."""
