"""The audit log: who did what, when (bottom layer: it imports only db, models and kit)."""
