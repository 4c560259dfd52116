import pytest

from tests.support.postgres import database_url, pg_cluster, pg_url  # noqa: F401

from .support import SmtpSink


@pytest.fixture
def smtp():
    with SmtpSink() as sink:
        yield sink
