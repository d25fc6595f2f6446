"""The demo shop: a simulated shop with real structure, for the demo, tests and benchmarks.

``generate_shop`` draws customers, order lines, products and reviews (canonical tables);
``write_shop`` writes them as CSV, Parquet, a canonical SQLite database and a Laravel-style
SQLite database.
"""

from custintel.demo.generator import DemoShop, generate_shop
from custintel.demo.writers import write_shop

__all__ = ["DemoShop", "generate_shop", "write_shop"]
