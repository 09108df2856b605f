"""LeadBoxer: leads, their sessions and their events landed into ``raw.leadboxer_*``."""
