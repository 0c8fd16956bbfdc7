"""Personal links never reach the request log."""

from __future__ import annotations

import logging

from tests.conftest import enter


def test_the_request_log_shows_no_personal_link(client, make_study, make_panel, caplog):
    (link,) = make_panel(make_study(), 1)
    logger = logging.getLogger("werkzeug")
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        enter(client, link.token)
        # What the development server writes for each request.
        logger.info(
            '%s - - [%s] "%s" %s -', "127.0.0.1", "now", f"GET /e/{link.token} HTTP/1.1", 302
        )
    assert caplog.records, "nothing was logged"
    assert all(link.token not in record.getMessage() for record in caplog.records)
    assert '"GET /e/<token> HTTP/1.1" 302' in caplog.records[-1].getMessage()
