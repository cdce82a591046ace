"""Money: ISO 4217 currencies, their minor units, and ECB exchange rates (SPEC §4 Money)."""
