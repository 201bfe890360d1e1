from __future__ import annotations

import json
import logging

import pytest
import structlog

from service.logging import REDACTED, configure_logging, redact_text

API_KEY = "bh_0a1b2c3d4e5f_Zx8Q3kLm0pW7rT2vY5uB9nC4dF6gH1jK3lM5nP7qR9s"


def test_redact_text_masks_keys_and_bearer_tokens() -> None:
    text = f"calling with {API_KEY} and authorization: Bearer abc.def.ghi and EZAK1234567890abcdef"
    redacted = redact_text(text)
    assert API_KEY not in redacted
    assert "abc.def.ghi" not in redacted
    assert "EZAK1234567890abcdef" not in redacted
    assert redacted.count(REDACTED) == 3


def test_log_lines_never_carry_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    log = structlog.get_logger("test")
    log.info("key.used", api_key=API_KEY, note=f"from {API_KEY}", nested={"password": "hunter2", "ok": 1})
    logging.getLogger("third.party").warning("header was Bearer %s", API_KEY)
    try:
        raise RuntimeError(f"boom {API_KEY}")
    except RuntimeError:
        log.exception("failed")
    err = capsys.readouterr().err
    assert API_KEY not in err
    assert "hunter2" not in err
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert lines[0]["api_key"] == REDACTED
    assert lines[0]["nested"] == {"password": REDACTED, "ok": 1}
    assert len(lines) == 3


def test_tracking_tokens_are_masked() -> None:
    token = "bht_" + "a1B2c3D4e5F6g7H8i9J0" * 2
    assert token not in redact_text(f"customer opened /track/{token}")
