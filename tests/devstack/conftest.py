import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "devstack: runs the whole system with `python -m devstack up` (deselect: -m 'not devstack')"
    )
