"""Small ``requests`` auth classes the vendor hooks share."""

from __future__ import annotations

from typing import TYPE_CHECKING

from requests.auth import AuthBase

if TYPE_CHECKING:
    from requests import PreparedRequest


class BearerAuth(AuthBase):
    """``Authorization: Bearer <token>``; the token is replaced in place when renewed.

    :param token: The access token (empty until the first is obtained).
    """

    def __init__(self, token: str = "") -> None:
        self.token = token

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


class NoAuthorization(AuthBase):
    """Send a call without the session's ``Authorization``: a token request authenticates in its body."""

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        request.headers.pop("Authorization", None)
        return request
