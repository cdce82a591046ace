"""The real-time events stream (``GET /api/events/stream``, SPEC §6)."""
