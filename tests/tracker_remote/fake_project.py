"""A GitHub Projects v2 board behind the fake `/graphql`: `repositoryOwner.projectV2` with a
single-select Status field, cursor-paged items (issues, a draft issue and a pull request), and
the `addProjectV2ItemById` / `updateProjectV2ItemFieldValue` mutations, shaped like GitHub's
GraphQL schema (ProjectV2, ProjectV2Item, ProjectV2SingleSelectField, PageInfo).
"""

from __future__ import annotations

from typing import Any


class FakeBoard:
    def __init__(self, owner: str, number: int, repo: str,
                 options: tuple[str, ...] = ("Todo", "In Progress", "Human Review", "Done")
                 ) -> None:
        self.owner, self.number, self.repo = owner, number, repo
        self.options = [{"id": f"opt_{i}", "name": name} for i, name in enumerate(options)]
        self.items: list[dict[str, Any]] = []
        self.mutations: list[dict[str, Any]] = []

    def add(self, number: int, status: str | None, *, repo: str | None = None,
            kind: str = "Issue") -> dict[str, Any]:
        item = {"id": f"PVTI_{len(self.items)}", "isArchived": False, "_status": status,
                "type": "ISSUE" if kind == "Issue" else kind.upper(),
                "content": {"__typename": kind, "number": number,
                            "repository": {"nameWithOwner": repo or self.repo}}}
        if kind == "DraftIssue":
            item["content"] = {"__typename": "DraftIssue", "title": "an idea"}
        self.items.append(item)
        return item

    def status_of(self, number: int) -> str | None:
        return next((i["_status"] for i in self.items
                     if i["content"].get("number") == number
                     and i["content"]["__typename"] == "Issue"), None)

    def _item_view(self, item: dict[str, Any], field: str) -> dict[str, Any]:
        status = item["_status"]
        value = None
        if field == "Status" and status is not None:
            option = next(o for o in self.options if o["name"] == status)
            value = {"__typename": "ProjectV2ItemFieldSingleSelectValue", "name": status,
                     "optionId": option["id"]}
        content = {k: v for k, v in item["content"].items() if k != "__typename"}
        if item["content"]["__typename"] == "DraftIssue":
            content = {}  # the query's `... on Issue` selects nothing on a draft
        return {"id": item["id"], "isArchived": item["isArchived"],
                "fieldValueByName": value, "content": content}

    def handle(self, query: str, v: dict[str, Any]) -> dict[str, Any]:
        """The GraphQL response body for one of Tack's board operations."""
        if "TackProjectItems" in query:
            if v["owner"] != self.owner or v["number"] != self.number:
                return {"data": {"repositoryOwner": {"projectV2": None}},
                        "errors": [{"type": "NOT_FOUND", "path": ["repositoryOwner", "projectV2"],
                                    "message": f"Could not resolve to a ProjectV2 with the "
                                               f"number {v['number']}."}]}
            field = None
            if v["field"] == "Status":
                field = {"id": "PVTSSF_status", "name": "Status", "options": self.options}
            start = int(v["after"]) if v.get("after") else 0
            chunk = self.items[start : start + v["first"]]
            more = start + v["first"] < len(self.items)
            return {"data": {"repositoryOwner": {"projectV2": {
                "id": "PVT_board", "field": field,
                "items": {"nodes": [self._item_view(i, v["field"]) for i in chunk],
                          "pageInfo": {"hasNextPage": more,
                                       "endCursor": str(start + v["first"]) if more else None}},
            }}}}
        if "TackProjectAdd" in query:
            self.mutations.append({"add": v})
            number = int(str(v["contentId"]).split("_")[-1])
            item = self.add(number, None)
            return {"data": {"addProjectV2ItemById": {"item": {"id": item["id"]}}}}
        if "TackProjectMove" in query:
            self.mutations.append({"set": v})
            assert v["projectId"] == "PVT_board" and v["fieldId"] == "PVTSSF_status"
            item = next(i for i in self.items if i["id"] == v["itemId"])
            item["_status"] = next(o["name"] for o in self.options if o["id"] == v["optionId"])
            return {"data": {"updateProjectV2ItemFieldValue": {"projectV2Item": {
                "id": item["id"]}}}}
        return {"errors": [{"message": "Field 'x' doesn't exist",
                            "extensions": {"code": "undefinedField"}}]}
