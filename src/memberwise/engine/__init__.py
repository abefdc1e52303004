"""Execution engines: the same SQL on DuckDB (default) or Spark, for brands past one machine."""
