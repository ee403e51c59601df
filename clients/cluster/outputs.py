"""What blocks returned in a run (block run outputs)."""

from __future__ import annotations

from ..errors import Subject
from ..models import BlockOutput
from .session import ClusterSession


class OutputsApi(ClusterSession):
    async def block_run_outputs(self, block_run_id: int) -> list[BlockOutput]:
        """The block run's outputs: tables come with their first 1,000 rows and their full row count.

        Mage answers an unknown block run id, or a block that returned nothing, with no outputs
        (not with an error). Its `sample_count` parameter fails in 0.9.80, so it is not sent.
        """
        body = await self.request("GET", f"/block_runs/{block_run_id}/outputs", what=Subject("block run", block_run_id))
        return [BlockOutput.model_validate(o) for o in body.get("outputs") or [] if isinstance(o, dict)]
