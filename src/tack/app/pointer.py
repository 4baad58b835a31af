"""Clicks and hovers without Playwright's actionability wait.

Playwright waits before a pointer action until the element is visible, enabled, *stable*
(unmoved across two animation frames, ~35 ms even for a still page) and the target of a
hit test, and retries until the action timeout. An agent acts on a page it has just
looked at, so Tack checks once, in one round trip that also finds the element's centre,
and sends the mouse there (or, inside a frame, acts with `force=True`); a
hidden, disabled or covered element is refused at once with the reason, instead of after
a five-second wait.
"""

from __future__ import annotations

from playwright.async_api import Locator

from tack.app.home import AppError

# Scrolls the element into view, then says why it cannot take a click, or where to click.
_WHY_NOT = """el => {
  if (!el.isConnected) return {why: 'it is no longer on the page'};
  const style = getComputedStyle(el);
  const rect = el.getBoundingClientRect();
  if (style.visibility !== 'visible' || rect.width === 0 || rect.height === 0 ||
      el.closest('[inert]')) return {why: 'it is hidden'};
  if (el.matches(':disabled') || el.closest('[aria-disabled="true"]'))
    return {why: 'it is disabled'};
  el.scrollIntoView({block: 'center', inline: 'center', behavior: 'instant'});
  const box = el.getBoundingClientRect();
  const x = box.left + box.width / 2, y = box.top + box.height / 2;
  let hit = document.elementFromPoint(x, y);
  while (hit && hit.shadowRoot) {
    const inner = hit.shadowRoot.elementFromPoint(x, y);
    if (!inner || inner === hit) break;
    hit = inner;
  }
  if (hit && hit !== el && !el.contains(hit) && !(hit.getRootNode().host &&
      el.contains(hit.getRootNode().host))) {
    const name = hit.id ? '#' + hit.id : hit.tagName.toLowerCase();
    return {why: 'it is covered by ' + name + ' (' +
                 (hit.textContent || '').trim().slice(0, 40) + ')'};
  }
  return {why: '', x, y, top: window === window.top};
}"""


async def point_at(locator: Locator, verb: str, target: str) -> None:
    """Click or hover `locator`; AppError naming the reason when it cannot take it."""
    spot = await locator.evaluate(_WHY_NOT)
    if spot["why"]:
        raise AppError(f"cannot {verb} {target}: {spot['why']}. Take a new `tack app snapshot` "
                       "to see the page as it is now; wait for it with `tack app wait` if it "
                       "is still loading.")
    if spot["top"]:  # the point is the page's own: the mouse goes there directly
        mouse = locator.page.mouse
        await (mouse.click if verb == "click" else mouse.move)(spot["x"], spot["y"])
    elif verb == "click":  # inside a frame: Playwright maps the point to the page
        await locator.click(force=True)
    else:
        await locator.hover(force=True)
