"""Products built on the platform: the board's report and the demo (with its seed data)."""
