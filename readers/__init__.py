"""Reader devices: wire formats, EPC codec and drivers. Knows nothing of databases."""
