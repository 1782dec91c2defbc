"""Figures and reports: what people would rather look at than read."""
