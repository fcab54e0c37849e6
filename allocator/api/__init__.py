"""The allocation HTTP API (FastAPI): `create_app(settings, pool=None)` in `allocator.api.app`."""
