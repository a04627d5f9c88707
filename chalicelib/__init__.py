"""TokoFlow: the serverless backend of an online shop (all logic lives in this package)."""
