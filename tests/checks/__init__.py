"""Pure tests of the ingest checks (values in, findings out): no ffmpeg, no S3, no database."""
