from tests.hooks.receiver import receiver

__all__ = ["receiver"]
