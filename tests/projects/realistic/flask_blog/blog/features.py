"""Feature flags, from the environment (set per deployment)."""

import os


def comments_moderated() -> bool:
    return os.environ.get("BLOG_MODERATE_COMMENTS", "0") == "1"
