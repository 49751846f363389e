"""The copilot provider entry: one scope, its defaults, sizes, and one GitHub rate limit
shared by every endpoint. (Each bad entry is a fixture in tests/fixtures/config/bad/.)"""

from __future__ import annotations

from datetime import timedelta

import pytest

from aicode_exporter.config.file import build_config
from aicode_exporter.errors import ConfigError
from aicode_exporter.vendors.copilot.config import CopilotProvider


def entry(**keys: object) -> CopilotProvider:
    cfg = build_config({"providers": [{"type": "copilot", "name": "acme",
                                       "api_key": "ghp_test_token", **keys}]}, "test")
    provider = cfg.providers[0]
    assert isinstance(provider, CopilotProvider)
    return provider


def test_defaults_and_an_organization() -> None:
    p = entry(organization="Octo-Org")
    assert p.base_url == "https://api.github.com" and p.scope == "organization"
    assert p.scope_path == "/orgs/Octo-Org"
    assert int(p.max_download_bytes) == 4 << 30 and p.max_repos == 500
    assert p.download_timeout == timedelta(minutes=10)
    assert p.rate_limit_per_minute == 60


def test_an_enterprise_on_ghe_com() -> None:
    p = entry(enterprise="octo-corp", base_url="https://api.octo.ghe.com",
              max_download_bytes="512MiB")
    assert p.scope == "enterprise" and p.scope_path == "/enterprises/octo-corp"
    assert int(p.max_download_bytes) == 512 << 20


def test_every_endpoint_shares_one_bucket_unless_given_its_own() -> None:
    p = entry(organization="o", rate_limit_per_minute=80,
              endpoints={"repos_1_day": {"rate_limit_per_minute": 5}})
    buckets = p.rate_buckets()
    assert buckets["totals_1_day"] == buckets["users_1_day"] == ("github", 80.0)
    assert buckets["repos_1_day"] == ("repos_1_day", 5.0)


@pytest.mark.parametrize(("keys", "message"), [
    ({"organization": "a" * 40}, "providers[0].organization: 'aaaa"),
    ({"organization": "octo--org"}, "is not a GitHub organization login"),
    ({"enterprise": "octo_corp"}, "providers[0].enterprise: 'octo_corp' is not"),
    ({"organization": "o", "download_timeout": "7h"},
     "providers[0].download_timeout: must be between 1s and 6h"),
    ({"organization": "o", "endpoints": {"users_28_day": {"enabled": False}}},
     "unknown endpoint 'users_28_day'"),
])
def test_bad_values_name_their_key(keys: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as e:
        entry(**keys)
    assert message in str(e.value)

