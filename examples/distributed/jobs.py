"""The jobs of the distributed example. From this folder, a worker runs them:
python -m supervisor worker jobs:registry --queue images --lease 5"""

import anyio

from supervisor.redis import Backoff, JobRegistry

registry = JobRegistry()


@registry.job(timeout=10, max_attempts=3, backoff=Backoff(initial=0.5))
async def resize(image: str, width: int) -> str:
    await anyio.sleep(0.05)  # stands for the real work
    return f"{image}@{width}px"
