"""Point-in-time features: customer features and sales series, computed in SQL.

Every function here reads the store's ``orders`` table and sees only rows strictly
before its ``as_of`` date. docs/features.md defines every column.
"""

from custintel.features.customer import (
    FEATURE_COLUMNS,
    category_slug,
    category_slugs,
    customer_features,
    feature_sql,
    top_categories,
)
from custintel.features.series import BY_COLUMNS, FREQUENCIES, sales_series

__all__ = [
    "BY_COLUMNS",
    "FEATURE_COLUMNS",
    "FREQUENCIES",
    "category_slug",
    "category_slugs",
    "customer_features",
    "feature_sql",
    "sales_series",
    "top_categories",
]
