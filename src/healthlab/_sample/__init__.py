"""Simulation behind :func:`healthlab.sample.generate_portfolio`.

The sample portfolio is driven by one hidden quantity, the latent health of each
client in each month (0-100). Churn is drawn from it at renewal dates, and every
observable table (usage, operations, economic impact, NPS, QBR meetings) is drawn
from it with noise. The modules split the work by stage:

- :mod:`.contracts`: calendar, client facts, names, CSMs, contract dates.
- :mod:`.health`: latent health paths, deterioration episodes and churn.
- :mod:`.activity`: usage, brand-protection operations and economic impact.
- :mod:`.feedback`: NPS responses and QBR meetings.
- :mod:`.build`: runs the stages and assembles the output tables.
"""
