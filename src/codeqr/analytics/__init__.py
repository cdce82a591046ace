"""Analytics (SPEC §6): totals, time series, breakdowns, the funnel and the events list."""
