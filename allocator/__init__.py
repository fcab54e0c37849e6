"""Order allocation: stock model, cost model, solvers and the HTTP API."""
