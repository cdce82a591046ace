"""Commissions: what partners earn for the clicks, leads and sales their links bring."""
