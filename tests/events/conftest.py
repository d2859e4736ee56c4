from tests.fixtures.workers import workers  # noqa: F401  (fixture)
