"""GitHub App installation auth: githubkit signs a JWT with the app's key, trades it for an
installation token at the fake GitHub, and every issue or pull-request call carries that
token; a handoff mints its own token for `git push` and the PR API."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tack.errors import TrackerError
from tack.forge import publish_handoff
from tack.tracker import build_tracker
from tack.tracker.base import Issue
from tack.tracker.github import GitHubTracker
from tests.conftest import git
from tests.tracker_remote.conftest import branch_with_remote, write_workflow
from tests.tracker_remote.fake_apis import FakeApis, gh_issue

REPO = "octo-org/widgets"


@pytest.fixture(scope="module")
def app_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def pem(app_key: rsa.RSAPrivateKey, fake: FakeApis, monkeypatch: pytest.MonkeyPatch) -> str:
    text = app_key.private_bytes(serialization.Encoding.PEM,
                                 serialization.PrivateFormat.TraditionalOpenSSL,
                                 serialization.NoEncryption()).decode()
    fake.app_public_key = app_key.public_key()
    monkeypatch.setenv("GH_APP_KEY", text)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    return text


def _workflow(tmp_path: Path, fake: FakeApis, app: str) -> str:
    return f"""
tracker:
  kind: github
  endpoint: {fake.url}
  provider:
    repo: {REPO}
    retry_base_ms: 20
    app: {app}
"""


async def test_an_app_installation_token_authenticates_every_issue_call(
    tmp_path: Path, fake: FakeApis, pem: str
) -> None:
    fake.gh_issues[1] = gh_issue(REPO, 1, "Fix the login redirect")
    cfg = write_workflow(tmp_path, _workflow(
        tmp_path, fake, "{app_id: 4242, installation_id: 77, private_key: $GH_APP_KEY}"))
    tracker = build_tracker(cfg.tracker, tack_dir=tmp_path / ".tack")
    assert isinstance(tracker, GitHubTracker)
    try:
        assert [i.id for i in await tracker.fetch_issues_by_states(["Todo"])] == ["1"]
        moved = await tracker.move("1", "Human Review")
        await tracker.comment("1", "Ready for review.")
    finally:
        await tracker.close()
    assert moved.state == "Human Review"
    # One JWT-signed token request (issuer = the app id), reused for every later call.
    [request] = fake.app_token_requests
    assert request["installation_id"] == 77 and str(request["iss"]) == "4242"
    assert request["exp"] - request["iat"] <= 600
    [token] = fake.installation_tokens
    assert fake.hits["POST /app/installations/77/access_tokens"] == 1
    issue_auth = {a for a in fake.auth_headers if not a.startswith("Bearer ")}
    assert issue_auth == {f"token {token}"}
    assert fake.gh_comments[1][0]["body"] == "Ready for review."
    assert pem not in repr(tracker.app)


async def test_the_key_can_come_from_a_file_and_a_wrong_key_is_refused(
    tmp_path: Path, fake: FakeApis, pem: str
) -> None:
    fake.gh_issues[1] = gh_issue(REPO, 1, "One")
    key_file = tmp_path / "app.pem"
    key_file.write_text(pem)
    cfg = write_workflow(tmp_path, _workflow(
        tmp_path, fake, f"{{app_id: 4242, installation_id: 77, private_key_path: {key_file}}}"))
    tracker = build_tracker(cfg.tracker, tack_dir=tmp_path / ".tack")
    try:
        assert len(await tracker.fetch_issues_by_states(["Todo"])) == 1
    finally:
        await tracker.close()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file.write_text(other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode())
    tracker = build_tracker(cfg.tracker, tack_dir=tmp_path / ".tack")
    try:
        with pytest.raises(TrackerError) as err:
            await tracker.fetch_issues_by_states(["Todo"])
    finally:
        await tracker.close()
    assert "refused the credentials" in err.value.message and "401" in err.value.message
    assert "tracker.provider.app" in err.value.message
    assert len(fake.app_token_requests) == 1  # the forged JWT got no token


@pytest.mark.parametrize(("app", "named"), [
    ("{app_id: 4242, private_key: $GH_APP_KEY}", "tracker.provider.app.installation_id"),
    ("{installation_id: 7, private_key: $GH_APP_KEY}", "tracker.provider.app.app_id"),
    ("{app_id: 4242, installation_id: 7}", "tracker.provider.app.private_key"),
    ("{app_id: 4242, installation_id: 7, private_key: $GH_APP_UNSET}",
     "tracker.provider.app.private_key"),
    ("{app_id: 4242, installation_id: 7, private_key_path: /nonexistent/app.pem}",
     "tracker.provider.app.private_key_path"),
    ("{app_id: 4242, installation_id: 7, private_key: not-a-pem}", "not PEM text"),
    ("{app_id: 4242, installation_id: 7, private_key: $GH_APP_KEY, key: x}", "unknown key key"),
])
def test_a_bad_app_setting_names_the_key(
    tmp_path: Path, fake: FakeApis, pem: str, monkeypatch: pytest.MonkeyPatch,
    app: str, named: str
) -> None:
    monkeypatch.delenv("GH_APP_UNSET", raising=False)
    cfg = write_workflow(tmp_path, _workflow(tmp_path, fake, app))
    with pytest.raises(TrackerError) as err:
        build_tracker(cfg.tracker, tack_dir=tmp_path / ".tack")
    assert named in err.value.message and "WORKFLOW.md" in err.value.message
    assert pem not in err.value.message


async def test_a_handoff_with_pull_requests_app_mints_an_installation_token(
    tmp_path: Path, fake: FakeApis, pem: str, git_repo: Path
) -> None:
    remote = branch_with_remote(git_repo, tmp_path, "tack/one", "one.py", "ONE = 1\n", "Add one")
    cfg = write_workflow(tmp_path, f"""
tracker: {{kind: local}}
pull_requests:
  forge: github
  repo: o/r
  endpoint: {fake.url}
  app: {{app_id: 99, installation_id: 5, private_key: $GH_APP_KEY}}
""")
    issue = Issue(id="1", identifier="TACK-1", title="Add one", state="Todo")
    handoff = await publish_handoff(cfg, git_repo, "tack/one", issue, {})
    assert handoff.created and handoff.number == 100
    assert git(remote, "rev-parse", "refs/heads/tack/one").strip() == handoff.commit
    [request] = fake.app_token_requests
    assert request["installation_id"] == 5 and str(request["iss"]) == "99"
    [token] = fake.installation_tokens
    # The PR calls carry the minted installation token, never the app's JWT.
    assert {a for a in fake.auth_headers if not a.startswith("Bearer ")} == {f"token {token}"}
    assert fake.hits["POST /repos/o/r/pulls"] == 1
