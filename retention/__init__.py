"""Working-day calendar, art. 26 deadlines, retention policy, purge and export."""
