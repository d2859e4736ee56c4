"""``python -m dialer.worker``: one dispatcher process, configured from DIALER_* variables."""

from __future__ import annotations

import asyncio

from dialer.config import get_settings
from dialer.worker.runner import run_worker_process


def main() -> None:
    asyncio.run(run_worker_process(get_settings()))


if __name__ == "__main__":
    main()
