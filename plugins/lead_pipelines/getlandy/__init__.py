"""GetLandy: landing-page leads landed into ``raw.getlandy_leads``."""
