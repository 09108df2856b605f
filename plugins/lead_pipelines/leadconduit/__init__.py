"""LeadConduit (ActiveProspect): events landed into ``raw.leadconduit_events``."""
