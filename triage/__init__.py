"""Monshi's domain: work items, tenants, secretaries and the rules that move items between them."""
