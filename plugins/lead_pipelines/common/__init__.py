"""Pieces every vendor shares: HTTP retry policy, raw landing, sync state and run audit, DAG factory."""
