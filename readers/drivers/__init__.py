"""Built-in drivers: thin I/O shells around the pure parsers in `readers.formats`.

Each module exposes `SPEC: readers.driver.DriverSpec`.
"""
