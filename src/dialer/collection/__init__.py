"""The collections loop at the edge: payments in, recovery figures out."""
