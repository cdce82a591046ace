"""Partners, their enrollments in a workspace's program, and their links (SPEC §10)."""
