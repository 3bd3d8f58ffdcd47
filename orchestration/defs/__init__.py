"""One module per concern: ingestion (bronze), dbt (staging → marts), schedules."""
