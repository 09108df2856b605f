"""giosg workflow reporting: workflows into ``raw.giosg_workflows``, daily sidedata into ``raw.giosg_sidedata``."""
