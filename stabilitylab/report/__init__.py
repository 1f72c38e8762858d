"""PDF reports and the figures shared with the CLI."""
