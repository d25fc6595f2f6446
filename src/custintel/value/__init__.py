"""Customer value: expected orders and spend, probability of being active, lifetime value."""
