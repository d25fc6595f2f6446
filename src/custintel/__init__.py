"""custintel: customer intelligence for shops, self-hosted.

Segments, sales forecasts, per-customer spend, churn and lifetime value from a shop's
orders data, each with its accuracy measured on the shop's own history.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
