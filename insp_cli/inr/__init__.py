"""Batched SIREN INRs: the network, batched fitting, and the sharded store."""
