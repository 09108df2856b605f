"""Pirsch Analytics: daily statistics (visitors, pages, referrers, UTM, countries, events) landed into ``raw.pirsch_*``."""
