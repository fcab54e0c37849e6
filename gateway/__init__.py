"""The shop's edge daemon: presence cleaning, durable outbox, sink to the store."""
