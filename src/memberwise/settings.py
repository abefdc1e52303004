"""Runtime settings from MEMBERWISE_* environment variables (or a `.env` file), with sensible defaults."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where things live and the defaults every stage shares."""

    model_config = SettingsConfigDict(env_prefix="MEMBERWISE_", env_file=".env", extra="ignore")

    home: Path = Field(Path(".memberwise"), description="Working directory for demo data and outputs")
    snapshot_date: date | None = Field(
        None, description="Data snapshot date: events after it are rejected (default: today)"
    )
    max_accounts_per_identifier: int = Field(
        20, ge=2, description="Identifiers shared by more accounts than this are hubs and never link"
    )
    new_window_days: int = Field(90, ge=1, description="'New' customer/member = joined within this many days")
    duckdb_threads: int | None = Field(None, ge=1, description="DuckDB threads (default: all cores)")
    warehouse_path: Path | None = Field(
        None, description="DuckDB file for the working warehouse (default: in memory); use one for big brands"
    )
    duckdb_memory_limit: str | None = Field(
        None, description="DuckDB memory limit, e.g. '4GB' (default: 80% RAM)"
    )

    engine: Literal["duckdb", "spark"] = Field(
        "duckdb", description="Engine that runs the SQL: DuckDB in process, or Spark past one machine"
    )
    spark_master: str = Field(
        "local[*]", description="Spark master URL for --engine spark (a cluster's, say)"
    )
    spark_work_dir: Path | None = Field(
        None,
        description="Where Spark materialises tables (shared storage on a cluster; default <home>/spark)",
    )
    spark_driver_memory: str | None = Field(
        None, description="Spark driver memory, e.g. '8g' (Spark's default)"
    )

    releases_kept: int = Field(
        5, ge=2, description="Releases kept on disk (the current one included) for `memberwise rollback`"
    )

    mlflow_tracking_uri: str | None = Field(
        None, description="MLflow tracking/registry URI (default: sqlite:///<home>/mlflow.db)"
    )
    api_key: str | None = Field(None, description="Bearer key the service requires on model endpoints")

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{(self.home / 'mlflow.db').resolve()}"

    @property
    def artifact_root(self) -> Path:
        return (self.home / "mlartifacts").resolve()

    @property
    def spark_dir(self) -> Path:
        return self.spark_work_dir or self.home / "spark"

    @property
    def demo_dir(self) -> Path:
        return self.home / "demo"

    @property
    def output_dir(self) -> Path:
        return self.home / "output"
