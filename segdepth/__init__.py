"""Networks that see people and depth: segmenters and depth models behind name registries."""
