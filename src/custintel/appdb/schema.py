"""The app database's tables (SQLAlchemy 2.0 declarative models).

Results tables are keyed by ``model_version_id``: a version's rows are written before
the version can be activated, and a request reads the active version once, so no
request sees a mix of two versions.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ActiveModel",
    "ApiKey",
    "Base",
    "CustomerPrediction",
    "ForecastBacktest",
    "ForecastPoint",
    "Job",
    "ModelVersion",
    "SegmentAssignment",
    "utcnow",
]


def utcnow() -> datetime:
    """Now, in UTC, without microseconds (what every timestamp column holds)."""
    return datetime.now(UTC).replace(microsecond=0)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class ApiKey(Base):
    """An API key: only its sha256 is kept (keys are 32 random bytes, so a fast hash is
    safe); ``prefix`` (the first characters, shown by ``keys list``) finds it."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True, index=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    scope: Mapped[str] = mapped_column(String(16))  # read | predict | admin
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Job(Base):
    """A background job (train, sync, bulk scoring): its state and progress live here,
    not in the queue, so they survive a restart of the API or of the worker."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # queued | running | succeeded | failed | cancelled
    status: Mapped[str] = mapped_column(String(16), index=True, default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ModelVersion(Base):
    """One trained version of a capability: its artifact (file and sha256 in the
    artifact store), its summary and metrics, and the data it was trained on."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("capability", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    capability: Mapped[str] = mapped_column(String(32), index=True)
    version: Mapped[int] = mapped_column(Integer)
    artifact: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    as_of: Mapped[date | None] = mapped_column(Date, nullable=True)
    data_from: Mapped[date | None] = mapped_column(Date, nullable=True)
    data_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    job_id: Mapped[str | None] = mapped_column(String(32), nullable=True)


class ActiveModel(Base):
    """The version each capability serves: one row per capability, so activation (and
    rollback) is a single-row update."""

    __tablename__ = "active_models"

    capability: Mapped[str] = mapped_column(String(32), primary_key=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    activated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SegmentAssignment(Base):
    """A customer's segment and cluster in one segmentation version."""

    __tablename__ = "segment_assignments"

    model_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    r_score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    f_score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    m_score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rfm_segment: Mapped[str | None] = mapped_column(String(100), nullable=True)
    cluster: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cluster_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    x: Mapped[float | None] = mapped_column(Float, nullable=True)  # 2-D projection
    y: Mapped[float | None] = mapped_column(Float, nullable=True)
    # What the scores came from, as of the version's as_of.
    recency_days: Mapped[float | None] = mapped_column(Float, nullable=True)
    frequency: Mapped[float | None] = mapped_column(Float, nullable=True)
    monetary: Mapped[float | None] = mapped_column(Float, nullable=True)
    tenure_days: Mapped[float | None] = mapped_column(Float, nullable=True)


class CustomerPrediction(Base):
    """What ``custintel score`` gives for one customer in one value version; spend per
    category in ``spend_by_category`` (its keys vary by shop)."""

    __tablename__ = "customer_predictions"
    __table_args__ = (
        Index("ix_customer_predictions_spend", "model_version_id", "expected_spend"),
        Index("ix_customer_predictions_churn", "model_version_id", "churn_probability"),
        # The dashboard's counts (customers, active ones, per risk level and value tier)
        # read this index alone instead of every row of the version; the at-risk list
        # walks the CLV index from the top and stops at its limit (docs/performance.md).
        Index(
            "ix_customer_predictions_levels",
            "model_version_id",
            "churn_risk",
            "value_tier",
            "p_active",
        ),
        Index("ix_customer_predictions_clv", "model_version_id", "clv"),
    )

    model_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    expected_orders: Mapped[float | None] = mapped_column(Float, nullable=True)
    expected_spend: Mapped[float | None] = mapped_column(Float, nullable=True)
    spend_by_category: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    p_active: Mapped[float | None] = mapped_column(Float, nullable=True)
    churn_probability: Mapped[float | None] = mapped_column(Float, nullable=True)
    churn_risk: Mapped[str | None] = mapped_column(String(16), nullable=True)
    clv: Mapped[float | None] = mapped_column(Float, nullable=True)
    next_order_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    rfm_segment: Mapped[str | None] = mapped_column(String(100), nullable=True)
    spend_percentile: Mapped[float | None] = mapped_column(Float, nullable=True)
    value_tier: Mapped[str | None] = mapped_column(String(16), nullable=True)
    top_factors: Mapped[str | None] = mapped_column(Text, nullable=True)


class ForecastPoint(Base):
    """One period of one series in one forecasting version: history (``kind`` =
    "history", ``value`` only) or forecast (with its 80 % and 95 % bounds). ``by`` is
    "" for the total."""

    __tablename__ = "forecast_points"

    model_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True
    )
    timeframe: Mapped[str] = mapped_column(String(8), primary_key=True)
    by: Mapped[str] = mapped_column(String(64), primary_key=True)
    series: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    date: Mapped[date] = mapped_column(Date, primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    lower_80: Mapped[float | None] = mapped_column(Float, nullable=True)
    upper_80: Mapped[float | None] = mapped_column(Float, nullable=True)
    lower_95: Mapped[float | None] = mapped_column(Float, nullable=True)
    upper_95: Mapped[float | None] = mapped_column(Float, nullable=True)
    model: Mapped[str | None] = mapped_column(String(100), nullable=True)


class ForecastBacktest(Base):
    """A series' backtest error in one forecasting version: the chosen model's and
    seasonal naive's, so that every forecast is shown with its measured accuracy."""

    __tablename__ = "forecast_backtests"

    model_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True
    )
    timeframe: Mapped[str] = mapped_column(String(8), primary_key=True)
    by: Mapped[str] = mapped_column(String(64), primary_key=True)
    series: Mapped[str] = mapped_column(String(255), primary_key=True)
    model: Mapped[str] = mapped_column(String(100))
    horizon: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
