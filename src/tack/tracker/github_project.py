"""A GitHub Projects v2 board as the `github` tracker's state source: each issue's state is
its item's single-select Status value, read over GraphQL; a move updates that field
(`updateProjectV2ItemFieldValue`), adding the issue to the board first when it is not on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tack.errors import TrackerError
from tack.tracker.http import ApiClient, RetryPolicy
from tack.workflow.config import normalize_state

ITEMS = """
query TackProjectItems($owner: String!, $number: Int!, $field: String!, $first: Int!,
                       $after: String) {
  repositoryOwner(login: $owner) {
    ... on ProjectV2Owner {
      projectV2(number: $number) {
        id
        field(name: $field) {
          ... on ProjectV2SingleSelectField { id name options { id name } }
        }
        items(first: $first, after: $after) {
          nodes {
            id
            isArchived
            fieldValueByName(name: $field) {
              ... on ProjectV2ItemFieldSingleSelectValue { name optionId }
            }
            content { ... on Issue { number repository { nameWithOwner } } }
          }
          pageInfo { hasNextPage endCursor }
        }
      }
    }
  }
}"""
ADD_ITEM = """
mutation TackProjectAdd($projectId: ID!, $contentId: ID!) {
  addProjectV2ItemById(input: {projectId: $projectId, contentId: $contentId}) { item { id } }
}"""
SET_STATUS = """
mutation TackProjectMove($projectId: ID!, $itemId: ID!, $fieldId: ID!, $optionId: String!) {
  updateProjectV2ItemFieldValue(input: {projectId: $projectId, itemId: $itemId,
      fieldId: $fieldId, value: {singleSelectOptionId: $optionId}}) {
    projectV2Item { id }
  }
}"""


@dataclass
class BoardSnapshot:
    project_id: str
    field_id: str
    options: dict[str, tuple[str, str]]  # normalised name -> (option id, name)
    items: dict[int, tuple[str, str | None]]  # issue number -> (item id, status or None)


def parse_project(value: Any) -> tuple[str, int]:
    """`tracker.provider.project` as (owner, number), with an error that shows the form."""
    if isinstance(value, dict):
        owner, number = value.get("owner"), value.get("number")
        if isinstance(owner, str) and owner.strip() and isinstance(number, int) and \
                not isinstance(number, bool) and number > 0:
            return owner.strip(), number
    raise TrackerError(
        f"tracker.provider.project {value!r} in WORKFLOW.md is not a Projects v2 board. Write "
        "the owner (user or organization) and the number from the board's URL, for example "
        "`project: {owner: octo-org, number: 5}` for github.com/orgs/octo-org/projects/5.",
        code="invalid_tracker_config",
    )


def graphql_url(rest_endpoint: str) -> str:
    # github.com: api.github.com/graphql; GitHub Enterprise: <host>/api/v3 -> <host>/api/graphql.
    if rest_endpoint.endswith("/api/v3"):
        return rest_endpoint[: -len("/v3")] + "/graphql"
    return rest_endpoint + "/graphql"


class ProjectBoard:
    """One board's Status field, for the issues of one repository."""

    def __init__(self, *, owner: str, number: int, repo: str, token: str, endpoint: str,
                 field: str = "Status", policy: RetryPolicy | None = None,
                 page_size: int = 100) -> None:
        self.owner, self.number, self.repo, self.field = owner, number, repo, field
        self.url = graphql_url(endpoint)
        self.page_size = page_size
        self.api = ApiClient(
            provider="GitHub", base_url=endpoint, policy=policy,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "tack"},
            auth_hint=("A Projects v2 board also needs the token to read and write projects "
                       "(fine-grained: Projects read/write on the owner; classic: `project`)."),
        )

    @property
    def where(self) -> str:
        return f"project {self.number} of {self.owner}"

    async def read(self) -> BoardSnapshot:
        """Every item of the board that is an issue of `repo`, with its Status (paginated)."""
        items: dict[int, tuple[str, str | None]] = {}
        after: str | None = None
        snapshot: BoardSnapshot | None = None
        for _ in range(10_000):
            data = await self.api.graphql(self.url, ITEMS, {
                "owner": self.owner, "number": self.number, "field": self.field,
                "first": self.page_size, "after": after})
            project = (data.get("repositoryOwner") or {}).get("projectV2")
            if project is None:
                raise TrackerError(
                    f"GitHub has no {self.where} visible to this token. Check "
                    "tracker.provider.project in WORKFLOW.md and the token's project access.",
                    code="tracker_status")
            field = project.get("field") or {}
            if not field.get("id") or not isinstance(field.get("options"), list):
                raise TrackerError(
                    f"The {self.where} has no single-select field named {self.field!r}. Set "
                    "tracker.provider.status_field to the board's status column field.",
                    code="invalid_tracker_config")
            if snapshot is None:
                snapshot = BoardSnapshot(
                    project_id=str(project["id"]), field_id=str(field["id"]),
                    options={normalize_state(o["name"]): (str(o["id"]), str(o["name"]))
                             for o in field["options"]},
                    items=items)
            page = project.get("items") or {}
            for node in page.get("nodes") or []:
                content = (node or {}).get("content") or {}
                repo = (content.get("repository") or {}).get("nameWithOwner", "")
                if node.get("isArchived") or not isinstance(content.get("number"), int) or \
                        repo.lower() != self.repo.lower():
                    continue  # drafts, pull requests, other repositories, archived items
                status = (node.get("fieldValueByName") or {}).get("name")
                items[content["number"]] = (str(node["id"]), status)
            info = page.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                assert snapshot is not None
                return snapshot
            after = info.get("endCursor")
        raise TrackerError(f"Pagination of the {self.where} did not end.",
                           code="tracker_pagination")

    async def move(self, number: int, node_id: str, state: str) -> str:
        """Set issue `number`'s Status to `state`; returns the option's own spelling."""
        board = await self.read()
        option = board.options.get(normalize_state(state))
        if option is None:
            names = ", ".join(name for _, name in board.options.values())
            raise TrackerError(
                f"The {self.where} has no {self.field} option {state!r}; options: {names}. "
                "Use one of them, or add the option to the board.",
                code="invalid_state")
        item = board.items.get(number)
        item_id = item[0] if item else None
        if item_id is None:
            added = await self.api.graphql(self.url, ADD_ITEM, {
                "projectId": board.project_id, "contentId": node_id})
            item_id = str(added["addProjectV2ItemById"]["item"]["id"])
        await self.api.graphql(self.url, SET_STATUS, {
            "projectId": board.project_id, "itemId": item_id, "fieldId": board.field_id,
            "optionId": option[0]})
        return option[1]

    async def aclose(self) -> None:
        await self.api.aclose()
