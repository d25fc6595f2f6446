"""indexes for the dashboard's counts and at-risk list over customer predictions

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 02:00:00

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_index(
        "ix_customer_predictions_levels",
        "customer_predictions",
        ["model_version_id", "churn_risk", "value_tier", "p_active"],
    )
    op.create_index(
        "ix_customer_predictions_clv", "customer_predictions", ["model_version_id", "clv"]
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_customer_predictions_clv", table_name="customer_predictions")
    op.drop_index("ix_customer_predictions_levels", table_name="customer_predictions")
