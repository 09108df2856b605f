"""Downstream of the raw tables: the identity join, the marts, the quality gate and the pushes.

See ``README.md`` in this folder; the DAG is ``dags/unified_leads.py``.
"""
