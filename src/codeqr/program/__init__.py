"""Partner programs: one default program per workspace, its groups and rewards (SPEC §10)."""
