"""Sort database errors into retry-later and bad-row, by SQLSTATE (DESIGN §5).

- RETRYABLE: the database or the path to it is (temporarily) unavailable — class 08 connection,
  40 serialization/deadlock, 53 insufficient resources (disk full, out of memory, too many
  connections), 57P01/57P02/57P03 shutdown and start-up, 57014 cancelled (statement timeout),
  55P03 lock not available, 58 system I/O error; and client-side connection failures that carry no
  SQLSTATE (psycopg OperationalError/InterfaceError, pool timeouts). Retry with back-off.
- CONFIG: the statement itself is wrong here (42 undefined table/column or privilege, 28 auth,
  3D000 no such database): no row is at fault, so rows are NOT dead-lettered; retried with
  back-off and logged as errors until an operator migrates or fixes the grants.
- PERMANENT: everything else, chiefly 22 data exceptions and 23 integrity violations: the batch is
  bisected to the rows at fault, which go to `dead_letters`.
"""

from __future__ import annotations

from enum import StrEnum

import psycopg


class ErrorClass(StrEnum):
    RETRYABLE = "retryable"
    CONFIG = "config"
    PERMANENT = "permanent"


_RETRYABLE_CLASSES = frozenset({"08", "40", "53", "58"})
_RETRYABLE_CODES = frozenset({"57P01", "57P02", "57P03", "57014", "55P03", "55006"})
_CONFIG_CLASSES = frozenset({"42", "28", "3D", "3F"})


def classify_sqlstate(sqlstate: str | None) -> ErrorClass:
    if sqlstate is None:
        return ErrorClass.PERMANENT
    if sqlstate in _RETRYABLE_CODES or sqlstate[:2] in _RETRYABLE_CLASSES:
        return ErrorClass.RETRYABLE
    if sqlstate[:2] in _CONFIG_CLASSES:
        return ErrorClass.CONFIG
    return ErrorClass.PERMANENT


def classify(exc: BaseException) -> ErrorClass:
    """The class of an exception raised while writing a batch."""
    if isinstance(exc, psycopg.Error):
        state = exc.sqlstate
        if state is None and isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            return ErrorClass.RETRYABLE
        return classify_sqlstate(state)
    if isinstance(exc, ConnectionError | TimeoutError):
        return ErrorClass.RETRYABLE
    return ErrorClass.PERMANENT
