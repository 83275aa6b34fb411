"""Storage that ops can plan, watch and release: usage figures (`ribao status`), the bureau's
archive (`ribao export`) and retention (`ribao purge`, `[storage] keep_days`)."""
