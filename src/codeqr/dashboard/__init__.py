"""The dashboard of SPEC §6: server-rendered pages for links, analytics, live events,
customers and settings, with its own static files (Chart.js served by the app)."""
