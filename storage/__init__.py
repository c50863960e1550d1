"""Object store (S3 with Object Lock), catalog database and the access gate."""
