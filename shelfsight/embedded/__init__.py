"""Throwaway servers for the demo, the tests and the benchmarks: PostgreSQL and an MQTT broker.

Started only when asked (never at import), on free ports in a temporary directory.
"""
