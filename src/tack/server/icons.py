"""Inline SVG icons: no emoji and no icon font, so a machine without either still shows them.
Paths are drawn on a 24-unit grid with `currentColor`, so they follow the text colour (light
and dark mode); every icon is `aria-hidden`, the text or label beside it says what it means."""

from __future__ import annotations

from markupsafe import Markup

_PATHS = {
    "thumb-up": "M7 10v11H3V10h4zm2 11h8.3a2 2 0 0 0 2-1.6l1.5-7A2 2 0 0 0 18.8 10H14l.9-4.4"
                "a1.5 1.5 0 0 0-2.8-1L9 10v11z",
    "thumb-down": "M17 14V3h4v11h-4zm-2-11H6.7a2 2 0 0 0-2 1.6l-1.5 7A2 2 0 0 0 5.2 14H10l-.9 4.4"
                  "a1.5 1.5 0 0 0 2.8 1L15 14V3z",
    "stop": "M6 6h12v12H6z",
    "retry": "M4 12a8 8 0 0 1 13.7-5.7L20 4v6h-6l2.3-2.3A6 6 0 1 0 18 12h2a8 8 0 0 1-16 0z",
    "check": "M9 16.2 4.8 12l-1.4 1.4L9 19 21 7l-1.4-1.4z",
    "cross": "M18.3 5.7 12 12l6.3 6.3-1.4 1.4L12 13.4l-6.3 6.3-1.4-1.4L10.6 12 4.3 5.7l1.4-1.4"
             "L12 10.6l6.3-6.3z",
    "question": "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm1 17h-2v-2h2v2zm2.1-7.8-.9.9"
                "C13.5 12.9 13 13.5 13 15h-2v-.5c0-1.1.5-2.1 1.2-2.8l1.2-1.3A2 2 0 1 0 10 9H8"
                "a4 4 0 1 1 7.1 2.2z",
}


def icon(name: str) -> Markup:
    return Markup(
        '<svg class="icon" width="16" height="16" viewBox="0 0 24 24" aria-hidden="true" '
        f'focusable="false"><path fill="currentColor" d="{_PATHS[name]}"/></svg>'
    )
