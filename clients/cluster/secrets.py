"""Project secrets: list names, create, delete (Mage never returns a value, and has no update).

A value is sent once, in the create request, and never kept, logged or put into an error: when
Mage fails, its text is reported only if the value is not in it.
"""

from __future__ import annotations

from ..errors import MageError, Subject
from ..models import Page, Secret
from ..pages import every_item
from .session import ClusterSession, page_of, segment


class SecretsApi(ClusterSession):
    async def list_secrets(self, *, limit: int, offset: int = 0) -> Page[Secret]:
        body = await self.request("GET", "/secrets", params={"_limit": limit, "_offset": offset})
        return page_of(body, "secrets", Secret)

    async def find_secret(self, name: str) -> Secret | None:
        """The secret called `name`, paging through every secret; None when there is none."""
        async for secret in every_item(lambda limit, offset: self.list_secrets(limit=limit, offset=offset)):
            if secret.name == name:
                return secret
        return None

    async def create_secret(self, name: str, value: str) -> Secret:
        try:
            body = await self.request("POST", "/secrets", json={"secret": {"name": name, "value": value}})
        except MageError as exc:
            if value and value in str(exc):
                raise type(exc)(
                    f"Mage failed to create the secret {name!r} (its answer held the value, so it is not shown).",
                    code=exc.code,
                    type=exc.type,
                ) from None
            raise
        return Secret.model_validate(body["secret"])

    async def delete_secret(self, name: str) -> Secret:
        body = await self.request("DELETE", f"/secrets/{segment(name)}", what=Subject("secret", name))
        return Secret.model_validate(body["secret"])
