"""In-memory fakes of the Mage Cloud API and the Mage OSS cluster API, for fast unit tests."""

from tests.fakes.cloud import DEFAULT_CLOUD_API_KEY, FakeCloud, default_cluster
from tests.fakes.cluster import (
    MAGE_PUBLIC_API_KEY,
    FakeMage,
    inner_token,
    jwt_decode,
    jwt_encode,
    table_output,
    text_output,
)
from tests.fakes.recording import RecordedRequest, Recorder, RecordingMiddleware, serve_in_thread

__all__ = [
    "DEFAULT_CLOUD_API_KEY",
    "MAGE_PUBLIC_API_KEY",
    "FakeCloud",
    "FakeMage",
    "RecordedRequest",
    "Recorder",
    "RecordingMiddleware",
    "default_cluster",
    "inner_token",
    "jwt_decode",
    "jwt_encode",
    "serve_in_thread",
    "table_output",
    "text_output",
]
