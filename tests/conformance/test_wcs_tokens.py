"""WCS tokens from `yunup` against `wcs.commons.auth.Auth` (PyPI wcs-python3-sdk)."""
import base64
import json
import time

import pytest
from wcs.commons.auth import Auth

AK, SK = "conformance-ak", "conformance-sk-0123456789"
KEYS = {"YUNUP_ACCESS_KEY": AK, "YUNUP_SECRET_KEY": SK}


def decode_policy(token):
    encoded = token.split(":")[2]
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()


@pytest.mark.parametrize(
    "policy",
    [
        {"scope": "bucket:a.txt", "deadline": 3600},
        {"scope": "bucket", "deadline": 60, "returnBody": "key=$(key)&hash=$(hash)", "overwrite": 1},
        {"scope": "bucket:目录/文件 1.txt", "deadline": 10, "fsizeLimit": 1048576},
    ],
)
def test_upload_token_equals_the_python_sdk(policy, yunup):
    theirs = Auth(AK, SK).uploadtoken(dict(policy))
    # The SDK serialises with its own spacing and escapes; yunup signs the same text verbatim.
    text = decode_policy(theirs)
    assert yunup("token", "wcs", "--policy", text, env=KEYS) == theirs


def test_minted_token_has_the_sdk_policy_shape(yunup):
    """A token yunup builds itself carries scope and a millisecond deadline, as the SDK's does."""
    before = int(time.time() * 1000)
    token = yunup("token", "wcs", "--scope", "bucket:k", "--expires-in", "600", env=KEYS)
    policy = json.loads(decode_policy(token))
    assert policy["scope"] == "bucket:k"
    assert before + 599_000 <= int(policy["deadline"]) <= int(time.time() * 1000) + 600_000
    # Signing that exact text again (the --policy path) reproduces the token.
    assert yunup("token", "wcs", "--policy", decode_policy(token), env=KEYS) == token


@pytest.mark.parametrize(
    "url, body",
    [
        ("http://mgr.example/stat/YnVja2V0OmEudHh0", None),
        ("http://mgr.example/list?bucket=bucket&limit=10&prefix=ZGlyLw==", None),
        ("http://mgr.example/fops", "bucket=YnVja2V0&key=YS50eHQ=&fops=dmZyYW1l"),
        ("http://mgr.example/setdeadline?x=1", "bucket=YnVja2V0&key=YS50eHQ=&deadline=3"),
    ],
)
def test_management_token_equals_the_python_sdk(url, body, yunup):
    theirs = Auth(AK, SK).managertoken(url, body)
    args = ["sign", "wcs", "--url", url] + (["--body", body] if body else [])
    assert yunup(*args, env=KEYS) == theirs
