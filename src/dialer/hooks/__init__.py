"""Outbound webhooks: signed events pushed to the customer's systems from an outbox."""
