"""Customers: the people a click turned into leads and sales (SPEC §4)."""
