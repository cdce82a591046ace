"""Payouts: the sums paid to partners for their due commissions."""
