from tests.dashboard.helpers import admin_browser  # noqa: F401  (fixture)
from tests.factories import new_account  # noqa: F401  (fixture)
from tests.fixtures.workers import workers  # noqa: F401  (fixture)
