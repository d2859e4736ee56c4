from tests.dashboard.helpers import admin_browser  # noqa: F401  (fixture)
